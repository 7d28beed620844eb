"""Typed custom search attributes (all Keyword; ids only, never secrets or text: they are not encrypted)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORGANIZATION_ID = SearchAttributeKey.for_keyword("OrganizationId")
SOUL_ID = SearchAttributeKey.for_keyword("SoulId")
ACCOUNT_ID = SearchAttributeKey.for_keyword("AccountId")
INTEGRATION_ID = SearchAttributeKey.for_keyword("IntegrationId")
PLATFORM = SearchAttributeKey.for_keyword("Platform")
POST_STATE = SearchAttributeKey.for_keyword("PostState")

ALL = (ORGANIZATION_ID, SOUL_ID, ACCOUNT_ID, INTEGRATION_ID, PLATFORM, POST_STATE)
