"""Every table of the relational store, for Alembic and the tests (importing the modules registers their tables)."""

from __future__ import annotations

from adapters.sql import channel_tables, identity_tables, publishing_tables, tables, webhook_tables

metadata = tables.metadata

__all__ = ["channel_tables", "identity_tables", "metadata", "publishing_tables", "tables", "webhook_tables"]
