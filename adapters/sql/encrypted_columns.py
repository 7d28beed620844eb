"""Where encrypted fields live in the SQL store, so key rotation can find and re-encrypt every one of them.

A column holds either one encrypted value (`{alg, kid, iv, data, tag}`) or a map of them (`{name: value}`, e.g. an
account's credentials). The associated data is `<collection>/<id>` and the field name (`<column>` or
`<column>.<name>`), the same binding the stores use when they write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.crypto.fields import FieldCipher


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: str
    collection: str
    shape: Literal["value", "map"] = "value"
    # The field name bound into the associated data, when it is not the column's name.
    field: str | None = None


# Later stores append their columns here (accounts' credentials, proxies' passwords, integrations' tokens, ...).
REGISTRY: list[EncryptedColumn] = []


def register(column: EncryptedColumn) -> EncryptedColumn:
    if column not in REGISTRY:
        REGISTRY.append(column)
    return column


@dataclass
class RotationReport:
    examined: int = 0
    rotated: int = 0
    per_column: dict[str, int] = field(default_factory=dict)


def _rotate_value(cipher: FieldCipher, stored: Any, record: str, name: str) -> tuple[Any, int]:
    if stored is None:
        return None, 0
    if cipher.needs_rotation(stored):
        return cipher.reencrypt(stored, record=record, field=name), 1
    return stored, 0


async def rotate(
    sessions: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    columns: list[EncryptedColumn] | None = None,
    batch_size: int = 200,
) -> RotationReport:
    """Re-encrypt every value not under the primary key. Batches commit separately; rerunning resumes."""
    report = RotationReport()
    for col in columns if columns is not None else REGISTRY:
        key = f"{col.table.name}.{col.column}"
        report.per_column[key] = 0
        id_col, data_col = col.table.c.id, col.table.c[col.column]
        last_id: str | None = None
        while True:
            async with sessions() as session, session.begin():
                stmt = select(id_col, data_col).order_by(id_col).limit(batch_size)
                if last_id is not None:
                    stmt = stmt.where(id_col > last_id)
                if session.get_bind().dialect.name == "postgresql":
                    stmt = stmt.with_for_update()
                rows = (await session.execute(stmt)).all()
                for row_id, stored in rows:
                    report.examined += 1
                    record = f"{col.collection}/{row_id}"
                    changed = 0
                    if col.shape == "value":
                        new, changed = _rotate_value(cipher, stored, record, col.field or col.column)
                    else:
                        new = dict(stored or {})
                        for name, value in (stored or {}).items():
                            new[name], n = _rotate_value(cipher, value, record, f"{col.field or col.column}.{name}")
                            changed += n
                    if changed:
                        await session.execute(update(col.table).where(id_col == row_id).values({col.column: new}))
                        report.rotated += changed
                        report.per_column[key] += changed
            if len(rows) < batch_size:
                break
            last_id = rows[-1][0]
    return report
