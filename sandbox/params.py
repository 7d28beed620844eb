"""Request body parsing without python-multipart: the real token endpoints take application/x-www-form-urlencoded,
and a client that sends JSON there must fail as it would against the platform."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from fastapi import Request


class Params:
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        found = self._values.get(name)
        return found[0] if found else None

    def getlist(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def __contains__(self, name: str) -> bool:
        return name in self._values


def _from_json(raw: bytes) -> dict[str, list[str]]:
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("JSON body must be an object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, list):
            out[key] = [str(v) for v in value]
        elif value is not None:
            out[key] = [value if isinstance(value, str) else json.dumps(value)]
    return out


async def body_params(request: Request, *, allow_json: bool = False) -> Params | None:
    """Form (or, where the platform accepts it, JSON) body as Params; None if the content type is not accepted."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if ctype == "application/x-www-form-urlencoded":
        return Params(parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if allow_json and ctype == "application/json":
        try:
            return Params(_from_json(raw))
        except ValueError:
            return None
    if not raw and allow_json:
        return Params({})
    return None


def query_params(request: Request) -> Params:
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    return Params(values)
