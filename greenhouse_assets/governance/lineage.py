"""`metadata.lineage`: edges between file versions, lake files, tables and MOGA runs, per Dagster run.

A node is (kind, ref): `file_version` (metadata.files.file_id), `parquet` (file URI of the raw
Parquet), `table` (schema-qualified name). Each edge carries the run that wrote its target, so
"where did timeseries.measurements come from in run X" is one query, and the chain
measurement -> file version -> raw Parquet -> original bytes (metadata.files.raw_uri) is walkable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import psycopg


class Node(NamedTuple):
    kind: str
    ref: str


def table(name: str) -> Node:
    return Node("table", name)


def file_version(file_id: int) -> Node:
    return Node("file_version", str(file_id))


def parquet(uri: str) -> Node:
    return Node("parquet", uri)


def record(conn: psycopg.Connection, run_id: str | None, sources: Iterable[Node], targets: Iterable[Node]) -> int:
    """Every source -> every target, in the caller's transaction; returns the number of edges."""
    targets = list(targets)
    edges = [(s.kind, s.ref, t.kind, t.ref, run_id) for s in dict.fromkeys(sources) for t in dict.fromkeys(targets)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO metadata.lineage (from_kind, from_ref, to_kind, to_ref, run_id) VALUES (%s, %s, %s, %s, %s)",
            edges,
        )
    return len(edges)


def for_run(conn: psycopg.Connection, run_id: str) -> list[tuple[Node, Node]]:
    rows = conn.execute(
        "SELECT from_kind, from_ref, to_kind, to_ref FROM metadata.lineage WHERE run_id = %s ORDER BY edge_id",
        (run_id,),
    ).fetchall()
    return [(Node(a, b), Node(c, d)) for a, b, c, d in rows]
