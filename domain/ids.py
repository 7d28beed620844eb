from __future__ import annotations

import uuid


def new_id() -> str:
    """A new identifier: a random UUID in its canonical text form."""
    return str(uuid.uuid4())
