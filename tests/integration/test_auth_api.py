from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api, ApiFactory


async def test_register_creates_organization_and_owner(api: Api) -> None:
    owner = await api.register(email="Founder@Example.com", org="Brand House")
    assert owner["tokenType"] == "bearer"
    assert owner["expiresIn"] == api.container.settings.access_token_ttl_s
    me = (await api.http.get("/auth/me", headers=owner["headers"])).json()
    assert me["email"] == "founder@example.com"  # normalised
    assert me["role"] == "owner"
    assert me["organization"]["name"] == "Brand House"
    assert "passwordHash" not in me


async def test_register_with_taken_email_is_409(api: Api) -> None:
    await api.register(email="dup@example.com")
    response = await api.http.post(
        "/auth/register",
        json={
            "email": "DUP@example.com",
            "password": "another password",
            "name": "X",
            "organizationName": "Y",
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_register_rejects_short_password_and_bad_email(api: Api) -> None:
    response = await api.http.post(
        "/auth/register",
        json={"email": "not-an-email", "password": "short", "name": "X", "organizationName": "Y"},
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"email", "password"}


async def test_login_returns_tokens_that_authenticate(api: Api) -> None:
    owner = await api.register()
    response = await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})
    assert response.status_code == 200
    token = response.json()["accessToken"]
    me = await api.http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_failed_login_does_not_reveal_whether_the_email_exists(api: Api) -> None:
    owner = await api.register()
    wrong_password = await api.http.post("/auth/login", json={"email": owner["email"], "password": "wrong one!"})
    unknown_email = await api.http.post("/auth/login", json={"email": "ghost@example.com", "password": "wrong one!"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()


async def test_repeated_failures_for_an_account_answer_429_even_with_the_right_password(
    api_factory: ApiFactory,
) -> None:
    api = await api_factory(login_max_failures_per_account=3, login_cooldown_s=120)
    owner = await api.register()
    for _ in range(3):
        r = await api.http.post("/auth/login", json={"email": owner["email"], "password": "wrong password"})
        assert r.status_code == 401
    locked = await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert 0 < int(locked.headers["Retry-After"]) <= 120


async def test_lockout_ends_after_the_cooling_period(api_factory: ApiFactory) -> None:
    api = await api_factory(login_max_failures_per_account=2, login_cooldown_s=1)
    owner = await api.register()
    for _ in range(2):
        await api.http.post("/auth/login", json={"email": owner["email"], "password": "wrong password"})
    assert (
        await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})
    ).status_code == 429
    await asyncio.sleep(1.2)
    ok = await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})
    assert ok.status_code == 200


async def test_repeated_failures_from_one_client_answer_429_for_any_email(api_factory: ApiFactory) -> None:
    api = await api_factory(login_max_failures_per_client=4, login_max_failures_per_account=100)
    owner = await api.register()
    for i in range(4):
        await api.http.post("/auth/login", json={"email": f"guess{i}@example.com", "password": "wrong password"})
    response = await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})
    assert response.status_code == 429


async def test_refresh_rotates_and_the_old_token_cannot_be_used_again(api: Api) -> None:
    owner = await api.register()
    first = await api.http.post("/auth/refresh", json={"refreshToken": owner["refreshToken"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refreshToken"] != owner["refreshToken"]
    reuse = await api.http.post("/auth/refresh", json={"refreshToken": owner["refreshToken"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_invalid"


async def test_reusing_a_used_refresh_token_revokes_the_whole_family(api: Api) -> None:
    owner = await api.register()
    rotated = (await api.http.post("/auth/refresh", json={"refreshToken": owner["refreshToken"]})).json()
    await api.http.post("/auth/refresh", json={"refreshToken": owner["refreshToken"]})  # the leaked copy
    # The legitimate holder's newer tokens stop working too.
    assert (await api.http.post("/auth/refresh", json={"refreshToken": rotated["refreshToken"]})).status_code == 401
    me = await api.http.get("/auth/me", headers={"Authorization": f"Bearer {rotated['accessToken']}"})
    assert me.status_code == 401
    assert me.json()["code"] == "session_revoked"


async def test_concurrent_refreshes_of_one_token_succeed_at_most_once(api: Api) -> None:
    owner = await api.register()
    results = await asyncio.gather(
        *[api.http.post("/auth/refresh", json={"refreshToken": owner["refreshToken"]}) for _ in range(4)]
    )
    assert sum(r.status_code == 200 for r in results) <= 1


async def test_logout_ends_the_session_for_access_and_refresh_tokens(api: Api) -> None:
    owner = await api.register()
    response = await api.http.post(
        "/auth/logout", headers=owner["headers"], json={"refreshToken": owner["refreshToken"]}
    )
    assert response.status_code == 204
    assert (await api.http.get("/auth/me", headers=owner["headers"])).status_code == 401
    assert (await api.http.post("/auth/refresh", json={"refreshToken": owner["refreshToken"]})).status_code == 401


async def test_logout_keeps_other_sessions(api: Api) -> None:
    owner = await api.register()
    other = (await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})).json()
    await api.http.post("/auth/logout", headers=owner["headers"])
    me = await api.http.get("/auth/me", headers={"Authorization": f"Bearer {other['accessToken']}"})
    assert me.status_code == 200


async def test_token_signed_with_another_secret_is_rejected(api_factory: ApiFactory) -> None:
    issuer = await api_factory(jwt_secret="another-secret-another-secret-0123456789")
    verifier = await api_factory()
    owner = await issuer.register()
    response = await verifier.http.get("/auth/me", headers=owner["headers"])
    assert response.status_code == 401


async def test_logout_reaches_other_api_processes_within_the_auth_cache_ttl(api_factory: ApiFactory) -> None:
    here = await api_factory(auth_cache_ttl_s=0.5)
    elsewhere = await api_factory(auth_cache_ttl_s=0.5)
    owner = await here.register()
    assert (await elsewhere.http.get("/auth/me", headers=owner["headers"])).status_code == 200  # now cached there
    await here.http.post("/auth/logout", headers=owner["headers"])
    assert (await here.http.get("/auth/me", headers=owner["headers"])).status_code == 401  # at once where it happened
    await asyncio.sleep(0.6)
    assert (await elsewhere.http.get("/auth/me", headers=owner["headers"])).status_code == 401


async def test_requests_that_miss_the_principal_cache_together_share_one_lookup(api: Api) -> None:
    """A client's concurrent requests after its cached principal expired resolve it once, not once each."""
    owner = await api.register()
    resolver = api.container.principals
    uows = resolver._uows
    lookups = 0

    def counting_reading() -> Any:
        nonlocal lookups
        lookups += 1
        return uows.reading()

    resolver._uows = type("Counting", (), {"reading": staticmethod(counting_reading), "__call__": uows.__call__})()
    api.container.principals._cache.clear()
    answers = await asyncio.gather(*(api.http.get("/auth/me", headers=owner["headers"]) for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert lookups == 1
    answers = await asyncio.gather(*(api.http.get("/auth/me", headers=owner["headers"]) for _ in range(5)))
    assert lookups == 1  # cached now
    api.container.principals._cache.clear()  # access changed: the next request looks again
    assert (await api.http.get("/auth/me", headers=owner["headers"])).status_code == 200
    assert lookups == 2
    bad = await asyncio.gather(*(api.http.get("/auth/me", headers={"Authorization": "Bearer x.y.z"}) for _ in range(3)))
    assert [b.status_code for b in bad] == [401] * 3
