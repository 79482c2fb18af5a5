"""Preparing a PostgreSQL server for the platform: `greenhouse db up|status` where the server is not ours.

What a deployment needs before its first migration (docker compose's `migrate` service, or any server
named by `DATABASE_URL`): with `GREENHOUSE_ADMIN_URL` (a superuser of that server) the roles and
databases (`bootstrap`); then TimescaleDB available and enabled, and Dagster's database present.
Nothing is installed or started here: the project-local cluster (apt, building TimescaleDB, pg_ctl)
is developer tooling, `greenhouse_dev/localdb.py`, which calls this for its own cluster.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from greenhouse_assets import roles, settings

NOT_RUNNING = 3  # pg_ctl's own exit code for "no server running"; `status` answers the same
# The platform's schemas (migration 0001) and where Alembic keeps its version table (`metadata`).
PLATFORM_SCHEMAS = ("metadata", "staging", "timeseries", "features", "moga")


class SetupError(Exception):
    """A failure with a message meant for the user: what failed and what to do."""


def prepare(database_url: str) -> int:
    """Check (never start) the server named by DATABASE_URL: TimescaleDB available and enabled. With
    `GREENHOUSE_ADMIN_URL` (a superuser of that server), first create the roles and databases."""
    admin = settings.explicit_admin_url()
    if admin and same_server(admin, database_url):
        bootstrap(
            settings.admin_url(),
            platform_db=database_name(database_url, settings.PLATFORM_DB),
            dagster_db=database_name(settings.dagster_database_url(), settings.DAGSTER_DB),
        )
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT installed_version FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        if row is None:
            raise SetupError(
                f"the server at {redact(database_url)} has no TimescaleDB extension "
                "(not in pg_available_extensions). Install TimescaleDB on that server and add it to "
                "shared_preload_libraries, or unset DATABASE_URL so `greenhouse db up` runs the "
                "project-local cluster."
            )
        if row[0] is None:
            _create_extension(conn, database_url)
    _ensure_dagster_database(database_url)
    _say(f"using DATABASE_URL {redact(database_url)}: {versions(database_url)}")
    return 0


def _create_extension(conn: psycopg.Connection, database_url: str) -> None:
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        reason = exc.diag.message_primary or str(exc).strip()
        hint = f"\nserver hint: {exc.diag.message_hint.strip()}" if exc.diag.message_hint else ""
        raise SetupError(
            f"TimescaleDB is available on {redact(database_url)} but could not be enabled: {reason}. "
            "The server needs shared_preload_libraries = 'timescaledb', and a role allowed to do so "
            f"must run CREATE EXTENSION timescaledb in that database.{hint}"
        ) from exc


def _ensure_dagster_database(database_url: str) -> None:
    """Create Dagster's database beside the platform's when missing and when we may; else say so."""
    dagster_url = settings.dagster_database_url()
    if not same_server(database_url, dagster_url):
        connect(dagster_url).close()
        return
    name = conninfo_to_dict(settings.libpq_url(dagster_url)).get("dbname") or settings.DAGSTER_DB
    with connect(database_url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise SetupError(
                f"Dagster's database {name!r} does not exist on {redact(database_url)} and could not "
                f"be created ({str(exc).strip()}). Create it, or set DAGSTER_DATABASE_URL."
            ) from exc
    _say(f"created database {name!r} for Dagster")


def status(database_url: str) -> int:
    try:
        answer = versions(database_url)
    except SetupError as exc:
        _say(f"DATABASE_URL {redact(database_url)} does not answer: {exc}")
        return NOT_RUNNING
    _say(f"DATABASE_URL {redact(database_url)} answers: {answer}")
    return 0


def bootstrap(admin_url: str, *, platform_db: str, dagster_db: str) -> None:
    """What only the cluster administrator may do, idempotently: the roles (roles.py), the platform database
    owned by `greenhouse_owner` with TimescaleDB enabled, Dagster's owned by `greenhouse_dagster`. A
    database migrated before the roles existed is handed over: what superusers own in its schemas goes to
    the owner (migration 0011 then gives the pipeline its schemas), Dagster's tables to Dagster's role."""
    with psycopg.connect(settings.libpq_url(settings.with_database(admin_url, "postgres")), connect_timeout=10) as conn:
        roles.ensure_roles(conn)
    with connect(settings.with_database(admin_url, "postgres")) as conn:
        for name, role in ((platform_db, "owner"), (dagster_db, "dagster")):
            if roles.ensure_database(conn, name, settings.ROLES[role]):
                _say(f"created database {name!r} (owner {settings.ROLES[role]})")
    with connect(settings.with_database(admin_url, platform_db)) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        if handed := roles.adopt(conn, list(PLATFORM_SCHEMAS), settings.ROLES["owner"]):
            _say(f"handed {handed} objects of database {platform_db!r} to {settings.ROLES['owner']}")
    with connect(settings.with_database(admin_url, dagster_db)) as conn:
        roles.adopt(conn, ["public"], settings.ROLES["dagster"])


def versions(database_url: str) -> str:
    with connect(database_url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return f"PostgreSQL {server.split()[0]}, TimescaleDB {row[0] if row else 'not enabled'}"


def connect(database_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(settings.libpq_url(database_url), autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise SetupError(f"cannot connect to {redact(database_url)}: {str(exc).strip()}") from exc


def redact(database_url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", database_url)


def database_name(url: str, default: str) -> str:
    return conninfo_to_dict(settings.libpq_url(url)).get("dbname") or default


def same_server(a: str, b: str) -> bool:
    one, two = conninfo_to_dict(settings.libpq_url(a)), conninfo_to_dict(settings.libpq_url(b))
    return all(one.get(key) == two.get(key) for key in ("host", "hostaddr", "port"))


def _say(message: str) -> None:
    print(message, flush=True)
