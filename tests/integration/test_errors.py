from __future__ import annotations

from typing import Any

from api.schemas import Problem
from tests.conftest import Api, ApiFactory


def _is_problem(response: object) -> None:
    body = response.json()  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert set(body) >= {"type", "title", "status", "detail", "code"}
    assert body["status"] == response.status_code  # type: ignore[attr-defined]


async def test_unknown_route_answers_problem_json_404(api: Api) -> None:
    response = await api.http.get("/nowhere")
    assert response.status_code == 404
    _is_problem(response)
    assert response.json()["code"] == "not_found"


async def test_wrong_method_answers_problem_json_405(api: Api) -> None:
    response = await api.http.delete("/auth/login")
    assert response.status_code == 405
    _is_problem(response)


async def test_malformed_json_body_is_422_not_500(api: Api) -> None:
    response = await api.http.post("/auth/login", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    _is_problem(response)
    assert response.json()["errors"] == [
        {"field": "body", "message": "The body is not valid JSON: Expecting property name enclosed in double quotes "
                                     "(character 1)."}
    ]  # fmt: skip


async def test_missing_and_unknown_fields_are_named(api: Api) -> None:
    response = await api.http.post("/auth/register", json={"email": "a@example.com", "passwrd": "x" * 12})
    assert response.status_code == 422
    _is_problem(response)
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"password", "name", "organizationName", "passwrd"} <= fields


async def test_unauthenticated_request_is_401_problem(api: Api) -> None:
    response = await api.http.get("/auth/me")
    assert response.status_code == 401
    _is_problem(response)
    assert response.json()["code"] == "not_authenticated"


async def test_garbage_bearer_token_is_401(api: Api) -> None:
    response = await api.http.get("/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


async def test_an_api_key_with_a_foreign_authorization_scheme_gets_in_but_not_with_a_bad_bearer(api: Api) -> None:
    owner = await api.register()
    created = await api.http.post("/auth/api-keys", json={"name": "ci"}, headers=owner["headers"])
    key = created.json()["key"]
    behind_a_proxy = await api.http.get("/auth/me", headers={"X-API-Key": key, "Authorization": "Basic dTpw"})
    assert behind_a_proxy.status_code == 200
    assert behind_a_proxy.json()["actorType"] == "api_key"
    bad_bearer = await api.http.get("/auth/me", headers={"X-API-Key": key, "Authorization": "Bearer nonsense"})
    assert bad_bearer.status_code == 401


async def test_bad_cursor_is_422_naming_cursor(api: Api) -> None:
    owner = await api.register()
    response = await api.http.get("/auth/users?cursor=%%%", headers=owner["headers"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_an_unreachable_database_answers_503_not_500(api: Api, api_factory: ApiFactory) -> None:
    owner = await api.register()
    down = await api_factory(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    response = await down.http.get("/auth/me", headers=owner["headers"])
    assert response.status_code == 503
    _is_problem(response)
    assert response.json()["code"] == "database_unavailable"


async def test_every_error_answer_is_one_the_openapi_document_declares(api: Api) -> None:
    """Clients generated from /openapi.json see the answers the API gives: each status below is declared for its
    operation, as application/problem+json with the Problem schema."""
    document = (await api.http.get("/openapi.json")).json()
    owner = await api.register()
    h = owner["headers"]
    created = await api.http.post("/auth/api-keys", json={"name": "member", "role": "member"}, headers=h)
    member = {"X-API-Key": created.json()["key"]}
    soul = (await api.http.post("/axon/souls", json={"name": "Declared"}, headers=h)).json()
    bad_utf8 = {"content": b'{"name": "\x80"}', "headers": {**h, "content-type": "application/json"}}
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("get", "/axon/accounts/{account_id}", "/axon/accounts/missing", {"headers": h}, 404),
        ("patch", "/axon/souls/{soul_id}", f"/axon/souls/{soul['id']}", {"json": {"name": None}, "headers": h}, 422),
        ("post", "/axon/souls", "/axon/souls", bad_utf8, 400),
        ("get", "/auth/me", "/auth/me", {}, 401),
        ("post", "/auth/login", "/auth/login", {"json": {"email": owner["email"], "password": "wrong"}}, 401),
        ("post", "/auth/register", "/auth/register", {"json": {"email": owner["email"], "password": "x" * 16,
                                                                "name": "Twice", "organizationName": "Twice"}}, 409),
        ("patch", "/axon/organization/settings", "/axon/organization/settings",
         {"json": {"allowDirectPublishing": True}, "headers": member}, 403),
    ]  # fmt: skip
    for method, template, path, request, expected in cases:
        response = await api.http.request(method.upper(), path, **request)
        assert response.status_code == expected, (method, path, response.text)
        declared = document["paths"][template][method]["responses"]
        assert str(expected) in declared, (method, template, expected, sorted(declared))
        media_type = response.headers["content-type"].split(";")[0]
        assert list(declared[str(expected)]["content"]) == [media_type] == ["application/problem+json"]
        assert declared[str(expected)]["content"][media_type]["schema"] == {"$ref": "#/components/schemas/Problem"}
        Problem.model_validate(response.json())


async def test_a_wrong_method_lists_every_method_of_the_path_in_allow(api: Api) -> None:
    # Starlette names only the first route's methods: GET /axon/accounts would have hidden its POST.
    response = await api.http.request("OPTIONS", "/axon/accounts")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    response = await api.http.request("OPTIONS", "/axon/accounts/some-id")
    assert response.headers["allow"] == "DELETE, GET, PATCH, PUT"


async def test_the_nul_character_is_refused_where_it_is_on_every_store(api: Api) -> None:
    """PostgreSQL text cannot hold U+0000: a body carrying one was a 500 there (SQLite kept it)."""
    h = (await api.register())["headers"]
    cases = [
        ("/axon/souls", {"name": "Bad\x00name"}, "name"),
        ("/axon/souls", {"name": "Fine", "metadata": {"tier": ["gold", "x\x00"]}}, "metadata.tier.1"),
        ("/axon/souls", {"name": "Fine", "metadata": {"k\x00": 1}}, "metadata.k\x00"),
        ("/axon/matrix/mappings", {"soulId": "s", "integrationId": "M\x00"}, "integrationId"),
        ("/axon/posts", {"soulId": "\x00"}, "soulId"),
    ]
    for path, body, field in cases:
        response = await api.http.post(path, json=body, headers=h)
        assert response.status_code == 422, response.text
        assert (response.json()["code"], response.json()["errors"][0]["field"]) == ("nul_character", field)
    soul = (await api.http.post("/axon/souls", json={"name": "Fine"}, headers=h)).json()
    started = await api.http.post(f"/axon/accounts/{soul['id']}/warming/start", json={"plan": "\x00"}, headers=h)
    assert started.status_code == 422
    assert "NUL" in started.json()["detail"]
    # In a path or a query: PostgreSQL refuses the text (422); SQLite finds no such record (404) or no rows.
    postgres = api.container.engine.dialect.name == "postgresql"
    by_path = await api.http.get("/axon/souls/a%00b", headers=h)
    assert (by_path.status_code, by_path.json()["code"]) == (
        (422, "nul_character") if postgres else (404, "soul_not_found")
    )
    by_query = await api.http.get("/axon/accounts?soulId=a%00b", headers=h)
    assert by_query.status_code == (422 if postgres else 200), by_query.text
