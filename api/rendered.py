"""The JSON body of a response, rendered once per domain object.

The SQL stores hand every reader of an unchanged row the same frozen domain object (RawReader in
adapters.sql.identity.common). Its response model and JSON are then functions of that object alone, so they are kept
with it: a read of an unchanged account skips the response model's validation and serialization (about a quarter of
the CPU of GET /axon/accounts/{id}) and sends the bytes rendered for the first. A changed row is a new object, hence a
new rendering. The route still declares its response model, which documents it and guards what it may say (an account's
credentials only as a summary); the bytes are that model's JSON, as FastAPI would write it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel, TypeAdapter

D = TypeVar("D")
M = TypeVar("M", bound=BaseModel)

# Objects remembered per route (the stores remember 1,024 rows per reader).
REMEMBERED = 1024


class Rendered(Generic[D, M]):
    def __init__(self, model: type[M], of: Callable[[D], M]) -> None:
        """`of(domain object)`: the response model of a frozen domain object, a function of the object alone."""
        self._of = of
        self._adapter: TypeAdapter[M] = TypeAdapter(model)
        # id(object) -> (object, JSON): the entry holds the object, so its id cannot be reused meanwhile.
        self._bodies: dict[int, tuple[Any, bytes]] = {}

    def response(self, item: D) -> Response:
        known = self._bodies.get(id(item))
        if known is not None:  # the entry holds its object alive, so this id is still that object's
            body = known[1]
        else:
            # by_alias, nothing excluded: what FastAPI writes for the route's response_model.
            body = self._adapter.dump_json(self._of(item), by_alias=True)
            if len(self._bodies) >= REMEMBERED:
                del self._bodies[next(iter(self._bodies))]  # the object remembered longest ago
            self._bodies[id(item)] = (item, body)
        return Response(body, media_type="application/json")
