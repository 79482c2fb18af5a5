"""Alembic environment: runs the contract-schema migrations against the platform database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from greenhouse_assets import settings
from greenhouse_assets.settings import sqlalchemy_url

config = context.config
url = config.attributes.get("url") or settings.owner_url()

# The version table lives in `metadata`, next to the rest of the platform's bookkeeping.
VERSION_SCHEMA = "metadata"


def run_migrations_online() -> None:
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{VERSION_SCHEMA}"')
        connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=VERSION_SCHEMA,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run `greenhouse migrate` against a database")
run_migrations_online()
