"""Connections to the platform database, shared by assets, the CLI and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy needs the driver named; psycopg (3) is the one installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """psycopg, psql and dbt want a plain libpq URL without the SQLAlchemy driver suffix."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection that commits on success and rolls back on error, then closes."""
    with psycopg.connect(libpq_url(url), autocommit=autocommit, application_name="greenhouse") as conn:
        yield conn
