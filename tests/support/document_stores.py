"""The API on each document store: souls and accounts in SQL (next to the mappings) or on the Firestore emulator (as in
production, where no transaction spans the two stores). Import `api` / `document_settings` into a test module:

    from tests.support.document_stores import api as _api
    from tests.support.document_stores import document_settings as _document_settings
    api, document_settings = _api, _document_settings
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, ApiFactory


@pytest.fixture(params=["sql", "firestore"])
async def document_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings that put the document side on one store; the Firestore emulator starts empty."""
    if request.param == "sql":
        return {}
    emulator = request.getfixturevalue("firestore_emulator")
    await emulator.reset_async()
    return {"document_store": "firestore", "firestore_emulator_host": emulator.host}


@pytest.fixture
async def api(api_factory: ApiFactory, document_settings: dict[str, Any]) -> Api:
    return await api_factory(**document_settings)
