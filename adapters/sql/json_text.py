"""JSON text read back from the database (the JSON columns: credentials, metrics, settings, mapping lists).

pydantic_core's parser reads a small document in a tenth of the time `json.loads` takes, and an account read parses
three of them. It refuses what Python's own encoder can write and parser can read back, a lone surrogate (escaped,
`"\\ud800"`, or as is), from a str that held one: such text goes to `json.loads`, so every stored value reads back as
before, and text that is not JSON fails with the same error as before.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json


def loads(text: str | bytes) -> Any:
    try:
        return from_json(text)
    except (ValueError, TypeError):  # TypeError: a str holding a lone surrogate itself cannot be read as UTF-8
        return json.loads(text)
