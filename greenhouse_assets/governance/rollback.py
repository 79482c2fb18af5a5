"""Rollback by file version: which versions a path has, and putting it back to one of them.

A path (inside the landing folder) has one version per distinct content received for it; at most
one is active, and only active versions reach `timeseries.measurements`. Rolling back changes which
one that is (`metadata.set_file_active`, the same function ingestion uses), in one transaction with
its audit row, under the staging load's lock of the source so a rollback and a load never interleave.
The rows themselves are never deleted: a rolled-back version can be put back the same way.

What follows is the ordinary automation: the caller reports the changed versions' staging partitions
as updated, the dbt models run on that (`on_new_data`), record the time spans they recomputed, and
the features sensor recomputes those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import class_row

from greenhouse_assets import catalog
from greenhouse_assets.governance import audit
from greenhouse_assets.ingest.pipeline import landing_relative
from greenhouse_assets.ingest.staging import SCHEMA, table_name

# A version whose rows were staged: the only kind that can be the active one.
STAGED = ("loaded", "deactivated")


class RollbackError(ValueError):
    """The target names no file version, or the rollback asked for cannot be done; says which and why."""


@dataclass(frozen=True)
class Version:
    file_id: int
    source: str
    path: str
    version: int
    status: str
    is_active: bool
    rows_staged: int | None
    received_at: datetime
    excluded_by_check: str | None
    duplicate_of: int | None
    partition_key: str | None

    @property
    def state(self) -> str:
        """What `greenhouse files` shows: active, inactive (rolled back or superseded), or why it never was."""
        if self.status == "duplicate":
            return f"duplicate of {self.duplicate_of}"
        if self.excluded_by_check and self.status in STAGED:
            return f"excluded ({self.excluded_by_check})"
        if self.status == "loaded":
            return "active" if self.is_active else "inactive"
        return {"deactivated": "inactive"}.get(self.status, self.status)


@dataclass(frozen=True)
class Rollback:
    """What a rollback did: the version now active (None: the path has none), the ones it deactivated."""

    source: str
    path: str
    activated: Version | None
    deactivated: list[Version]

    def summary(self) -> str:
        left = ", ".join(f"version {v.version} (file {v.file_id})" for v in self.deactivated) or "nothing"
        now = (
            f"version {self.activated.version} (file {self.activated.file_id}) is active"
            if self.activated
            else "no version is active"
        )
        return f"{self.path}: deactivated {left}; {now}"


_COLUMNS = (
    "file_id, source, path, version, status, is_active, rows_staged, received_at, excluded_by_check, "
    "duplicate_of, partition_key"
)


def versions(conn: psycopg.Connection, path: str | None = None) -> list[Version]:
    """Every received version (of `path`, if given: as stored, or a file under the landing folder)."""
    with conn.cursor(row_factory=class_row(Version)) as cur:
        if path is None:
            return cur.execute(
                f"SELECT {_COLUMNS} FROM metadata.files ORDER BY source, path, version, file_id"
            ).fetchall()
        return cur.execute(
            f"SELECT {_COLUMNS} FROM metadata.files WHERE path = ANY(%s) ORDER BY source, version, file_id",
            (_path_spellings(path),),
        ).fetchall()


def _path_spellings(path: str) -> list[str]:
    """The path as given, and as ingestion records a file it is given (landing-relative, else absolute)."""
    from greenhouse_assets import settings

    return list(dict.fromkeys([path, landing_relative(Path(path), settings.landing_dir())]))


def _target(conn: psycopg.Connection, target: str) -> tuple[list[Version], Version | None]:
    """The versions of the path `target` names (a file id or a path) and, for a file id, that version."""
    named = None
    if target.strip().isdigit():
        with conn.cursor(row_factory=class_row(Version)) as cur:
            named = cur.execute(f"SELECT {_COLUMNS} FROM metadata.files WHERE file_id = %s", (int(target),)).fetchone()
        if named is None:
            raise RollbackError(f"no file version with id {target} (`greenhouse files` lists them)")
        with conn.cursor(row_factory=class_row(Version)) as cur:
            same_path = cur.execute(
                f"SELECT {_COLUMNS} FROM metadata.files WHERE source = %s AND path = %s ORDER BY version, file_id",
                (named.source, named.path),
            ).fetchall()
        return same_path, named
    same_path = versions(conn, target)
    if not same_path:
        raise RollbackError(f"no file version has the path {target!r} (`greenhouse files` lists them)")
    sources = sorted({v.source for v in same_path})
    if len(sources) > 1:
        raise RollbackError(f"{target!r} names files of several sources ({', '.join(sources)}): give a file id")
    return same_path, None


def plan(conn: psycopg.Connection, target: str, to_version: int | None = None) -> tuple[list[Version], Version | None]:
    """The path's versions, and the one to activate (None: deactivate the active one, leaving none).

    Without `to_version`: the active version (the one `target` names, if a file id) is replaced by the
    newest staged version before it; if there is none, the path is left without an active version.
    Versions excluded by a blocking check are passed over.
    With `to_version`: that version of the path becomes the active one (a rollback or a roll forward).
    """
    same_path, named = _target(conn, target)
    staged = [v for v in same_path if v.status in STAGED]
    if to_version is not None:
        chosen = [v for v in staged if v.version == to_version]
        if not chosen:
            listed = ", ".join(f"{v.version} ({v.state})" for v in same_path) or "none"
            raise RollbackError(f"{same_path[0].path} has no staged version {to_version}; its versions: {listed}")
        if chosen[0].is_active:
            raise RollbackError(f"version {to_version} of {chosen[0].path} is already the active one")
        return same_path, chosen[0]
    active = named or next((v for v in staged if v.is_active), None)
    if active is None or not active.is_active:
        which = f"file {named.file_id} ({named.state})" if named else f"{same_path[0].path} has no active version"
        raise RollbackError(f"nothing to roll back: {which}; use --to VERSION to make a version active")
    # A version a blocking check excluded would leave the path without data: skip it unless asked for.
    earlier = [v for v in staged if v.version < active.version and not v.excluded_by_check]
    return same_path, (earlier[-1] if earlier else None)


def apply(
    conn: psycopg.Connection, target: str, to_version: int | None, *, actor: str, run_id: str | None, reason: str = ""
) -> Rollback:
    """Plan and carry out the rollback in the caller's transaction, audited as `actor`."""
    same_path, activate = plan(conn, target, to_version)
    source, path = same_path[0].source, same_path[0].path
    table = table_name(source)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{SCHEMA}.{table}",))
    active_before = [v for v in same_path if v.is_active and v.status in STAGED]
    if activate is not None:
        changed = {r[0] for r in conn.execute("SELECT metadata.set_file_active(%s, true)", (activate.file_id,))}
    else:
        changed = set()
        for version in active_before:
            changed |= {r[0] for r in conn.execute("SELECT metadata.set_file_active(%s, false)", (version.file_id,))}
    deactivated = [v for v in same_path if v.file_id in changed and (activate is None or v.file_id != activate.file_id)]
    entry = catalog.staging(source)
    audit.record(
        conn,
        audit.Writer(actor, run_id),
        asset=entry.name,
        table=entry.table,
        operation="rollback",
        partition_key=activate.partition_key if activate else None,
        rows=sum((v.rows_staged or 0) for v in deactivated) + ((activate.rows_staged or 0) if activate else 0),
        input_file_ids=sorted(changed),
        details={
            "path": path,
            "target": target,
            "to_version": to_version,
            "reason": reason,
            "activated": activate.file_id if activate else None,
            "deactivated": [v.file_id for v in deactivated],
        },
    )
    return Rollback(source, path, activate, deactivated)
