from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import JSON, Column, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto.fields import DecryptionError, FieldCipher, Keyring, generate_key_spec
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
