"""`make run` / `greenhouse run`: the bundled sample, or the files under `--input DIR`, through the whole asset
graph in-process, then a short summary.

Exit status (`greenhouse run --input DIR` is the way to load an archive):

- 0: every file loaded, was a duplicate or reactivated its version, and no blocking check failed;
- 2: some files were rejected (quarantined, or excluded by a failed per-file blocking check) and are
  listed with their reason; everything else went through every layer;
- 1: a failure: a file's run failed for another reason (e.g. the database went away), a downstream run
  failed, or a blocking check failed.

MOGA zones that have no result for this run (models that fail validation, a zone recorded as
`skipped` in `moga.runs`, no weather data) are listed with the reason; they do not change the status.
A zone whose result rests on the literature energy model of its cover type (its fit rejected) is
marked so in the list of results.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.database import connect
from greenhouse_assets.in_process import CONSOLE_LOGGING, expand, in_process_instance, ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_dev.sample import generate_sample

# File-version partitions are materialized by ingestion; everything else is one downstream refresh.
INGEST_GROUPS = ("raw", "staging")
# Per-file outcomes: went through / its run failed (exit 1) / anything else, e.g. quarantined or excluded by
# a failed per-file blocking check, turned the file away while the rest went on (exit 2).
ACCEPTED = ("loaded", "duplicate", "reactivated")
FAILED = "failed"
EXIT_OK, EXIT_FAILED, EXIT_REJECTED = 0, 1, 2


def run_main_job(sample_days: int = 21, seed: int = 42, input_dir: Path | None = None) -> int:
    if input_dir is None:
        source_dir = settings.landing_dir() / "sample"
        generate_sample(source_dir, days=sample_days, seed=seed)
        print(f"sample: {sample_days} days of both greenhouses in {source_dir}")
    else:
        source_dir = input_dir
        if not source_dir.is_dir():
            print(f"greenhouse run: --input {source_dir} is not a folder", file=sys.stderr)
            return EXIT_FAILED
    files = expand([source_dir])
    if input_dir is not None:
        print(f"input: {len(files)} files under {source_dir}")
        if not files:
            print("greenhouse run: nothing to load", file=sys.stderr)
            return EXIT_FAILED

    registry = SourceRegistry.load()
    reports: list[dict] = []
    with in_process_instance() as instance:
        for path in files:
            report = ingest_file(path, instance, registry)
            reports.append(report)
            if report["status"] not in ACCEPTED:
                print(f"  {report['status']}: {report['path']}: {report['error']}")
        downstream_ok, checks = _refresh_downstream(instance)

    statuses = Counter(r["status"] for r in reports)
    print("files: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))
    for layer, rows in _rows_per_layer():
        print(f"  {layer:<40} {rows:>12,} rows")
    print(f"checks: {checks.summary()}")
    moga_lines = _moga_summary(blocked_by=[name for name in checks.failed if name.startswith("moga_")])
    print("moga: " + (moga_lines[0] if moga_lines else "no zone has objective models"))
    for line in moga_lines[1:]:
        print(f"    {line}")
    for line in _plan_summary():
        print(f"plan: {line}")
    print(f"backtest: {_backtest_summary()}")
    not_through = [r for r in reports if r["status"] not in ACCEPTED]
    if not_through:
        print(file_table(not_through, source_dir))
    print(
        "next: `make dev` and open http://localhost:3000 to browse the asset graph; "
        f"SQL: psql {settings.database_url()}"
    )
    return exit_status(reports, downstream_ok, checks)


def exit_status(reports: list[dict], downstream_ok: bool, checks: CheckTally) -> int:
    """1 when anything failed; else 2 when a file was turned away on its own (quarantined, excluded by its
    blocking check, or any other status a file can end in that is neither accepted nor a failed run); else 0."""
    statuses = {r["status"] for r in reports}
    if not downstream_ok or checks.failed or FAILED in statuses:
        return EXIT_FAILED
    return EXIT_REJECTED if statuses - set(ACCEPTED) else EXIT_OK


def file_table(reports: list[dict], root: Path) -> str:
    """The files that did not go through, one line each: status, path (under `root`), reason."""

    def shown(path: str) -> str:
        try:
            return Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return path

    rows = [(r["status"], shown(r["path"]), " ".join(str(r["error"] or "").split())) for r in reports]
    width = max(len(p) for _, p, _ in rows)
    lines = [f"files not loaded ({len(rows)}):", f"  {'status':<12} {'file':<{width}}  reason"]
    lines += [f"  {status:<12} {path:<{width}}  {reason}" for status, path, reason in rows]
    return "\n".join(lines)


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

    Assets that share a partitioning run together, in as few runs as their dependencies allow (`_stages`):
    unpartitioned ones as one run, time-partitioned ones as one run over the days the time series covers.
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
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys,
            tags=tags,
            raise_on_error=False,
            run_config={"loggers": CONSOLE_LOGGING},
        )
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
    """`keys` (toposorted) in runs of one partitioning each, as few as their dependencies allow: an asset
    joins the earliest run of its partitioning that comes after the runs of all its upstream assets.
    (Cutting the toposorted list wherever the partitioning changes put the dbt views downstream of
    measurements, which need no features, into a second dbt build after the features run.)"""
    stages: list[tuple[object, list[dg.AssetKey]]] = []
    stage_of: dict[dg.AssetKey, int] = {}  # key -> the run it is in (unmaterializable: its upstream's latest)
    for key in keys:
        node = graph.get(key)
        after = max((stage_of[parent] for parent in node.parent_keys if parent in stage_of), default=0)
        if not node.is_materializable:
            stage_of[key] = after
            continue
        index = next((i for i in range(after, len(stages)) if stages[i][0] == node.partitions_def), None)
        if index is None:
            stages.append((node.partitions_def, []))
            index = len(stages) - 1
        stages[index][1].append(key)
        stage_of[key] = index
    return stages


def _partition_span(partitions_def) -> tuple[str, str] | None:
    """First and last partition that the measurements' time span touches."""
    with connect(settings.database_url()) as conn:
        first, last = conn.execute("SELECT min(time), max(time) FROM timeseries.measurements").fetchone()
    if first is None:
        return None
    keys = partitions_def.get_partition_keys()  # the time series may begin before the first partition
    if not keys:
        return None
    start = max(partitions_def.get_partition_key_for_timestamp(first.timestamp()), keys[0])
    end = min(partitions_def.get_partition_key_for_timestamp(last.timestamp()), keys[-1])
    return (start, end) if start <= end else None


def _rows_per_layer() -> list[tuple[str, int]]:
    tables = [("metadata", "files")]
    with connect(settings.database_url()) as conn:
        tables += conn.execute(
            """SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'staging'
               UNION ALL SELECT 'timeseries', 'measurements'
               UNION ALL SELECT 'timeseries', 'electricity_prices'
               UNION ALL SELECT 'timeseries', 'forecast_errors'
               UNION ALL SELECT 'features', 'extracted_features'
               UNION ALL SELECT 'moga', 'solutions'
               UNION ALL SELECT 'moga', 'plans'
               UNION ALL SELECT 'moga', 'backtest' ORDER BY 1, 2"""
        ).fetchall()
        counts = []
        for schema, table in tables:
            try:
                count = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
                ).fetchone()[0]
            except psycopg.errors.UndefinedTable:
                conn.rollback()
                continue
            counts.append((f"{schema}.{table}", count))
    return counts


def _moga_summary(blocked_by: list[str] = ()) -> list[str]:
    """First line: zones with MOGA results; then one line per zone without, and why (the zone's latest
    `moga.runs` row says `skipped` with its reason, or a model's status and reason). `blocked_by`: failed
    blocking checks that kept the optimiser from running at all."""
    from greenhouse_assets.moga import store

    with connect(settings.database_url()) as conn:
        models = store.latest_models(conn)
        runs = conn.execute("""
            SELECT DISTINCT ON (r.site, r.zone) r.site, r.zone, r.status, r.reason, r.horizon_start::date,
                   (SELECT count(*) FROM moga.solutions s WHERE s.moga_run_id = r.moga_run_id)
              FROM moga.runs r ORDER BY r.site, r.zone, r.created_at DESC, r.moga_run_id DESC""").fetchall()
    done = {(site, zone): (horizon, n) for site, zone, state, _, horizon, n in runs if n and state == "optimised"}
    skipped = {(site, zone): why for site, zone, state, why, _, n in runs if state == "skipped" or not n}

    def basis(site: str, zone: str) -> str:
        """A result resting on the cover type's literature heat balance (its fit rejected) says so."""
        status = models.get((site, zone), {}).get("energy", {}).get("status")
        return "" if status in (None, "validated") else f", energy: {status} model"

    lines = [
        f"{len(done)} of {len(models.keys() | done.keys())} zones have results: "
        + (
            ", ".join(
                f"{site}/{zone} ({n} solutions for {horizon}{basis(site, zone)})"
                for (site, zone), (horizon, n) in sorted(done.items())
            )
            or "none"
        )
    ]
    for site, zone in sorted(set(models) | set(skipped)):
        if (site, zone) in done:
            continue
        why = skipped.get((site, zone)) or _model_reason(models.get((site, zone), {}), blocked_by)
        lines.append(f"no result for {site}/{zone}: {why}")
    return lines


def _plan_summary() -> list[str]:
    """One line per zone's day-ahead plan (moga.plan_days): day, cost and photosynthesis, lamp hours, sources."""
    with connect(settings.database_url()) as conn:
        rows = conn.execute("""
            SELECT d.site, d.zone, d.day, d.cost_eur_m2, d.photosynthesis_g_m2, d.price_source, d.weather_source,
                   (SELECT string_agg(p.hour::text, ',' ORDER BY p.hour) FROM moga.plans p
                     WHERE (p.site, p.zone, p.day) = (d.site, d.zone, d.day) AND p.lamp_level > 0)
              FROM moga.plan_days d
             WHERE d.day = (SELECT max(day) FROM moga.plan_days x WHERE (x.site, x.zone) = (d.site, d.zone))
             ORDER BY 1, 2""").fetchall()
    return [
        f"{site}/{zone} {day}: cost {cost:.3f} EUR/m², photosynthesis {photo:.1f} g CH2O/m², lamps in UTC hours "
        f"{lamps or 'none'}; electricity {prices.split(' (')[0]}; weather {weather}"
        for site, zone, day, cost, photo, prices, weather, lamps in rows
    ]


def _backtest_summary() -> str:
    """The stored backtest in one line: days per zone, days at equal-or-better photosynthesis, median saving."""
    from greenhouse_assets.moga import backtest, plan_store

    with connect(settings.database_url()) as conn:
        rows = plan_store.load_backtest(conn)
    if not rows:
        return "no complete past day"
    summary = backtest.summarise(rows)
    zones = Counter(f"{r['site']}/{r['zone']}" for r in rows)
    per_zone = ", ".join(f"{zone} {n}" for zone, n in sorted(zones.items()))
    median = summary["median_saving_pct"]
    return (
        f"{summary['days'] + summary['days_no_plan']} day(s) ({per_zone}); plan at equal or better modelled "
        f"photosynthesis on {summary['days_equal_or_better']}, short on {summary['days_plan_short']}, no "
        f"feasible plan on {summary['days_no_plan']}; median modelled saving "
        + (f"{median:.1f} %" if median is not None else "n/a")
        + (" (flagged: likely model error)" if summary["likely_model_error"] else "")
    )


def _model_reason(models: dict[str, dict], blocked_by: list[str]) -> str:
    """Why a zone without a `moga.runs` row has no result: its energy model's status, else a blocking check."""
    energy = models.get("energy")
    if energy is None:
        return "no energy model"
    if energy["status"] != "validated":
        return f"energy model {energy['status']}: {energy['reason']}"
    if blocked_by:
        return f"its models pass, but the optimiser did not run: blocking check {', '.join(blocked_by)} failed"
    return "the optimiser has not run for it yet"
