"""Load a file version's Parquet into `staging.raw_<source>`: all rows or none, in one transaction.

The table follows the files: a new column is added, a type conflict widens the column
(bigint → double precision → text) instead of failing, and every change is recorded in
`metadata.schema_changes`. Rows stream from Parquet through ADBC's binary COPY in bounded
batches, so memory stays flat however large the file is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from greenhouse_assets.database import libpq_url

SCHEMA = "staging"
BATCH_ROWS = 100_000

# Bookkeeping columns every staging table has, besides the file's own columns.
SYSTEM_COLUMNS = {
    "_file_id": "bigint",
    "_row_number": "bigint",
    "_source_file": "text",
    "_ingested_at": "timestamptz",
    "_status": "text",
}
_WIDENING = ["boolean", "bigint", "double precision", "text"]


@dataclass(frozen=True)
class StagingLoad:
    table: str
    rows: int
    schema_changes: list[dict]
    deactivated: list[int]


def table_name(source: str) -> str:
    return f"raw_{source}"


def quote(identifier: str) -> str:
    """Quote an identifier that came from a user's file: double any embedded quote."""
    return '"' + identifier.replace('"', '""') + '"'


def pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    return "text"


def widen(current: str, incoming: str) -> str:
    """The narrowest type that holds both; anything unrelated meets at text."""
    if current == incoming:
        return current
    if current in _WIDENING and incoming in _WIDENING:
        return max(current, incoming, key=_WIDENING.index)
    return "text"


def load_parquet(url: str, *, file_id: int, source: str, source_file: str, parquet: Path,
                 run_id: str | None, actor: str, partition_key: str | None) -> StagingLoad:
    """Stage one file version and mark it loaded and active, in a single transaction."""
    table = table_name(source)
    file_schema = pq.read_schema(parquet)
    with adbc.connect(libpq_url(url)) as conn:
        with conn.cursor() as cur:
            try:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext($1))", parameters=(f"{SCHEMA}.{table}",))
                changes = _evolve_table(cur, source, table, file_schema, file_id)
                target_types = _column_types(cur, table)
                cur.execute(f"DELETE FROM {SCHEMA}.{quote(table)} WHERE _file_id = $1", parameters=(file_id,))
                ingested_at = datetime.now(UTC)
                stream = _batches(parquet, target_types, file_id, source_file, ingested_at)
                rows = cur.adbc_ingest(table, stream, mode="append", db_schema_name=SCHEMA)
                cur.execute(
                    """UPDATE metadata.files SET rows_staged = $1, loaded_at = $2, run_id = coalesce($3, run_id)
                       WHERE file_id = $4""",
                    parameters=(rows, ingested_at, run_id, file_id),
                )
                cur.execute("SELECT metadata.set_file_active($1, true)", parameters=(file_id,))
                deactivated = [r[0] for r in cur.fetchall() if r[0] != file_id]
                cur.execute(
                    """INSERT INTO metadata.audit_log (actor, run_id, asset, table_name, partition_key, operation,
                                                       rows_affected, input_file_ids, details)
                       VALUES ($1, $2, $3, $4, $5, 'load', $6, ARRAY[$7::bigint], $8::jsonb)""",
                    parameters=(actor, run_id, f"staging/{table}", f"{SCHEMA}.{table}", partition_key, rows, file_id,
                                json.dumps({"schema_changes": changes, "deactivated": deactivated})),
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    return StagingLoad(f"{SCHEMA}.{table}", rows, changes, deactivated)


def _column_types(cur, table: str) -> dict[str, str]:
    cur.execute(
        """SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a
           WHERE a.attrelid = to_regclass(quote_ident($1) || '.' || quote_ident($2)) AND a.attnum > 0
             AND NOT a.attisdropped ORDER BY a.attnum""",
        parameters=(SCHEMA, table),
    )
    types = {}
    for name, type_name in cur.fetchall():
        types[name] = "timestamptz" if type_name.startswith("timestamp") else type_name
    return types


def _evolve_table(cur, source: str, table: str, file_schema: pa.Schema, file_id: int) -> list[dict]:
    """Create the table or add/widen columns so this file fits; returns what changed."""
    changes: list[dict] = []
    existing = _column_types(cur, table)
    qualified = f"{SCHEMA}.{quote(table)}"
    if not existing:
        system = ", ".join(f"{quote(n)} {t} NOT NULL" if n != "_source_file" else f"{quote(n)} {t}"
                           for n, t in SYSTEM_COLUMNS.items())
        cur.execute(f"CREATE TABLE {qualified} ({system}, PRIMARY KEY (_file_id, _row_number))")
        changes.append({"column": "*", "change": "create_table", "old_type": None, "new_type": None})
        existing = dict(SYSTEM_COLUMNS)
    for field in file_schema:
        if field.name in SYSTEM_COLUMNS:
            continue
        incoming = pg_type(field.type)
        current = existing.get(field.name)
        if current is None:
            cur.execute(f"ALTER TABLE {qualified} ADD COLUMN {quote(field.name)} {incoming}")
            changes.append({"column": field.name, "change": "add_column", "old_type": None, "new_type": incoming})
        elif (wider := widen(current, incoming)) != current:
            cur.execute(f"ALTER TABLE {qualified} ALTER COLUMN {quote(field.name)} TYPE {wider} "
                        f"USING {quote(field.name)}::{wider}")
            changes.append({"column": field.name, "change": "widen_type", "old_type": current, "new_type": wider})
    for change in changes:
        cur.execute(
            """INSERT INTO metadata.schema_changes (source, table_name, column_name, change, old_type, new_type, file_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            parameters=(source, f"{SCHEMA}.{table}", change["column"], change["change"], change["old_type"],
                        change["new_type"], file_id),
        )
    return changes


_ARROW_FOR_PG = {
    "timestamptz": pa.timestamp("us", "UTC"),
    "double precision": pa.float64(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "text": pa.string(),
}


def _batches(parquet: Path, target_types: dict[str, str], file_id: int, source_file: str,
             ingested_at: datetime) -> pa.RecordBatchReader:
    """The file's rows, cast to the table's (possibly wider) column types, with bookkeeping columns."""
    parquet_file = pq.ParquetFile(parquet)
    names = [n for n in parquet_file.schema_arrow.names if n in target_types]
    fields = [pa.field(n, _ARROW_FOR_PG[target_types[n]]) for n in names if n not in SYSTEM_COLUMNS]
    schema = pa.schema([pa.field(n, _ARROW_FOR_PG[t]) for n, t in SYSTEM_COLUMNS.items()] + fields)
    ingested_us = int(ingested_at.timestamp() * 1_000_000)

    def generate() -> Iterator[pa.RecordBatch]:
        for batch in parquet_file.iter_batches(batch_size=BATCH_ROWS, columns=names):
            n = batch.num_rows
            columns = [
                pa.array(np.full(n, file_id, dtype=np.int64)),
                pc.cast(batch.column("_row_number"), pa.int64()),
                pa.array([source_file] * n, pa.string()),
                pa.array(np.full(n, ingested_us, dtype=np.int64), pa.timestamp("us", "UTC")),
                pa.array(["loaded"] * n, pa.string()),
            ]
            columns += [pc.cast(batch.column(f.name), f.type) for f in fields]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, generate())
