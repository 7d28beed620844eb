from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import JSON, Column, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto.fields import DecryptionError, FieldCipher, Keyring, generate_key_spec
from adapters.firestore.common import connect
from adapters.firestore.rotation import rotate_firestore
from adapters.sql.encrypted_columns import EncryptedColumn, rotate
from adapters.sql.engine import session_factory

K_OLD = generate_key_spec("old")
K_NEW = generate_key_spec("new")

_meta = MetaData()
# A table of the test's own, shaped like the stores' encrypted columns: one value, and a map of values.
vault = Table(
    "rotation_test_vault",
    _meta,
    Column("id", String(36), primary_key=True),
    Column("secret", JSON, nullable=True),
    Column("credentials", JSON, nullable=True),
)
COLUMNS = [
    EncryptedColumn(vault, "secret", "vaults"),
    EncryptedColumn(vault, "credentials", "vaults", shape="map"),
]


@pytest.fixture
async def vault_table(engine: AsyncEngine) -> AsyncIterator[Table]:
    async with engine.begin() as conn:
        await conn.run_sync(_meta.create_all)
    yield vault
    async with engine.begin() as conn:
        await conn.run_sync(_meta.drop_all)


async def test_rotation_reencrypts_every_value_under_the_primary_key(engine: AsyncEngine, vault_table: Table) -> None:
    old = FieldCipher(Keyring.parse(K_OLD))
    rows = []
    for i in range(25):
        rid = f"v{i:03d}"
        rows.append(
            {
                "id": rid,
                "secret": old.encrypt(f"secret-{i}", record=f"vaults/{rid}", field="secret") if i % 5 else None,
                "credentials": {
                    "password": old.encrypt(f"pw-{i}", record=f"vaults/{rid}", field="credentials.password"),
                    "apiKey": old.encrypt(f"key-{i}", record=f"vaults/{rid}", field="credentials.apiKey"),
                },
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(vault_table), rows)

    both = FieldCipher(Keyring.parse(f"{K_NEW},{K_OLD}"))
    report = await rotate(session_factory(engine), both, COLUMNS, batch_size=7)
    assert report.rotated == 20 + 50
    assert report.per_column == {"rotation_test_vault.secret": 20, "rotation_test_vault.credentials": 50}

    only_new = FieldCipher(Keyring.parse(K_NEW))
    async with engine.connect() as conn:
        stored = (await conn.execute(select(vault_table).order_by(vault_table.c.id))).all()
    for i, (rid, secret, creds) in enumerate(stored):
        if secret is not None:
            assert secret["kid"] == "new"
            assert only_new.decrypt_str(secret, record=f"vaults/{rid}", field="secret") == f"secret-{i}"
        assert (
            only_new.decrypt_str(creds["password"], record=f"vaults/{rid}", field="credentials.password") == f"pw-{i}"
        )
        with pytest.raises(DecryptionError):  # still bound to its record after rotation
            only_new.decrypt(creds["apiKey"], record="vaults/other", field="credentials.apiKey")

    again = await rotate(session_factory(engine), both, COLUMNS, batch_size=7)
    assert again.rotated == 0


async def _seed_sealed(api: Any) -> tuple[dict[str, str], str, str]:
    h = (await api.register())["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Rotate"}, headers=h)).json()
    proxy = (
        await api.http.post(
            "/axon/proxies",
            headers=h,
            json={
                "name": "p",
                "type": "isp",
                "protocol": "http",
                "host": "10.0.0.2",
                "port": 3128,
                "credentials": {"username": "u", "password": api.secret("rotating-proxy-pass")},
            },
        )
    ).json()
    account = (
        await api.http.post(
            "/axon/accounts",
            headers=h,
            json={
                "soulId": soul["id"],
                "platform": "tiktok",
                "handle": "rotating",
                "proxyId": proxy["id"],
                "credentials": {"password": api.secret("rotating-pass"), "backupCodes": ["code-a", "code-b"]},
            },
        )
    ).json()
    return h, account["id"], proxy["id"]


async def _assert_readable_with_new_key_only(
    api_factory: Any, h: dict[str, str], account_id: str, proxy_id: str, **overrides: Any
) -> None:
    only_new = await api_factory(encryption_keys=K_NEW, **overrides)
    revealed = await only_new.http.post(f"/axon/accounts/{account_id}/credentials/reveal", headers=h)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["credentials"] == {"password": "rotating-pass", "backupCodes": ["code-a", "code-b"]}
    proxy = await only_new.http.post(f"/axon/proxies/{proxy_id}/credentials/reveal", headers=h)
    assert proxy.json()["password"] == "rotating-proxy-pass"


async def test_rotation_covers_account_credentials_and_proxy_passwords_in_sql(
    api_factory: Any, clean_db: AsyncEngine
) -> None:
    api = await api_factory(encryption_keys=K_OLD)
    h, account_id, proxy_id = await _seed_sealed(api)
    report = await rotate(session_factory(clean_db), FieldCipher(Keyring.parse(f"{K_NEW},{K_OLD}")))
    assert report.per_column["account.credentials"] == 2
    assert report.per_column["proxy.password"] == 1
    await _assert_readable_with_new_key_only(api_factory, h, account_id, proxy_id)


async def test_rotation_covers_the_firestore_document_store(
    api_factory: Any, firestore_emulator: Any, firestore_store_factory: Any, clean_db: AsyncEngine
) -> None:
    await firestore_store_factory()
    on_firestore = {"document_store": "firestore", "firestore_emulator_host": firestore_emulator.host}
    api = await api_factory(encryption_keys=K_OLD, **on_firestore)
    h, account_id, proxy_id = await _seed_sealed(api)
    client = connect("souls-local", firestore_emulator.host)
    me = (await api.http.get("/auth/me", headers=h)).json()
    rotated = await rotate_firestore(client, [me["organization"]["id"]], FieldCipher(Keyring.parse(f"{K_NEW},{K_OLD}")))
    assert rotated == 3
    assert await rotate_firestore(client, [me["organization"]["id"]], FieldCipher(Keyring.parse(K_NEW))) == 0
    await _assert_readable_with_new_key_only(api_factory, h, account_id, proxy_id, **on_firestore)
