"""Ids Firestore refuses as document ids (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields)
name no record here: the emulator the tests run takes some of them, so the rules are checked here too."""

from __future__ import annotations

import pytest

from adapters.firestore.common import NO_SUCH_DOCUMENT, document_id


@pytest.mark.parametrize("refused", ["", ".", "..", "__x__", "____", "a/b", "/", "é" * 751])
def test_ids_firestore_refuses_name_no_document(refused: str) -> None:
    assert document_id(refused) == NO_SUCH_DOCUMENT


@pytest.mark.parametrize("kept", ["3f2b0c1e-9a4d-4c55-8f0e-2b9d1a7c6e10", "__x", "x__", "___", "...", "a.b", "é" * 750])
def test_other_ids_are_kept(kept: str) -> None:
    assert document_id(kept) == kept
