"""Mastodon: the publishing side of the imitation (stub, to be written). Registered with sandbox.registry."""

from __future__ import annotations
