"""Replay of committed workflow histories (tests/replay/histories, written by `python -m tests.replay.capture`) against
the workflows as worker.py registers them: a change to workflow code that running executions depend on, made without
`workflow.patched`, fails here instead of in production."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from adapters.temporal.client import data_converter
from settings import Settings
from tests.replay.altered import AlteredAutoLinkWorkflow
from tests.replay.capture import HISTORIES, SCENARIOS, SUBMITTED_SECRETS, readable
from worker import WORKFLOWS

# The sandbox's OAuth tokens ("at_…", "rt_…", 24 random bytes): none may be in a history, whatever its value was.
_SANDBOX_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[ar]t_[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
# Top level: the current code's histories; subfolders: earlier generations kept by `capture --keep-as NAME`.
_FILES = sorted(HISTORIES.rglob("*.json"))
_IDS = [str(p.relative_to(HISTORIES).with_suffix("")) for p in _FILES]


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _history(path: Path) -> WorkflowHistory:
    document = _load(path)
    return WorkflowHistory.from_json(document["workflowId"], document["history"])


def _encodings(value: Any) -> set[str]:
    """The `encoding` of every payload in a history document."""
    if isinstance(value, list):
        return {e for v in value for e in _encodings(v)}
    if not isinstance(value, dict):
        return set()
    found = {e for v in value.values() for e in _encodings(v)}
    metadata = value.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("encoding"), str):
        found.add(base64.b64decode(metadata["encoding"]).decode())
    return found


def _replayer(*workflows: type) -> Replayer:
    # The production converter (pydantic + the AES-GCM codec under any key): the committed payloads are plain, which
    # the codec passes through, so replay needs no key.
    settings = Settings(environment="test")
    return Replayer(workflows=list(workflows or WORKFLOWS), data_converter=data_converter(settings))


def test_every_scenario_has_a_committed_history() -> None:
    assert sorted(p.stem for p in HISTORIES.glob("*.json")) == sorted(SCENARIOS), "run `python -m tests.replay.capture`"


@pytest.mark.parametrize("path", _FILES, ids=_IDS)
async def test_a_committed_history_replays_without_nondeterminism(path: Path) -> None:
    history = _history(path)
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, (
        f"{path.name} no longer replays: {result.replay_failure!r}. If the change is intended, guard it with "
        "workflow.patched(...) so running executions keep their old path, then recapture with "
        "`python -m tests.replay.capture --keep-as NAME`."
    )
    last = _load(path)["history"]["events"][-1]["eventType"]
    assert last in ("EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED", "WorkflowExecutionCompleted"), (
        "the capture recorded the whole run, so replay checks every command the workflow issued"
    )


@pytest.mark.parametrize("path", _FILES, ids=_IDS)
def test_a_committed_history_is_plain_and_holds_no_secret(path: Path) -> None:
    document = _load(path)
    # Committed decoded, so a reviewer can read them and the replay needs no key.
    encodings = _encodings(document["history"])
    assert "json/plain" in encodings
    assert encodings <= {"json/plain", "binary/null"}
    text = readable(document["history"])
    assert [s for s in SUBMITTED_SECRETS if s in text] == []
    assert _SANDBOX_TOKEN.findall(text) == []


async def test_a_changed_workflow_fails_replay() -> None:
    history = _history(HISTORIES / "autolink_links_the_account.json")
    result = await _replayer(AlteredAutoLinkWorkflow).replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError)
