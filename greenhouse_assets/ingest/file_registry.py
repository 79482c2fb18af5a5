"""`metadata.files`: one row per received file version, and what became of it.

The raw asset records a version as `received` (parsed, in the lake) or `quarantined`; the
staging asset flips it to `loaded` + active in the same transaction as the rows, and
deactivates the version it replaces (SQL function `metadata.set_file_active`, which rollback
uses too).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.readers import ParsedFile


@dataclass
class FileVersion:
    file_id: int
    source: str
    path: str
    sha256: str
    bytes: int
    status: str
    is_active: bool
    version: int
    partition_key: str | None
    raw_uri: str | None
    parquet_uri: str | None
    rows_read: int | None
    rows_staged: int | None
    error: str | None
    duplicate_of: int | None


_COLUMNS = (
    "file_id, source, path, sha256, bytes, status, is_active, version, partition_key, "
    "raw_uri, parquet_uri, rows_read, rows_staged, error, duplicate_of"
)


def partition_key_for(source: str, sha256: str) -> str:
    """One Dagster partition per file version: the source plus enough of the hash to be unique."""
    return f"{source}-{sha256[:16]}"


def for_partition(conn: psycopg.Connection, partition_key: str) -> FileVersion | None:
    """The version a partition stands for: the loaded/received one, else the latest attempt."""
    with conn.cursor(row_factory=class_row(FileVersion)) as cur:
        return cur.execute(
            f"""SELECT {_COLUMNS} FROM metadata.files WHERE partition_key = %s
                ORDER BY (status IN ('loaded', 'deactivated', 'received')) DESC, file_id DESC LIMIT 1""",
            (partition_key,),
        ).fetchone()


def for_run(conn: psycopg.Connection, run_id: str) -> FileVersion | None:
    """The version a run's raw step recorded (a duplicate, a quarantine, or a received file)."""
    with conn.cursor(row_factory=class_row(FileVersion)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM metadata.files WHERE run_id = %s ORDER BY file_id DESC LIMIT 1", (run_id,)
        ).fetchone()


def loaded_with_hash(conn: psycopg.Connection, sha256: str) -> FileVersion | None:
    with conn.cursor(row_factory=class_row(FileVersion)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM metadata.files WHERE sha256 = %s AND status IN ('loaded', 'deactivated', 'received')",
            (sha256,),
        ).fetchone()


def latest_for_path(conn: psycopg.Connection, source: str, path: str) -> FileVersion | None:
    with conn.cursor(row_factory=class_row(FileVersion)) as cur:
        return cur.execute(
            f"""SELECT {_COLUMNS} FROM metadata.files
                WHERE source = %s AND path = %s AND status IN ('loaded', 'deactivated', 'received')
                ORDER BY version DESC LIMIT 1""",
            (source, path),
        ).fetchone()


def record_duplicate(
    conn: psycopg.Connection,
    *,
    source: str,
    path: str,
    sha256: str,
    size: int,
    original: FileVersion,
    partition_key: str,
    run_id: str | None,
) -> int:
    return conn.execute(
        """INSERT INTO metadata.files (source, path, sha256, bytes, status, duplicate_of, partition_key, run_id,
                                       raw_uri, parquet_uri)
           VALUES (%s, %s, %s, %s, 'duplicate', %s, %s, %s, %s, %s) RETURNING file_id""",
        (source, path, sha256, size, original.file_id, partition_key, run_id, original.raw_uri, original.parquet_uri),
    ).fetchone()[0]


def record_quarantine(
    conn: psycopg.Connection,
    *,
    source: str,
    path: str,
    sha256: str,
    size: int,
    error: IngestError,
    quarantine_uri: str,
    partition_key: str,
    run_id: str | None,
) -> int:
    return conn.execute(
        """INSERT INTO metadata.files (source, path, sha256, bytes, status, error, error_detail, raw_uri,
                                       partition_key, run_id)
           VALUES (%s, %s, %s, %s, 'quarantined', %s, %s, %s, %s, %s) RETURNING file_id""",
        (source, path, sha256, size, str(error), Jsonb(error.as_dict()), quarantine_uri, partition_key, run_id),
    ).fetchone()[0]


def schema_version_id(conn: psycopg.Connection, parsed: ParsedFile) -> int:
    """The layout (columns + detected format) as a versioned record, shared by files that have it."""
    columns = [
        {
            "name": c.staged_name,
            "original": c.original_name,
            "unit": c.unit,
            "variable": c.variable,
            "dtype": str(parsed.schema[c.staged_name]),
            **{
                k: v
                for k, v in (
                    ("point", c.point),
                    ("uuid", c.uuid),
                    ("zone", c.zone),
                    ("registry_unit", c.registry_unit),
                    ("scale", c.scale),
                    ("offset", c.offset),
                    ("unit_note", c.unit_note),
                )
                if v is not None
            },
        }
        for c in parsed.columns
    ]
    detection = {k: v for k, v in parsed.detection.items()}
    fingerprint = hashlib.sha256(json.dumps([columns, detection], sort_keys=True, default=str).encode()).hexdigest()
    row = conn.execute(
        """INSERT INTO metadata.schema_versions (source, fingerprint, columns, detection)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (source, fingerprint) DO UPDATE SET source = EXCLUDED.source
           RETURNING schema_version_id""",
        (parsed.source.name, fingerprint, Jsonb(columns), Jsonb(detection)),
    ).fetchone()
    return row[0]


def new_file_id(conn: psycopg.Connection) -> int:
    """Reserve the id of a version about to be parsed, so its rows can be staged while it is parsed."""
    return conn.execute("SELECT nextval(pg_get_serial_sequence('metadata.files', 'file_id'))").fetchone()[0]


def record_received(
    conn: psycopg.Connection,
    *,
    file_id: int,
    parsed: ParsedFile,
    path: str,
    sha256: str,
    size: int,
    received_at: datetime,
    raw_uri: str,
    parquet_uri: str,
    rows: int,
    partition_key: str,
    run_id: str | None,
) -> None:
    """Register a parsed version with its column mapping, as `received` (not staged yet): under the id
    reserved for it, or in place when the id is that of this content's earlier receipt (a re-run).
    Called after the last batch, so the detection and `resolutions` cover the whole file."""
    previous = latest_for_path(conn, parsed.source.name, path)
    version = 1 if previous is None else previous.version + (previous.sha256 != sha256)
    conn.execute(
        """INSERT INTO metadata.files (file_id, source, path, sha256, bytes, received_at, status, rows_read,
                                       schema_version_id, version, precedence, raw_uri, parquet_uri,
                                       partition_key, run_id, resolutions)
           VALUES (%s, %s, %s, %s, %s, %s, 'received', %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (file_id) DO UPDATE SET rows_read = EXCLUDED.rows_read, parquet_uri = EXCLUDED.parquet_uri,
               schema_version_id = EXCLUDED.schema_version_id, run_id = EXCLUDED.run_id,
               precedence = EXCLUDED.precedence, resolutions = EXCLUDED.resolutions""",
        (
            file_id,
            parsed.source.name,
            path,
            sha256,
            size,
            received_at,
            rows,
            schema_version_id(conn, parsed),
            version,
            parsed.rule.precedence,
            raw_uri,
            parquet_uri,
            partition_key,
            run_id,
            Jsonb(parsed.resolutions),
        ),
    )
    conn.execute("DELETE FROM metadata.file_columns WHERE file_id = %s", (file_id,))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO metadata.file_columns (file_id, staged_column, original_name, position, unit, variable,
                                                  canonical_unit, site, zone, point, uuid, registry_unit, scale,
                                                  "offset", unit_note)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (
                    file_id,
                    c.staged_name,
                    c.original_name,
                    i,
                    c.unit,
                    c.variable,
                    c.canonical_unit,
                    c.site,
                    c.zone,
                    c.point,
                    c.uuid,
                    c.registry_unit,
                    c.scale,
                    c.offset,
                    c.unit_note,
                )
                for i, c in enumerate(parsed.columns)
            ],
        )
