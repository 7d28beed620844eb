from __future__ import annotations

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
