"""Load a file version into `staging.raw_<source>`: all rows or none, in one transaction.

The table follows the files: a new column is added, a type conflict widens the column
(bigint → double precision → text) instead of failing, and every change is recorded in
`metadata.schema_changes`. Rows stream through a binary COPY in bounded batches, so memory
stays flat however large the file is: straight from the parser while the raw Parquet is written
(`pipeline.receive_file`), or from that Parquet when only staging is re-run. pgpq encodes each
Arrow batch to PostgreSQL's binary COPY format in Rust, about three times cheaper in CPU than
ADBC's driver, which matters because the parser and the database share the same cores. For the
same reason most of the bookkeeping that is the same on every row of a version (`_source_file`,
`_ingested_at`, `_status`) is not sent at all: the columns' defaults take it from the loading
transaction (`VERSION_DEFAULTS`). `_file_id` is sent: receiving a binary bigint costs the server
less than computing it from a setting for every row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql

from greenhouse_assets import catalog
from greenhouse_assets.catalog import STAGING_SCHEMA, staging_table_name
from greenhouse_assets.database import Database
from greenhouse_assets.governance import audit
from greenhouse_assets.ingest import staged_profile
from greenhouse_assets.ingest.arrow_values import int64_scalar

SCHEMA = STAGING_SCHEMA
BATCH_ROWS = 100_000

# Bookkeeping columns every staging table has, besides the file's own columns.
SYSTEM_COLUMNS = {
    "_file_id": "bigint",
    "_row_number": "bigint",
    "_source_file": "text",
    "_ingested_at": "timestamptz",
    "_status": "text",
}
# Defaults that fill in a version's constants from the transaction that loads it (`StagingTransaction`).
# Outside such a transaction an insert that omits them fails, never guesses. Tables created before the
# defaults existed get them at their next load (`_evolve_table`).
VERSION_DEFAULTS = {
    "_source_file": "current_setting('greenhouse.source_file')",
    "_ingested_at": "now()",
    "_status": "'loaded'",
}
_WIDENING = ["boolean", "bigint", "double precision", "text"]


@dataclass(frozen=True)
class StagingLoad:
    table: str
    rows: int
    schema_changes: list[dict]
    deactivated: list[int]


def table_name(source: str) -> str:
    """`raw_<source>`: the naming rule lives in the catalog."""
    return staging_table_name(source)


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


class StagingTransaction:
    """One file version's staging load, open until `finish` commits it (see `staging_transaction`)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        source: str,
        file_id: int,
        source_file: str,
        column_types: dict[str, str],
        changes: list[dict],
    ) -> None:
        self.conn = conn
        self.source, self.table, self.file_id, self.source_file = source, table_name(source), file_id, source_file
        self.column_types, self.changes = column_types, changes
        self.ingested_at = conn.execute(
            "SELECT now(), set_config('greenhouse.source_file', %s, true)", (source_file,)
        ).fetchone()[0]
        self.rows = 0
        self.committed = False
        self.profiler = staged_profile.Profiler(self.ingested_at)  # the checks' aggregates, from the batches sent

    def copy(self, tables: Iterable[pa.Table | pa.RecordBatch]) -> int:
        """Binary COPY of the rows, cast to the table's (possibly wider) column types; the server fills in
        the version's bookkeeping (`VERSION_DEFAULTS`).

        The tables are pulled as the COPY goes, so the server loads one batch while the next is produced.
        """
        batches = _typed(iter(tables), self.column_types, self.file_id)
        encoder = ArrowToPostgresBinaryEncoder(batches.schema)
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
            sql.Identifier(SCHEMA, self.table), sql.SQL(", ").join(map(sql.Identifier, batches.schema.names))
        )
        with self.conn.cursor().copy(statement) as copy:
            copy.write(encoder.write_header())
            for batch in batches:
                copy.write(encoder.write_batch(batch))
                self.profiler.add(batch)  # while the server takes in the batch
                self.rows += batch.num_rows
            copy.write(encoder.finish())
        return self.rows

    def finish(self, *, run_id: str | None, actor: str, partition_key: str | None) -> StagingLoad:
        """Record the schema changes, mark the version loaded and active (deactivating the one it
        replaces), audit (with the lineage edge file version -> staging table), commit. The version must be registered in `metadata.files` by now."""
        conn = self.conn
        for change in self.changes:
            conn.execute(
                """INSERT INTO metadata.schema_changes (source, table_name, column_name, change, old_type, new_type,
                                                        file_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                (
                    self.source,
                    f"{SCHEMA}.{self.table}",
                    change["column"],
                    change["change"],
                    change["old_type"],
                    change["new_type"],
                    self.file_id,
                ),
            )
        conn.execute(
            """UPDATE metadata.files SET rows_staged = %s, loaded_at = %s, run_id = coalesce(%s, run_id)
               WHERE file_id = %s""",
            (self.rows, self.ingested_at, run_id, self.file_id),
        )
        activated = conn.execute("SELECT metadata.set_file_active(%s, true)", (self.file_id,)).fetchall()
        deactivated = [r[0] for r in activated if r[0] != self.file_id]
        entry = catalog.staging(self.source)
        audit.record(
            conn,
            audit.Writer(actor, run_id),
            asset=entry.name,
            table=entry.table,
            rows=self.rows,
            operation="load",
            partition_key=partition_key,
            input_file_ids=[self.file_id],
            details={"schema_changes": self.changes, "deactivated": deactivated},
        )
        conn.commit()
        self.committed = True
        if run_id and (profile := self.profiler.profile()) is not None:
            staged_profile.remember(run_id, self.file_id, profile)
        return StagingLoad(f"{SCHEMA}.{self.table}", self.rows, self.changes, deactivated)


@contextmanager
def staging_transaction(
    database: Database, *, file_id: int, source: str, source_file: str, file_schema: pa.Schema
) -> Iterator[StagingTransaction]:
    """Lock the source's table, fit it to `file_schema` and clear the version's rows, in a transaction
    that `StagingTransaction.finish` commits. Leaving the block any other way rolls everything back,
    so a file is staged all-or-nothing."""
    table = table_name(source)
    with database.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{SCHEMA}.{table}",))
        column_types, changes = _evolve_table(conn, table, file_schema)
        conn.execute(sql.SQL("DELETE FROM {} WHERE _file_id = %s").format(sql.Identifier(SCHEMA, table)), (file_id,))
        load = StagingTransaction(
            conn, source=source, file_id=file_id, source_file=source_file, column_types=column_types, changes=changes
        )
        try:
            yield load
        finally:
            if not load.committed:
                conn.rollback()


def load_parquet(
    database: Database,
    *,
    file_id: int,
    source: str,
    source_file: str,
    parquet: Path | BinaryIO,
    run_id: str | None,
    actor: str,
    partition_key: str | None,
) -> StagingLoad:
    """Stage one file version from its raw Parquet and mark it loaded and active, in a single transaction."""
    parquet_file = pq.ParquetFile(parquet)
    with staging_transaction(
        database, file_id=file_id, source=source, source_file=source_file, file_schema=parquet_file.schema_arrow
    ) as load:
        load.copy(parquet_file.iter_batches(batch_size=BATCH_ROWS))
        return load.finish(run_id=run_id, actor=actor, partition_key=partition_key)


def reactivate(
    conn: psycopg.Connection,
    *,
    file_id: int,
    source: str,
    run_id: str | None,
    actor: str,
    partition_key: str | None,
    reason: str,
) -> StagingLoad:
    """Make a staged version its path's active one again (rollback by file), in the caller's transaction:
    its staged rows become `loaded`, the path's other active version `deactivated`, and the change is audited.

    Takes the same lock as a staging load of the source, so a rollback and a load never interleave.
    """
    table = table_name(source)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{SCHEMA}.{table}",))
    activated = conn.execute("SELECT metadata.set_file_active(%s, true)", (file_id,)).fetchall()
    deactivated = [r[0] for r in activated if r[0] != file_id]
    rows = conn.execute(
        "SELECT coalesce(rows_staged, 0) FROM metadata.files WHERE file_id = %s", (file_id,)
    ).fetchone()[0]
    entry = catalog.staging(source)
    audit.record(
        conn,
        audit.Writer(actor, run_id),
        asset=entry.name,
        table=entry.table,
        rows=rows,
        operation="reactivate",
        partition_key=partition_key,
        input_file_ids=[file_id],
        details={"reason": reason, "deactivated": deactivated},
    )
    return StagingLoad(f"{SCHEMA}.{table}", rows, [], deactivated)


def _column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        """SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a
           WHERE a.attrelid = to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) AND a.attnum > 0
             AND NOT a.attisdropped ORDER BY a.attnum""",
        (SCHEMA, table),
    ).fetchall()
    return {name: "timestamptz" if type_name.startswith("timestamp") else type_name for name, type_name in rows}


def _lacks_version_defaults(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute(
        """SELECT count(*) < %s FROM pg_attribute
           WHERE attrelid = to_regclass(quote_ident(%s) || '.' || quote_ident(%s)) AND attname = ANY(%s) AND atthasdef""",
        (len(VERSION_DEFAULTS), SCHEMA, table, list(VERSION_DEFAULTS)),
    ).fetchone()[0]


def _evolve_table(conn: psycopg.Connection, table: str, file_schema: pa.Schema) -> tuple[dict[str, str], list[dict]]:
    """Create the table or add/widen columns so this file fits; returns the table's column types after that
    and what changed (recorded by `finish`)."""
    changes: list[dict] = []
    existing = _column_types(conn, table)
    qualified = sql.Identifier(SCHEMA, table)
    if not existing:
        system = sql.SQL(", ").join(
            sql.SQL("{} {}{}{}").format(
                sql.Identifier(n),
                sql.SQL(t),
                sql.SQL("" if n == "_source_file" else " NOT NULL"),
                sql.SQL(f" DEFAULT {VERSION_DEFAULTS[n]}" if n in VERSION_DEFAULTS else ""),
            )
            for n, t in SYSTEM_COLUMNS.items()
        )
        conn.execute(sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY (_file_id, _row_number))").format(qualified, system))
        changes.append({"column": "*", "change": "create_table", "old_type": None, "new_type": None})
        existing = dict(SYSTEM_COLUMNS)
    elif _lacks_version_defaults(conn, table):
        conn.execute(
            sql.SQL("ALTER TABLE {} {}").format(
                qualified,
                sql.SQL(", ").join(
                    sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(sql.Identifier(n), sql.SQL(default))
                    for n, default in VERSION_DEFAULTS.items()
                ),
            )
        )
    for field in file_schema:
        if field.name in SYSTEM_COLUMNS:
            continue
        incoming = pg_type(field.type)
        current = existing.get(field.name)
        column = sql.Identifier(field.name)
        if current is None:
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(qualified, column, sql.SQL(incoming)))
            existing[field.name] = incoming
            changes.append({"column": field.name, "change": "add_column", "old_type": None, "new_type": incoming})
        elif (wider := widen(current, incoming)) != current:
            conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                    qualified, column, sql.SQL(wider), column, sql.SQL(wider)
                )
            )
            existing[field.name] = wider
            changes.append({"column": field.name, "change": "widen_type", "old_type": current, "new_type": wider})
    return existing, changes


_ARROW_FOR_PG = {
    "timestamptz": pa.timestamp("us", "UTC"),
    "double precision": pa.float64(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "text": pa.string(),
}


def _typed(
    tables: Iterator[pa.Table | pa.RecordBatch], target_types: dict[str, str], file_id: int
) -> pa.RecordBatchReader:
    """The version's id, the file's rows with their row numbers, cast to the table's (possibly wider) column types.

    The first table fixes which of the file's columns are staged (all, once the table was fitted)."""
    first = next(tables, None)
    names = [n for n in (first.schema.names if first is not None else []) if n in target_types]
    carried = [pa.field("_row_number", pa.int64())]
    carried += [pa.field(n, _ARROW_FOR_PG[target_types[n]]) for n in names if n not in SYSTEM_COLUMNS]
    schema = pa.schema([pa.field("_file_id", pa.int64()), *carried])
    version = int64_scalar(file_id)  # not pa.scalar: arrow_values.py

    def generate() -> Iterator[pa.RecordBatch]:
        if first is None:
            return
        for table in itertools.chain([first], tables):
            columns = [pa.repeat(version, table.num_rows), *(pc.cast(table.column(f.name), f.type) for f in carried)]
            yield from pa.Table.from_arrays(columns, schema=schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, generate())
