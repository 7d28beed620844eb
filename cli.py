"""Operator commands: `python -m cli migrate | rotate-keys | generate-key KID`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from adapters.crypto.fields import FieldCipher, Keyring, generate_key_spec
from adapters.sql.encrypted_columns import rotate
from adapters.sql.engine import create_engine, session_factory
from adapters.sql.tables import OrganizationRow
from settings import Settings

ROOT = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


async def rotate_keys(settings: Settings) -> int:
    import adapters.sql.schema  # noqa: F401 - registers every table's encrypted columns

    cipher = FieldCipher(Keyring.parse(settings.encryption_keys))
    engine = create_engine(settings.effective_database_url)
    try:
        report = await rotate(session_factory(engine), cipher)
        if settings.document_store == "firestore":
            from adapters.firestore.common import connect
            from adapters.firestore.rotation import rotate_firestore

            async with engine.connect() as conn:
                orgs = list((await conn.execute(select(OrganizationRow.id))).scalars())  # type: ignore[call-overload]
            client = connect(settings.firestore_project, settings.firestore_emulator_host)
            report.per_column["firestore"] = await rotate_firestore(client, orgs, cipher)
            report.rotated += report.per_column["firestore"]
    finally:
        await engine.dispose()
    for column, count in report.per_column.items():
        print(f"{column}: {count} value(s) re-encrypted")
    print(
        f"{report.rotated} value(s) re-encrypted under key {settings.encryption_keys.split(':', 1)[0]!r}; "
        f"{report.examined} record(s) examined"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations up to the newest")
    sub.add_parser("rotate-keys", help="re-encrypt every encrypted field under the primary key")
    gen = sub.add_parser("generate-key", help="print a new kid:base64key entry for ENCRYPTION_KEYS")
    gen.add_argument("kid")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "migrate":
        migrate(settings.effective_database_url)
        return 0
    if args.command == "rotate-keys":
        return asyncio.run(rotate_keys(settings))
    print(generate_key_spec(args.kid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
