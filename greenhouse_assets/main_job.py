"""`make run`: the bundled sample through the whole asset graph, in-process, then a short summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import dagster as dg
import psycopg
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.database import connect
from greenhouse_assets.ingest.command import CONSOLE_LOGGING, expand, ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.sample import generate_sample

# File-version partitions are materialized by ingestion; everything else is one downstream refresh.
INGEST_GROUPS = ("raw", "staging")


def run_main_job(sample_days: int, seed: int) -> int:
    sample_dir = settings.landing_dir() / "sample"
    generate_sample(sample_dir, days=sample_days, seed=seed)
    print(f"sample: {sample_days} days of both greenhouses in {sample_dir}")

    registry = SourceRegistry.load()
    statuses: Counter[str] = Counter()
    with dg.DagsterInstance.get() as instance:
        for path in expand([sample_dir]):
            report = ingest_file(path, instance, registry)
            statuses[report["status"]] += 1
            if report["status"] in ("quarantined", "failed"):
                print(f"  {report['status']}: {report['path']}: {report['error']}")
        downstream_ok, checks = _refresh_downstream(instance)

    print("files: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))
    for layer, rows in _rows_per_layer():
        print(f"  {layer:<40} {rows:>12,} rows")
    print(f"checks: {checks.summary()}")
    print("next: `make dev` and open http://localhost:3000 to browse the asset graph; "
          f"SQL: psql {settings.database_url()}")
    return 0 if downstream_ok and not statuses["failed"] else 1


@dataclass
class CheckTally:
    passed: int = 0
    warned: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.passed} passed", f"{len(self.warned)} warned", f"{len(self.failed)} failed"]
        details = [f"warn: {name}" for name in self.warned] + [f"FAILED: {name}" for name in self.failed]
        return ", ".join(parts) + "".join(f"\n    {d}" for d in details)


def _refresh_downstream(instance: dg.DagsterInstance) -> tuple[bool, CheckTally]:
    """Materialize everything downstream of staging once, in dependency order, with its checks.

    Consecutive assets that share a partitioning run together: unpartitioned ones as one run,
    time-partitioned ones as one run over the days the time series covers.
    """
    from greenhouse_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    ingest = dg.AssetSelection.groups(*INGEST_GROUPS).resolve(graph)
    ok, checks = True, CheckTally()
    for partitions_def, keys in _stages([k for k in graph.toposorted_asset_keys if k not in ingest], graph):
        tags = {"greenhouse/trigger": "make run"}
        if partitions_def is not None:
            span = _partition_span(partitions_def)
            if span is None:
                print(f"  skipped {', '.join(k.to_user_string() for k in keys)}: no time series yet")
                continue
            tags |= {"dagster/asset_partition_range_start": span[0], "dagster/asset_partition_range_end": span[1]}
        result = job.execute_in_process(instance=instance, asset_selection=keys, tags=tags, raise_on_error=False,
                                        run_config={"loggers": CONSOLE_LOGGING})
        for event in result.all_events:
            if event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.asset_check_evaluation_data
                name = evaluation.asset_check_key.to_user_string()
                if evaluation.passed:
                    checks.passed += 1
                elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                    checks.warned.append(name)
                else:
                    checks.failed.append(name)
        if not result.success:
            ok = False
            print(f"  run {result.run_id} failed: see `make dev` → Runs")
            break
    return ok, checks


def _stages(keys: list[dg.AssetKey], graph) -> list[tuple[object, list[dg.AssetKey]]]:
    stages: list[tuple[object, list[dg.AssetKey]]] = []
    for key in keys:
        node = graph.get(key)
        if not node.is_materializable:
            continue
        if stages and stages[-1][0] == node.partitions_def:
            stages[-1][1].append(key)
        else:
            stages.append((node.partitions_def, [key]))
    return stages


def _partition_span(partitions_def) -> tuple[str, str] | None:
    """First and last partition that the measurements' time span touches."""
    with connect(settings.database_url()) as conn:
        first, last = conn.execute("SELECT min(time), max(time) FROM timeseries.measurements").fetchone()
    if first is None:
        return None
    return (partitions_def.get_partition_key_for_timestamp(first.timestamp()),
            partitions_def.get_partition_key_for_timestamp(last.timestamp()))


def _rows_per_layer() -> list[tuple[str, int]]:
    tables = [("metadata", "files")]
    with connect(settings.database_url()) as conn:
        tables += conn.execute(
            """SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'staging'
               UNION ALL SELECT 'timeseries', 'measurements'
               UNION ALL SELECT 'timeseries', 'electricity_prices'
               UNION ALL SELECT 'timeseries', 'forecast_errors'
               UNION ALL SELECT 'features', 'extracted_features'
               UNION ALL SELECT 'moga', 'solutions' ORDER BY 1, 2"""
        ).fetchall()
        counts = []
        for schema, table in tables:
            try:
                count = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
            except psycopg.errors.UndefinedTable:
                conn.rollback()
                continue
            counts.append((f"{schema}.{table}", count))
    return counts
