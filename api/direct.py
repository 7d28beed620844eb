"""Routes whose requests skip FastAPI's general dependency solver when they need nothing it alone can do.

FastAPI 0.165 spends more CPU solving the dependencies of `GET /axon/accounts/{id}` (a path parameter, the principal,
the container) than reading the account: it recomputes cache keys, scope checks and parameter lists of every
dependency on every request. A route here looks at its own signature once, at start: when it has no body, query,
header or cookie parameters, and each dependency is a plain `async def f(request)`, its requests are answered by a
handler that validates the path parameters with pydantic, awaits those dependencies and serializes the response
model, which is what the general solver does for such a route, at a third of the cost. Any other route, and every
route while `app.dependency_overrides` holds something, takes FastAPI's own handler; the OpenAPI document is the
same either way, built from the same signature.
"""

from __future__ import annotations

import email.message
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import HTTPException, Request, Response, params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from starlette.convertors import FloatConvertor, IntegerConvertor, StringConvertor, UUIDConvertor
from starlette.routing import Match
from starlette.types import Scope

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_OTHER_SPECIAL_PARAMS = (
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


_ONE_SEGMENT = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)


class DirectRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # The shape of the paths this route can match: what comes before its first parameter, what comes after its
        # last, and how many slashes in all (a parameter of these types holds none; a `:path` one can).
        template = self.path_format
        self._literal_start = template.split("{", 1)[0]
        self._literal_end = template.rsplit("}", 1)[1] if "{" in template else ""
        spans_segments = not all(isinstance(c, _ONE_SEGMENT) for c in self.param_convertors.values())
        self._slashes = -1 if spans_segments else template.count("/")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """The router tries every route in turn, each with a regex and scope bookkeeping (a microsecond apiece, with
        GET /axon/accounts/{id} tenth in line, after the warming routes that share its start). Three string checks
        of the path's shape rule out nearly all of them first. Left to FastAPI when the path is relative to a root
        path or the route is reached through an included router."""
        if scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            if (
                not path.startswith(self._literal_start)
                or not path.endswith(self._literal_end)
                or (self._slashes >= 0 and path.count("/") != self._slashes)
            ) and (scope.get("fastapi") or {}).get("effective_route_context") is None:
                return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Handler:
        general = super().get_route_handler()
        direct = _direct_handler(self, general)
        self.answers_directly = direct is not None
        return direct or general


def _plain_request_dependency(dependant: Dependant) -> bool:
    """`async def f(request)`: nothing to validate, nothing to clean up, so it can simply be awaited."""
    call = dependant.call
    return (
        call is not None
        and inspect.iscoroutinefunction(call)
        and dependant.request_param_name is not None
        and not _has_parameters(dependant)
        and not dependant.dependencies
        and not dependant.own_oauth_scopes
    )


def _has_parameters(dependant: Dependant, *, body: bool = True) -> bool:
    return bool(
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or (body and dependant.body_params)
        or any(getattr(dependant, name, None) is not None for name in _OTHER_SPECIAL_PARAMS)
    )


class _JsonBody:
    """The one JSON body of a route, read and checked as FastAPI reads and checks a single, not embedded, body."""

    def __init__(self, field: Any, strict_content_type: bool) -> None:
        self.name: str = field.name
        self._validator = _validator(field.field_info)
        self._required = field.field_info.is_required()
        self._strict = strict_content_type

    @staticmethod
    def of(route: APIRoute) -> _JsonBody | bool | None:
        """None: the route has no body; False: it has one this module does not read (form, embedded, several)."""
        fields = route.dependant.body_params
        if not fields:
            return None
        strict = getattr(route, "strict_content_type", None)
        strict = strict.value if isinstance(strict, DefaultPlaceholder) else strict
        info = fields[0].field_info
        if (
            len(fields) != 1
            or type(info) is not params.Body
            or getattr(info, "embed", None)
            or getattr(route, "_embed_body_fields", True) is not False
            or not isinstance(strict, bool)
        ):
            return False
        return _JsonBody(fields[0], strict)

    async def read(self, request: Request) -> Any:
        """The body as FastAPI hands it to validation: parsed JSON when it says it is JSON, else its bytes."""
        raw = await request.body()
        if not raw:
            return _MISSING
        content_type = request.headers.get("content-type")
        if content_type is None:
            is_json = not self._strict
        else:
            message = email.message.Message()
            message["content-type"] = content_type
            subtype = message.get_content_subtype()
            is_json = message.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")
            )
        if not is_json:
            return raw
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {},
                     "ctx": {"error": exc.msg}}  # fmt: skip
            raise RequestValidationError([error], body=exc.doc) from exc
        except ValueError as exc:  # not UTF-8 text, say
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc

    def validate(self, body: Any, values: dict[str, Any], errors: list[Any]) -> None:
        if body is _MISSING:
            if self._required:
                errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
                return
            body = None
        try:
            values[self.name] = self._validator.validate_python(body, from_attributes=True)
        except ValidationError as exc:
            errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]


_MISSING = object()


def _validator(info: FieldInfo) -> TypeAdapter[Any]:
    """The parameter's type with its declared constraints (`Path(max_length=64)`, say), as FastAPI checks them."""
    annotated: Any = Annotated[info.annotation, info]
    return TypeAdapter(annotated)


def _direct_handler(route: APIRoute, general: Handler) -> Handler | None:
    dependant = route.dependant
    endpoint = dependant.call
    body = _JsonBody.of(route)
    plain = all(_plain_request_dependency(d) for d in dependant.dependencies)
    if (
        endpoint is None
        or not inspect.iscoroutinefunction(endpoint)
        or _has_parameters(dependant, body=False)
        or body is False
        or not plain
        or len({d.call for d in dependant.dependencies}) != len(dependant.dependencies)
        or route.response_model is None
        or not isinstance(route.response_class, DefaultPlaceholder)
        or route.status_code not in (None, 200, 201)
        or route.response_model_include is not None
        or route.response_model_exclude is not None
    ):
        return None
    paths: list[tuple[str, str, TypeAdapter[Any]]] = [
        (field.name, field.alias, _validator(field.field_info)) for field in dependant.path_params
    ]
    resolvers: list[tuple[str | None, Callable[[Request], Awaitable[Any]]]] = [
        (d.name, d.call) for d in dependant.dependencies if d.call is not None
    ]
    request_name = dependant.request_param_name
    model = route.response_model
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    by_alias = route.response_model_by_alias
    exclude_unset = route.response_model_exclude_unset
    exclude_defaults = route.response_model_exclude_defaults
    exclude_none = route.response_model_exclude_none
    status_code = route.status_code or 200
    overrides = route.dependency_overrides_provider
    json_body = body if isinstance(body, _JsonBody) else None

    async def handle(request: Request) -> Response:
        if overrides is not None and getattr(overrides, "dependency_overrides", None):
            return await general(request)
        # FastAPI's order: the body is read first (malformed JSON is a 422 even before authentication), then the
        # dependencies, then every parameter is checked and all their errors answered together.
        received = await json_body.read(request) if json_body else None
        values: dict[str, Any] = {}
        # Dependencies first, in declaration order, then the parameters, as FastAPI does: a request that is not
        # authenticated is a 401 whatever its path says.
        for name, resolve in resolvers:
            value = await resolve(request)
            if name is not None:
                values[name] = value
        errors: list[Any] = []
        raw = request.path_params
        for name, alias, validator in paths:
            try:
                values[name] = validator.validate_python(raw[alias])
            except ValidationError as exc:
                errors += [{**e, "loc": ("path", alias, *e["loc"])} for e in exc.errors(include_url=False)]
        if json_body:
            json_body.validate(received, values, errors)
        if errors:
            raise RequestValidationError(errors)
        if request_name is not None:
            values[request_name] = request
        result = await endpoint(**values)
        if isinstance(result, Response):
            return result
        if type(result) is not model:  # an instance of the model itself is valid already
            result = adapter.validate_python(result, from_attributes=True)
        content = adapter.dump_json(
            result,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )
        return Response(content, status_code=status_code, media_type="application/json")

    return handle
