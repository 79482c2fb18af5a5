"""Connections to the platform database, shared by assets, the CLI and migrations (URL forms: settings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import psycopg

from greenhouse_assets.settings import libpq_url, where

# Server-side SQLSTATEs of a server going away or not yet taking connections: admin_shutdown,
# crash_shutdown, cannot_connect_now. Class 08 (connection_exception) means the same.
_SERVER_GONE = {"57P01", "57P02", "57P03"}


class DatabaseUnavailable(psycopg.OperationalError):
    """The server refused or dropped the connection (down, restarting, unreachable, or rejecting the
    connection settings): nothing in the data being written is at fault. A psycopg.OperationalError,
    so existing handlers still catch it."""


class Database(Protocol):
    """What domain code is given to reach the platform database: the Postgres resource
    (defs/resources.py) or `At(url)`. It hands out connections; `url` is for the URL forms only."""

    url: str

    def connection(self, *, autocommit: bool = False) -> AbstractContextManager[psycopg.Connection]: ...


class At:
    """A `Database` outside Dagster (CLI, tests): connections to `url`."""

    def __init__(self, url: str) -> None:
        self.url = url

    def connection(self, *, autocommit: bool = False) -> AbstractContextManager[psycopg.Connection]:
        return connect(self.url, autocommit=autocommit)


def lost_connection(error: BaseException) -> BaseException | None:
    """The driver error in `error`'s chain saying the server refused or dropped the connection, if any.

    The deepest one: a transaction whose connection died fails once more when it is rolled back
    ("the connection is lost"), and that second error is the one raised, with the reason as context.
    """
    found, seen = None, set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _is_lost(error):
            found = error
        error = error.__cause__ or error.__context__
    return found


def unavailable(url: str, error: BaseException) -> DatabaseUnavailable:
    """A DatabaseUnavailable for `error` (a refused or lost connection): what happened, to which database, why."""
    lost = lost_connection(error) or error
    message = str(lost).strip()
    # libpq puts context before the reason: "connection to server at ... failed: Connection refused".
    reason = message.splitlines()[0].rsplit(": ", 1)[-1].strip() if message else type(lost).__name__
    verb = "cannot connect to" if message.startswith("connection failed:") else "lost the connection to"
    return DatabaseUnavailable(f"{verb} {where(url)} ({reason})")


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection that commits on success and rolls back on error, then closes.

    A refused or dropped connection raises DatabaseUnavailable, which names the database; libpq's
    own message names only the host, or nothing at all ("server closed the connection unexpectedly").
    """
    try:
        with psycopg.connect(libpq_url(url), autocommit=autocommit, application_name="greenhouse") as conn:
            yield conn
    except DatabaseUnavailable:
        raise
    except psycopg.OperationalError as error:
        if lost_connection(error) is None:
            raise
        raise unavailable(url, error) from error


def _is_lost(error: BaseException) -> bool:
    if not isinstance(error, psycopg.OperationalError):
        return False
    # No SQLSTATE: libpq itself failed (refused, timed out, server gone) or the server turned the
    # connection down at startup (unknown database, bad password): "cannot connect" either way.
    sqlstate = error.sqlstate
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _SERVER_GONE
