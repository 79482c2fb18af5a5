"""Audit rows and lineage edges for the dbt models, written on the Python side after `dbt build`.

dbt writes the tables itself, so the asset records afterwards from dbt's own artifacts: one audit
row per model or seed that dbt built successfully (rows affected from dbt's adapter response), and
edges from each parent relation in the manifest. For `timeseries.measurements` the input file
versions are those its bookkeeping table (`timeseries.measurement_file_state`) reflects after the
build but did not before, and its input tables the staging tables those versions were loaded into
(the model finds its staging tables at run time; the manifest does not list them).
"""

from __future__ import annotations

import dagster as dg
import psycopg

from greenhouse_assets import settings
from greenhouse_assets.database import connect
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.ingest.staging import table_name

WRITING = ("model", "seed", "snapshot")


def reflected_file_ids() -> set[int]:
    """File versions `timeseries.measurements` reflects now (empty before the first build)."""
    with connect(settings.database_url()) as conn:
        try:
            return {r[0] for r in conn.execute("SELECT file_id FROM timeseries.measurement_file_state")}
        except psycopg.errors.UndefinedTable:
            return set()


def _relation(node: dict) -> str:
    return f"{node['schema']}.{node.get('alias') or node.get('identifier') or node['name']}"


def record_build(context: dg.AssetExecutionContext, invocation, before: set[int]) -> None:
    try:
        results = invocation.get_artifact("run_results.json")["results"]
        manifest = invocation.get_artifact("manifest.json")
    except FileNotFoundError:  # dbt never got as far as writing artifacts: it wrote nothing either
        return
    parents = {**manifest["nodes"], **manifest["sources"]}
    after = reflected_file_ids()
    with connect(settings.database_url()) as conn:
        for result in results:
            node = manifest["nodes"].get(result["unique_id"])
            if node is None or node["resource_type"] not in WRITING or result["status"] != "success":
                continue
            is_measurements = node["name"] == "measurements"
            added = sorted(after - before) if is_measurements else []
            staged = [lineage.table(f"staging.{table_name(source)}") for (source,) in conn.execute(
                "SELECT DISTINCT source FROM metadata.files WHERE file_id = ANY(%s) ORDER BY 1", (added,))]
            audit.record_write(
                conn, context, asset=f"timeseries/{node['name']}", table=_relation(node),
                rows=(result.get("adapter_response") or {}).get("rows_affected"),
                operation=f"dbt {node['resource_type']} ({node['config'].get('materialized', 'seed')})",
                input_file_ids=added,
                inputs=[*(lineage.table(_relation(parents[p])) for p in node["depends_on"].get("nodes", [])
                          if p in parents), *staged],
                details={"unique_id": node["unique_id"], "removed_file_ids": sorted(before - after)}
                if is_measurements else {"unique_id": node["unique_id"]},
            )
