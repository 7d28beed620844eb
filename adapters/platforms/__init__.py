"""PlatformConnector implementations for the eight networks (see domain/channels/connectors.py, PLATFORMS.md)."""
