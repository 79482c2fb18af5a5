"""`metadata.audit_log`: one row per write of an asset (who, what, when, how many rows, from which file versions).

`record_write` (or `record`, where no Dagster context reaches) is the one call a writer makes, always
in the transaction of the write it records, so the row exists exactly when the data does: a failed
audit insert rolls the data back, and a crash before the commit leaves neither. Every layer:
raw (`ingest.pipeline`, with the registration of the version), staging (`ingest.staging`, in the
load's transaction), dbt models (`dbt_audit`: a post-hook inside each model's transaction), features,
quality and MOGA (in the asset's transaction). It also records the lineage edges of the write.
The table is append-only for the pipeline role (migrations 0001 and 0011 leave it SELECT and INSERT):
history cannot be rewritten by a run.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
import psycopg

from greenhouse_assets.catalog import Table
from greenhouse_assets.governance import lineage


@dataclass(frozen=True)
class Writer:
    """Who writes, in which Dagster run (None outside one)."""

    actor: str
    run_id: str | None


def actor(context: dg.AssetExecutionContext) -> str:
    """Who launched the run: its `user` tag (UI, CLI), else the OS user running the step."""
    return context.run.tags.get("user") or getpass.getuser()


def writer(context: dg.AssetExecutionContext) -> Writer:
    return Writer(actor(context), context.run_id)


def record(
    conn: psycopg.Connection,
    by: Writer,
    *,
    asset: str,
    table: str,
    rows: int | None,
    operation: str,
    partition_key: str | None = None,
    input_file_ids: Sequence[int] = (),
    inputs: Iterable[lineage.Node] = (),
    outputs: Sequence[lineage.Node] | None = None,
    details: dict | None = None,
) -> None:
    """Audit row + lineage edges (inputs and input file versions -> outputs, default: `table`), in the
    caller's transaction."""
    outputs = [lineage.table(table)] if outputs is None else list(outputs)
    sources = [*(lineage.file_version(f) for f in input_file_ids), *inputs]
    conn.execute(
        "INSERT INTO metadata.audit_log (actor, run_id, asset, table_name, partition_key, operation, rows_affected, "
        "input_file_ids, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            by.actor,
            by.run_id,
            asset,
            table,
            partition_key,
            operation,
            rows,
            list(input_file_ids) or None,
            json.dumps({**(details or {}), "outputs": [list(o) for o in outputs]}, default=str),
        ),
    )
    lineage.record(conn, by.run_id, sources, outputs)


def record_write(
    conn: psycopg.Connection, context: dg.AssetExecutionContext, entry: Table | None = None, **write
) -> None:
    """`record` for an asset: the run's actor and id; with a catalog `entry`, its asset name, table and
    (unless `outputs` is given) every table it writes."""
    if entry is not None:
        write = {
            "asset": entry.name,
            "table": entry.table,
            "outputs": [lineage.table(t) for t in entry.tables],
            **write,
        }
    record(conn, writer(context), **write)
