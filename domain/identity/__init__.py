"""The identity core: Souls, their Personas, platform Accounts and the Proxies they use."""
