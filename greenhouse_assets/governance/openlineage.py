"""OpenLineage export: each audited write of a Dagster run becomes one OpenLineage COMPLETE event.

The job is the asset (namespace `greenhouse`), the run is the write, with a `parent` facet naming
the Dagster run and job; outputs are the write's targets and inputs the sources of the
`metadata.lineage` edges into them. Tables are named as the OpenLineage naming spec says for
PostgreSQL (`postgres://host:port`, `database.schema.table`), file versions by their original
bytes in the lake and Parquet by path (namespace `file`, or `s3://<bucket>` by key when the lake is on S3).

The OpenLineage client (~0.4 s of imports with its HTTP stack) is imported by the functions that
build or send events, not by this module: every process that loads the code location imports it,
and with export off (the default) no event is ever built.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import psycopg

from greenhouse_assets.governance import lineage

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import RunEvent

NAMESPACE = "greenhouse"
PRODUCER = "https://github.com/greenhouse-platform/greenhouse_assets"


def client(url: str = "", file: str = "") -> OpenLineageClient | None:
    """HTTP endpoint (`…/api/v1/lineage` appended) if `url`, else one JSON event per line in `file`; None: off."""
    if not (url or file):
        return None
    from openlineage.client import OpenLineageClient  # ~0.4 s: only when export is on (module docstring)
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    if url:
        return OpenLineageClient(transport=HttpTransport(HttpConfig(url=url, endpoint="api/v1/lineage")))
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=file, append=True)))


def _datasets(conn: psycopg.Connection, file_ids: list[int]):
    host = conn.info.host
    pg_namespace = f"postgres://{'localhost' if not host or host.startswith('/') else host}:{conn.info.port}"
    database = conn.info.dbname
    originals = dict(
        conn.execute(
            "SELECT file_id::text, raw_uri FROM metadata.files WHERE file_id = ANY(%s)", (file_ids,)
        ).fetchall()
    )

    def dataset(node: lineage.Node) -> tuple[str, str]:
        if node.kind == "table":
            return pg_namespace, f"{database}.{node.ref}"
        if node.kind == "file_version" and originals.get(node.ref):
            return _lake_dataset(originals[node.ref])
        if node.kind == "parquet":
            return _lake_dataset(node.ref)
        return NAMESPACE, f"{node.kind}/{node.ref}"

    return dataset


def _lake_dataset(uri: str) -> tuple[str, str]:
    """OpenLineage's naming for a lake object: namespace `file` and the path, or `s3://bucket` and the key."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return f"s3://{parsed.netloc}", parsed.path.lstrip("/")
    return "file", parsed.path


def events_for_run(conn: psycopg.Connection, run_id: str, job_name: str) -> list[RunEvent]:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState  # see docstring
    from openlineage.client.facet_v2 import output_statistics_output_dataset, parent_run

    edges = lineage.for_run(conn, run_id)
    dataset = _datasets(conn, [int(n.ref) for edge in edges for n in edge if n.kind == "file_version"])
    writes = conn.execute(
        "SELECT audit_id, at, asset, table_name, rows_affected, details FROM metadata.audit_log "
        "WHERE run_id = %s ORDER BY audit_id",
        (run_id,),
    ).fetchall()
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=NAMESPACE, name=job_name)
    )
    events = []
    for audit_id, at, asset, table_name, rows, details in writes:
        outputs = [lineage.Node(*o) for o in (details or {}).get("outputs", [])] or [lineage.table(table_name)]
        inputs = list(dict.fromkeys(source for source, target in edges if target in outputs))
        stats = (
            {"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)}
            if rows is not None and rows >= 0
            else {}
        )
        events.append(
            RunEvent(
                eventType=RunState.COMPLETE,
                eventTime=at.isoformat(),
                producer=PRODUCER,
                run=Run(runId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{audit_id}")), facets={"parent": parent}),
                job=Job(namespace=NAMESPACE, name=asset),
                inputs=[InputDataset(*dataset(n)) for n in inputs],
                outputs=[OutputDataset(*dataset(n), outputFacets=stats) for n in outputs],
            )
        )
    return events
