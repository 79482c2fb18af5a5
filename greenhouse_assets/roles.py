"""Roles by duty, created by the cluster administrator before any migration runs.

Roles are cluster-wide, so they are made here, once per cluster, not per database by a migration:
`greenhouse db up` (local cluster or `GREENHOUSE_ADMIN_URL`), docker compose's `migrate` service and
the test session call `ensure_roles`. It holds an advisory lock in the `postgres` database, so
parallel callers (test processes sharing a cluster) take turns, and every step is idempotent.

- `greenhouse_owner` (LOGIN): owns the platform database and the contract schemas; migrations run as
  it. CREATEROLE because migrations set per-database defaults of the platform's roles (0002); never
  superuser. Member of the pipeline role, so a migration can change the tables the pipeline owns.
- `greenhouse_pipeline` (LOGIN): what ingest, dbt, features, MOGA, the sensors and the CLI connect as.
  Member of `greenhouse_writer` (the DML privileges of 0001); migration 0011 gives it the `staging`
  and `timeseries` schemas (the loader creates and widens staging tables; dbt creates and replaces
  its models) and nothing else to create in. No superuser, no CREATEROLE, no CREATEDB.
- `greenhouse_analyst` (LOGIN): read-only (0001/0002), with a statement timeout, an idle-in-transaction
  timeout and a connection limit, so a runaway query or a forgotten session cannot starve the pipeline.
- `greenhouse_dagster` (LOGIN): owns Dagster's own database (runs, event log, schedules) and nothing else.

Passwords: the local cluster trusts loopback connections and needs none; elsewhere each role's
password is set from `GREENHOUSE_<ROLE>_PASSWORD` when that variable is set.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.settings import ROLES

WRITER = "greenhouse_writer"
ANALYST_CONNECTION_LIMIT = 10
ANALYST_STATEMENT_TIMEOUT = "5min"
ANALYST_IDLE_IN_TRANSACTION_TIMEOUT = "5min"
_LOCK = "greenhouse roles"

_ATTRIBUTES = {
    "owner": "LOGIN NOSUPERUSER CREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS",
    "pipeline": "LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS",
    "analyst": f"LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS "
    f"CONNECTION LIMIT {ANALYST_CONNECTION_LIMIT}",
    "dagster": "LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS",
}
# (member, group): the pipeline gets the writer's DML; the owner may act on the pipeline's tables.
_MEMBERSHIPS = [(ROLES["pipeline"], WRITER), (ROLES["owner"], ROLES["pipeline"])]
_ANALYST_SETTINGS = {
    "statement_timeout": ANALYST_STATEMENT_TIMEOUT,
    "idle_in_transaction_session_timeout": ANALYST_IDLE_IN_TRANSACTION_TIMEOUT,
}


def ensure_roles(admin: psycopg.Connection) -> None:
    """Create or update every platform role; `admin` is a superuser's (or CREATEROLE's) connection to
    the `postgres` database, not in autocommit mode (the lock is held until the commit)."""
    admin.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
    _create(admin, WRITER, "NOLOGIN")
    for key, attributes in _ATTRIBUTES.items():
        _create(admin, ROLES[key], attributes)
        admin.execute(sql.SQL("ALTER ROLE {} " + attributes).format(sql.Identifier(ROLES[key])))
        password = settings.role_password(key)
        if password:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLES[key]), sql.Literal(password))
            )
    for member, group in _MEMBERSHIPS:
        if not admin.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (member, group)).fetchone()[0]:
            admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member)))
    for name, value in _ANALYST_SETTINGS.items():
        admin.execute(
            sql.SQL("ALTER ROLE {} SET {} = {}").format(
                sql.Identifier(ROLES["analyst"]), sql.Identifier(name), sql.Literal(value)
            )
        )
    admin.commit()


def _create(admin: psycopg.Connection, role: str, attributes: str) -> None:
    if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        admin.execute(sql.SQL("CREATE ROLE {} " + attributes).format(sql.Identifier(role)))


def ensure_database(admin: psycopg.Connection, name: str, owner: str) -> bool:
    """The database `name` owned by `owner`: created, or handed over when it exists (True when created).
    `admin` is an autocommit connection to another database of the cluster."""
    row = admin.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if row is None:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
        return True
    if row[0] != owner:
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(owner)))
    return False


def adopt(conn: psycopg.Connection, schemas: list[str], owner: str) -> int:
    """Hand `owner` the schemas and what superusers own in them: a database migrated before the roles
    existed belongs to the cluster's superuser, whom no migration should run as. Objects another role
    owns already (the pipeline's tables) keep their owner. Returns the number of objects handed over."""
    superusers = "(SELECT oid FROM pg_roles WHERE rolsuper)"
    statements = [
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(n), sql.Identifier(owner))
        for (n,) in conn.execute(
            f"SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) AND nspowner IN {superusers}", (schemas,)
        )
    ]
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE", "S": "SEQUENCE"}
    relations = conn.execute(
        f"""
        SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind = ANY(%s) AND c.relowner IN {superusers}
          -- a sequence that belongs to a column follows its table
          AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                               AND d.objid = c.oid AND d.deptype IN ('a', 'i')))""",
        (schemas, list(kinds)),
    ).fetchall()
    statements += [
        sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kinds[k]), sql.Identifier(n, r), sql.Identifier(owner))
        for n, r, k in relations
    ]
    functions = conn.execute(
        f"""
        SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY(%s) AND p.proowner IN {superusers}""",
        (schemas,),
    ).fetchall()
    statements += [
        sql.SQL("ALTER ROUTINE {} OWNER TO {}").format(sql.SQL(f), sql.Identifier(owner)) for (f,) in functions
    ]
    for statement in statements:
        conn.execute(statement)
    return len(statements)
