"""Dependencies point inward: the domain imports no adapter, API, workflow or activity code; workflows import no
web or database code (they run in Temporal's sandbox)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("domain", ("api", "adapters", "workflows", "activities", "worker", "settings", "fastapi", "sqlalchemy")),
        ("workflows", ("api", "adapters", "fastapi", "uvicorn", "sqlalchemy", "sqlmodel", "httpx")),
        ("activities", ("api", "fastapi")),
    ],
)
def test_layer_does_not_import_outer_layers(package: str, forbidden: tuple[str, ...]) -> None:
    violations = {
        module: sorted(n for n in names if n.split(".")[0] in forbidden) for module, names in _imports(package).items()
    }
    assert {m: v for m, v in violations.items() if v} == {}
