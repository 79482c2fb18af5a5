"""`metadata.audit_log`: one row per write of an asset (who, what, when, how many rows, from which file versions).

`record_write` is the one call an asset makes after it wrote: in the same transaction as the write
when the asset holds the connection, so the row exists exactly when the data does. It also records
the lineage edges of the write. The table is append-only for the pipeline role `greenhouse_writer`
(migration 0001 revokes UPDATE, DELETE and TRUNCATE): history cannot be rewritten by a run.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Sequence

import dagster as dg
import psycopg

from greenhouse_assets.governance import lineage


def actor(context: dg.AssetExecutionContext) -> str:
    """Who launched the run: its `user` tag (UI, CLI), else the OS user running the step."""
    return context.run.tags.get("user") or getpass.getuser()


def record_write(conn: psycopg.Connection, context: dg.AssetExecutionContext, *, asset: str, table: str,
                 rows: int | None, operation: str, partition_key: str | None = None,
                 input_file_ids: Sequence[int] = (), inputs: Iterable[lineage.Node] = (),
                 outputs: Sequence[lineage.Node] | None = None, details: dict | None = None) -> None:
    """Audit row + lineage edges (inputs and input file versions -> outputs, default: `table`)."""
    outputs = [lineage.table(table)] if outputs is None else list(outputs)
    sources = [*(lineage.file_version(f) for f in input_file_ids), *inputs]
    conn.execute(
        "INSERT INTO metadata.audit_log (actor, run_id, asset, table_name, partition_key, operation, rows_affected, "
        "input_file_ids, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (actor(context), context.run_id, asset, table, partition_key, operation, rows, list(input_file_ids) or None,
         json.dumps({**(details or {}), "outputs": [list(o) for o in outputs]}, default=str)),
    )
    lineage.record(conn, context.run_id, sources, outputs)
