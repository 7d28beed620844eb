"""Routes answered by api.direct answer exactly as FastAPI's own handler would, and only routes it can serve take it."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends
from fastapi.routing import APIRoute
from starlette.routing import Match

from api.direct import DirectRoute
from api.main import create_app
from tests.conftest import Api


def _general(_: Any = None) -> None:
    """Overridden in one app only: any dependency override sends every request to FastAPI's own handler."""


@asynccontextmanager
async def _client(api: Api, *, general: bool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container=api.container)
    if general:
        app.dependency_overrides[_general] = _general
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def _direct_routes(api: Api) -> dict[tuple[str, str], bool]:
    app = create_app(container=api.container)
    return {
        (method, route.path): getattr(route, "answers_directly", False)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


async def test_direct_answers_are_the_same_as_fastapis_own(api: Api) -> None:
    owner = await api.register()
    other = await api.register(org="Other")
    h = owner["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Nova"}, headers=h)).json()
    account = (
        await api.http.post(
            "/axon/accounts",
            json={"soulId": soul["id"], "platform": "x", "handle": "nova", "credentials": {"password": "pw"}},
            headers=h,
        )
    ).json()
    requests: list[tuple[str, dict[str, str]]] = [
        (f"/axon/accounts/{account['id']}", h),
        (f"/axon/souls/{soul['id']}", h),
        (f"/axon/accounts/{account['id']}", other["headers"]),  # another organization's: 404
        ("/axon/accounts/" + "a" * 65, h),  # longer than the path parameter allows: 422 naming it
        ("/axon/accounts/" + "a" * 65, {}),  # not authenticated: 401 whatever the path says
        (f"/axon/accounts/{account['id']}", {"Authorization": "Bearer nonsense"}),
        ("/health/live", {}),
    ]
    async with _client(api, general=False) as direct, _client(api, general=True) as general:
        for path, headers in requests:
            ours, theirs = await direct.get(path, headers=headers), await general.get(path, headers=headers)
            assert (ours.status_code, ours.headers, ours.content) == (
                theirs.status_code,
                theirs.headers,
                theirs.content,
            ), path
    statuses = [(await api.http.get(path, headers=headers)).status_code for path, headers in requests]
    assert statuses == [200, 200, 404, 422, 401, 401, 200]


async def test_only_routes_with_path_parameters_and_one_json_body_at_most_answer_directly(api: Api) -> None:
    routes = _direct_routes(api)
    assert routes["GET", "/axon/accounts/{account_id}"]
    assert routes["GET", "/axon/souls/{soul_id}"]
    assert routes["GET", "/health/live"]
    assert not routes["GET", "/axon/accounts"]  # query parameters and the page dependency
    assert routes["POST", "/axon/accounts"]  # one JSON body
    assert routes["POST", "/axon/matrix/mappings/toggle"]
    assert not routes["DELETE", "/axon/accounts/{account_id}"]  # no response model: 204


def test_a_route_with_a_dependency_that_takes_more_than_the_request_is_left_to_fastapi() -> None:
    async def needs_query(limit: int = 3) -> int:
        return limit

    async def endpoint(value: int = 0) -> dict[str, int]:
        return {"value": value}

    async def with_query(value: int = Depends(needs_query)) -> dict[str, int]:
        return {"value": value}

    plain = DirectRoute("/plain/{value}", endpoint, response_model=dict[str, int])
    nested = DirectRoute("/nested", with_query, response_model=dict[str, int])
    assert plain.answers_directly
    assert not nested.answers_directly


def _shape(response: httpx.Response) -> object:
    """A write's answer without what differs between two writes (ids, times); an error's answer whole."""
    if response.status_code >= 400:
        return response.status_code, response.headers.get("content-type"), response.content
    body = response.json()
    return response.status_code, sorted(body) if isinstance(body, dict) else body


async def test_direct_answers_to_bodies_are_the_same_as_fastapis_own(api: Api) -> None:
    owner = await api.register()
    h = owner["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Nova"}, headers=h)).json()
    json_h = {**h, "Content-Type": "application/json"}
    requests: list[tuple[str, str, dict[str, str], bytes]] = [
        ("POST", "/axon/souls", json_h, b'{"name": "Vega"}'),
        ("POST", "/axon/souls", {**h, "Content-Type": "application/merge-patch+json"}, b'{"name": "Lyra"}'),
        ("POST", "/axon/souls", json_h, b'{"name": '),  # malformed JSON: 422 naming where
        ("POST", "/axon/souls", {"Content-Type": "application/json"}, b'{"name": '),  # ... even unauthenticated
        ("POST", "/axon/souls", {"Content-Type": "application/json"}, b'{"name": "x"}'),  # 401
        ("POST", "/axon/souls", json_h, b""),  # no body: 422 body missing
        ("POST", "/axon/souls", json_h, b"null"),
        ("POST", "/axon/souls", json_h, b"[1, 2]"),
        ("POST", "/axon/souls", json_h, b'{"name": "", "unknown": 1}'),
        ("POST", "/axon/souls", {**h, "Content-Type": "text/plain"}, b'{"name": "Vega"}'),
        ("POST", "/axon/souls", h, b'{"name": "Vega"}'),  # no content type at all
        ("POST", "/axon/souls", json_h, b'{"name": "\xff"}'),  # not UTF-8
        ("PATCH", f"/axon/souls/{soul['id']}", json_h, b'{"description": "d"}'),
        ("PATCH", "/axon/souls/" + "s" * 65, json_h, b'{"status": "nope"}'),  # path and body errors together
        ("POST", "/axon/matrix/mappings/toggle", json_h, b'{"soulId": "missing", "integrationId": "missing"}'),
    ]
    async with _client(api, general=False) as direct, _client(api, general=True) as general:
        for method, path, headers, content in requests:
            ours = await direct.request(method, path, headers=headers, content=content)
            theirs = await general.request(method, path, headers=headers, content=content)
            assert _shape(ours) == _shape(theirs), (method, path, content)
    statuses = [
        (await api.http.request(method, path, headers=headers, content=content)).status_code
        for method, path, headers, content in requests
    ]
    assert statuses == [201, 201, 422, 422, 401, 422, 422, 422, 422, 422, 422, 400, 200, 422, 422]


def _paths_near(template: str) -> list[str]:
    """Request paths of a route's own shape and of shapes next to it: a segment more or less, a trailing slash."""
    filled = re.sub(r"{[^}]*}", "x1", template)
    return [filled, filled + "/", filled + "/extra", filled.rsplit("/", 1)[0], "/extra" + filled, filled + "x"]


def test_the_shape_check_matches_exactly_what_the_route_pattern_matches(api: Api) -> None:
    app = create_app(container=api.container)
    routes = [route for route in app.routes if isinstance(route, DirectRoute)]
    templates = {route.path_format for route in routes} | {"/", "/axon", "/axon/accounts//x1", "/health/live/"}
    paths = sorted({path for template in templates for path in _paths_near(template)})
    compared = 0
    for route in routes:
        for path in paths:
            for method in ("GET", "POST"):
                for root_path in ("", "/api"):
                    scope = {"type": "http", "path": root_path + path, "root_path": root_path, "method": method}
                    ours = route.matches(dict(scope))
                    assert ours == APIRoute.matches(route, dict(scope)), (route.path_format, path, method, root_path)
                    compared += ours[0] is not Match.NONE
    assert compared >= 2 * len(routes)  # every route matched its own paths, with and without a root path


async def test_fastapis_own_pages_come_last_and_still_answer(api: Api) -> None:
    app = create_app(container=api.container)
    pages = [route for route in app.routes if not isinstance(route, APIRoute)]
    assert {getattr(route, "path", None) for route in pages} == {
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
    assert app.routes[-len(pages) :] == pages  # tried after every API route
    for page in pages:
        path: str = getattr(page, "path", "")
        scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        assert all(route.matches(dict(scope))[0] is Match.NONE for route in app.routes if route not in pages), path
    async with _client(api, general=False) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 200, path


def test_routes_that_answer_the_same_request_come_from_one_router_most_specific_first(api: Api) -> None:
    """So the order api.main tries the routers in (the most read first) changes no answer: where two routes match
    one request (`/integrations/social/bluesky/connect` and `/integrations/social/{provider}/connect`), both are of
    one router, which declares the specific one first. Each parameter is tried with a plain value and with every
    literal segment any route has at its position."""
    app = create_app(container=api.container)
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    literals: dict[int, set[str]] = {}
    for route in routes:
        for i, segment in enumerate(route.path_format.split("/")):
            if "{" not in segment:
                literals.setdefault(i, set()).add(segment)
    checked = overlaps = 0
    for route in routes:
        choices = [
            [segment] if "{" not in segment else sorted(literals.get(i, set()) - {""} | {"x1"})
            for i, segment in enumerate(route.path_format.split("/"))
        ]
        for path in {"/".join(parts) for parts in itertools.product(*choices)}:
            for method in route.methods or ():
                scope = {"type": "http", "path": path, "root_path": "", "method": method}
                full = [r for r in routes if r.matches(dict(scope))[0] is Match.FULL]
                assert len({r.endpoint.__module__ for r in full}) == 1, (method, path, [r.path_format for r in full])
                assert full[0].path_format.count("{") == min(r.path_format.count("{") for r in full), (method, path)
                checked += 1
                overlaps += len(full) > 1
    assert checked >= len(routes)
    assert overlaps  # the check above met the case it is about
