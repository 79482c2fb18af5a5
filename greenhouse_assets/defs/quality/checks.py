"""Great Expectations suites (quality/expectations/*.json) as Dagster asset checks.

Staging, per file version (partition of `file_versions`), from one pass of aggregates over the
version's staged rows:
- `timestamps_usable` (ERROR, blocking): what makes the rows unusable: no rows, a row without a
  timestamp, repeated row numbers, times that cannot be real (before 1990 or more than a day ahead:
  a logger whose clock was reset). A failure excludes *that version* from the time series
  (`metadata.files.excluded_by_check`, quality/exclusions.py); every other version flows on. A pass
  lifts an earlier exclusion by this check.
- `timestamps_monotonic` (WARN): rows the logger sent again load; the check counts repeats (same
  time, identical values), conflicting timestamps (same time, different values: the later row in the
  file wins in `measurements`) and back-steps, against the file's own direction (exports listed newest
  first, like Energi Data Service's Elspotprices, run backwards throughout: an order, not a clock).
- `completeness` (WARN).
All run in SQL. Great Expectations judges staged raw data only; the contract tables
(`timeseries.measurements` and the dbt views) are judged by dbt tests (defs/transform/dbt.py), so
each rule has one owner (README, "Data quality").
The staging suites' batches are a row or a few computed above: quality.small_batch judges them by the same
JSON without importing GX (seconds of every run process; its outcome is GX's, tests/test_quality_small_batch.py).
"""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)
from psycopg import sql

from greenhouse_assets import catalog
from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.ingest.raw import OP_NAME, batch_members
from greenhouse_assets.defs.ingest.staging import SOURCES, staging_key
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.ingest import file_registry, staged_profile
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.quality import exclusions, small_batch, time_limits

USABLE, ORDER = "timestamps_usable", "timestamps_monotonic"
# check name -> (suite, blocking, the aggregates it reports)
STAGING_CHECKS = {
    USABLE: (
        "staging_timestamps",
        True,
        (
            "staged_rows",
            "rows_without_time",
            "first_row_without_time",
            "repeated_row_numbers",
            "implausible_times",
            "first_implausible_row",
            "first_implausible_time",
            "first_time",
            "last_time",
        ),
    ),
    ORDER: (
        "staging_time_order",
        False,
        ("repeated_rows", "conflicting_timestamps", "backward_steps", "first_backward_row"),
    ),
    "completeness": ("staging_completeness", False, ()),
}


def _timestamp_aggregates(conn, source: str, file_id: int, path: str, run_id: str | None = None) -> dict:
    """One row of aggregates over the version's staged rows: one scan in file order, and, only when that
    scan cannot rule repeats out, one grouping by time with the values of only the rows whose timestamp
    occurs more than once, compared as text. Where the registry rule names a `series_key` (spot prices:
    one row per hour and price area), a row is its time plus those columns: steps and repeats are taken
    per key.

    Why the grouping is conditional: in a version with a time on every row whose steps (per key) all go
    strictly one way, no time can occur twice, so there are no repeated or conflicting rows; the file-order
    scan sees that. Most exports are such files, and grouping 1 M timestamps was over half of this
    check's time (~1.5 s of a 1 M-row `greenhouse ingest`); a file that does step back, stand still or
    lack a time is grouped as before, so every outcome is the grouping's.

    The file-order scan is skipped where the run that loaded the rows profiled them as it copied them
    (ingest/staged_profile.py: the same aggregates, from the batches sent, for a run's own checks)."""
    table = sql.Identifier(catalog.STAGING_SCHEMA, catalog.staging_table_name(source))
    _source, rule = SourceRegistry.load().match(Path(path))
    columns, keys = [], []
    for staged, original in conn.execute(
        "select staged_column, original_name from metadata.file_columns where file_id = %s order by position",
        (file_id,),
    ):
        (keys if rule.keys_rows(original) else columns).append(staged)
    partition = (
        sql.SQL("partition by {} ").format(sql.SQL(", ").join(sql.Identifier(k) for k in keys)) if keys else sql.SQL("")
    )
    implausible = sql.SQL("(time < {} or time > now() + {}::interval)").format(
        sql.Literal(time_limits.EARLIEST_TIME), sql.Literal(time_limits.LATEST_AHEAD)
    )
    in_file_order = sql.SQL("""
        with steps as (
            select _row_number, time, lag(_row_number) over file_order as previous_row,
                   lag(time) over file_order as previous_time
            from {table} where _file_id = {file_id}
            window file_order as ({partition}order by _row_number)
        )
        select count(*) as staged_rows,
               count(*) filter (where time is null) as rows_without_time,
               min(_row_number) filter (where time is null) as first_row_without_time,
               count(*) filter (where _row_number = previous_row) as repeated_row_numbers,
               count(*) filter (where {implausible}) as implausible_times,
               min(_row_number) filter (where {implausible}) as first_implausible_row,
               (array_agg(time order by _row_number) filter (where {implausible}))[1] as first_implausible_time,
               min(time) as first_time, max(time) as last_time,
               -- "back" is against the file's majority direction (a newest-first export runs backwards)
               case when count(*) filter (where time < previous_time) > count(*) filter (where time > previous_time)
                    then count(*) filter (where time > previous_time)
                    else count(*) filter (where time < previous_time) end as backward_steps,
               case when count(*) filter (where time < previous_time) > count(*) filter (where time > previous_time)
                    then min(_row_number) filter (where time > previous_time)
                    else min(_row_number) filter (where time < previous_time) end as first_backward_row,
               count(*) filter (where time <= previous_time) = 0
                   or count(*) filter (where time >= previous_time) = 0 as strictly_one_way
        from steps""").format(table=table, file_id=sql.Literal(file_id), implausible=implausible, partition=partition)
    profile = None if keys else staged_profile.recall(run_id, file_id)  # the profile has no per-key steps
    if profile is not None:
        aggregates = {n: _in_session_zone(conn, v) for n, v in profile.aggregates.items()}
        one_way = profile.strictly_one_way
    else:
        aggregates = _one_row(conn, in_file_order)
        one_way = aggregates.pop("strictly_one_way")
    if one_way and not aggregates["rows_without_time"]:
        return {**aggregates, "repeated_rows": 0, "conflicting_timestamps": 0}
    values = (
        sql.SQL("row({})::text").format(sql.SQL(", ").join(sql.Identifier("s", c) for c in columns))
        if columns
        else sql.SQL("''")
    )
    series = sql.SQL(", ").join([sql.Identifier("time"), *(sql.Identifier(k) for k in keys)])
    repeats = sql.SQL("""
        with repeated_times as (
            select {series} from {table} where _file_id = {file_id} and time is not null
            group by {series} having count(*) > 1
        ),
        per_time as (
            select count(*) as n, count(distinct {values}) as distinct_values
            from {table} s join repeated_times using ({series}) where s._file_id = {file_id} group by {series}
        )
        select coalesce(sum(n - distinct_values), 0)::bigint as repeated_rows,
               count(*) filter (where distinct_values > 1) as conflicting_timestamps
        from per_time""").format(table=table, file_id=sql.Literal(file_id), values=values, series=series)
    return {**aggregates, **_one_row(conn, repeats)}


def _in_session_zone(conn, value):
    """A profiled time as the scan returns it: in the session's time zone (the metadata shows its offset)."""
    return value.astimezone(conn.info.timezone) if isinstance(value, datetime) else value


def _one_row(conn, query: sql.Composed) -> dict:
    with conn.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
        return {d.name: v for d, v in zip(cur.description, row)}


def _literal_row(conn, aggregates: dict, names: tuple[str, ...]) -> str:
    """The aggregates as the one-row batch GX validates (computed once, judged by the suite in SQL)."""
    types = {"first_time": "timestamptz", "last_time": "timestamptz", "first_implausible_time": "timestamptz"}
    return (
        sql.SQL("select {}")
        .format(
            sql.SQL(", ").join(
                sql.SQL("{}::{} as {}").format(
                    sql.Literal(aggregates[n]), sql.SQL(types.get(n, "bigint")), sql.Identifier(n)
                )
                for n in names
            )
        )
        .as_string(conn)
    )


def _completeness_query(conn, source: str, file_id: int, run_id: str | None = None) -> str:
    """One row per mapped column of the version, from a single scan (GX takes a query string); from the
    load's profile (the same counts, as literals) for the checks of the run that loaded the rows."""
    table = sql.Identifier(catalog.STAGING_SCHEMA, catalog.staging_table_name(source))
    columns = [
        c
        for (c,) in conn.execute(
            "select staged_column from metadata.file_columns where file_id = %s and variable is not null", (file_id,)
        )
    ]
    if not columns:
        return "select null::text as staged_column, 1.0 as completeness"
    profile = staged_profile.recall(run_id, file_id)
    if profile is not None and set(columns) <= set(profile.filled):
        rows = profile.aggregates["staged_rows"]
        cells = sql.SQL(", ").join(
            sql.SQL("({}, {}::float8)").format(sql.Literal(c), sql.Literal(profile.filled[c] / rows if rows else None))
            for c in columns
        )
        return (
            sql.SQL("select v.staged_column, v.completeness from (values {}) as v (staged_column, completeness)")
            .format(cells)
            .as_string(conn)
        )
    filled = sql.SQL(", ").join(
        sql.SQL("count({}) as {}").format(sql.Identifier(c), sql.Identifier(f"filled_{i}"))
        for i, c in enumerate(columns)
    )
    cells = sql.SQL(", ").join(
        sql.SQL("({}, {})").format(sql.Literal(c), sql.Identifier(f"filled_{i}")) for i, c in enumerate(columns)
    )
    return (
        sql.SQL(
            "select v.staged_column, v.filled::float8 / nullif(counts.staged_rows, 0) as completeness"
            " from (select count(*) as staged_rows, {} from {} where _file_id = {}) counts"
            " cross join lateral (values {}) as v (staged_column, filled)"
        )
        .format(filled, table, sql.Literal(file_id), cells)
        .as_string(conn)
    )


def unusable_reason(a: dict) -> str:
    """What makes the version's rows unusable, in words (from `_timestamp_aggregates`)."""
    if not a["staged_rows"]:
        return "no rows were staged"
    reasons = []
    if a["rows_without_time"]:
        reasons.append(
            f"{a['rows_without_time']} of {a['staged_rows']} rows have no timestamp "
            f"(first at file row {a['first_row_without_time']})"
        )
    if a["repeated_row_numbers"]:
        reasons.append(f"{a['repeated_row_numbers']} repeated row numbers")
    if a["implausible_times"]:
        reasons.append(
            f"{a['implausible_times']} of {a['staged_rows']} rows have times that cannot be real (before "
            f"{time_limits.EARLIEST_TIME[:10]} or more than {time_limits.LATEST_AHEAD} ahead; a reset logger clock?), "
            f"first at file row {a['first_implausible_row']}: {a['first_implausible_time']:%Y-%m-%d %H:%M:%S} UTC"
        )
    return "; ".join(reasons) or "the suite failed"


def _order_summary(a: dict) -> str:
    return (
        f"{a['repeated_rows']} rows repeated with identical values, {a['conflicting_timestamps']} timestamps "
        f"with conflicting values (the later row in the file wins), {a['backward_steps']} back-steps"
        + (f" (first at file row {a['first_backward_row']})" if a["first_backward_row"] else "")
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset=staging_key(source),
            blocking=blocking,
            partitions_def=file_versions,
            description=f"GX suite `{suite}` on the file version's staged rows"
            + (": a failure keeps this version out of timeseries.measurements" if blocking else ""),
        )
        for source in SOURCES
        for name, (suite, blocking, _) in STAGING_CHECKS.items()
    ],
    can_subset=True,
    name="staging_quality_checks",
)
def staging_quality_checks(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> Iterator[dg.AssetCheckResult | AssetCheckEvaluation]:
    """Judge the run's partition; in a batch run (a range, defs/ingest/batch.py), each of its versions with
    an evaluation of its own partition, as its own run would have given."""
    if context.has_partition_key:
        yield from judge(postgres, context.partition_key, context.selected_asset_check_keys, context.run.run_id)
        return
    yield from partition_evaluations(
        context.instance, postgres, _batch_members(context), context.selected_asset_check_keys, context.run.run_id
    )


def _batch_members(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The range's keys the batch stands for (its ingest config); every key for a range without one."""
    ingest = context.run.run_config.get("ops", {}).get(OP_NAME, {}).get("config", {})
    return batch_members(context.partition_keys, ingest.get("batch") or {})


def partition_evaluations(
    instance: dg.DagsterInstance, postgres: PostgresResource, keys: list[str], check_keys, run_id: str | None
) -> Iterator[AssetCheckEvaluation]:
    """Each partition's evaluations, naming the partition, which a check result in a ranged run cannot: the
    landing sensor's batch judges each version it stages this way (defs/ingest/batch.py)."""
    for key in keys:
        targets: dict[dg.AssetKey, AssetCheckEvaluationTargetMaterializationData | None] = {}
        for result in judge(postgres, key, check_keys, run_id):
            if result.asset_key not in targets:  # one lookup per asset, not per check
                targets[result.asset_key] = _latest_materialization(instance, result.asset_key, key)
            yield _evaluation(result, key, targets[result.asset_key])


def _latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, key: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """Partition `key`'s latest materialization of `asset_key`: what Dagster targets a one-partition run's
    check result at."""
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
    ).records
    if not latest:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        run_id=latest[0].event_log_entry.run_id, storage_id=latest[0].storage_id, timestamp=latest[0].timestamp
    )


def _evaluation(
    result: dg.AssetCheckResult, key: str, target: AssetCheckEvaluationTargetMaterializationData | None
) -> AssetCheckEvaluation:
    """`result` for partition `key`, against `target`."""
    return AssetCheckEvaluation(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        target_materialization_data=target,
        severity=result.severity,
        description=result.description,
        blocking=STAGING_CHECKS[result.check_name][1],
        partition=key,
    )


def judge(
    postgres: PostgresResource, partition_key: str, check_keys, run_id: str | None
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks (`check_keys`) of one file version's partition; `run_id` lets them read the
    aggregates the run's own load profiled (ingest/staged_profile.py) instead of scanning the rows."""
    selected = {key.name for key in check_keys}
    with postgres.connection() as conn:
        version = file_registry.for_partition(conn, partition_key)
        staged = version is not None and version.status in ("loaded", "deactivated")
        aggregates = (
            _timestamp_aggregates(conn, version.source, version.file_id, version.path, run_id)
            if staged and selected & {USABLE, ORDER}
            else {}
        )
        queries = {
            name: _literal_row(conn, aggregates, STAGING_CHECKS[name][2]) for name in (USABLE, ORDER) if aggregates
        }
        if staged and "completeness" in selected:
            queries["completeness"] = _completeness_query(conn, version.source, version.file_id, run_id)
    for key in check_keys:
        suite, _blocking, reported = STAGING_CHECKS[key.name]
        if not staged or key.asset_key != staging_key(version.source):
            # Another source's table, or nothing staged (duplicate / quarantined): nothing to judge.
            yield dg.AssetCheckResult(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=True,
                metadata={"skipped": f"partition {partition_key} has no rows here"},
            )
            continue
        outcome = small_batch.run(postgres, suite, queries[key.name])  # no GX import per run
        metadata = {
            **outcome.metadata(),
            "file_id": version.file_id,
            "path": version.path,
            **{n: _metadata_value(aggregates[n]) for n in reported},
        }
        description = None
        if key.name == ORDER:
            description = _order_summary(aggregates)
        elif key.name == USABLE:
            with postgres.connection() as conn:
                if not outcome.passed and outcome.severity == "ERROR":
                    # Written before the result is reported: automation waits for this check (policies.py),
                    # so no dbt run can start between the failure and the mark.
                    reason = unusable_reason(aggregates)
                    exclusions.exclude(conn, version.file_id, key.name, reason)
                    description = (
                        f"{version.path} (file version {version.file_id}) is excluded from "
                        f"timeseries.measurements: {reason}"
                    )
                    metadata |= {"excluded_file_id": version.file_id, "exclusion_reason": reason}
                elif exclusions.clear(conn, version.file_id, key.name):
                    description = f"{version.path} (file version {version.file_id}) passes again: no longer excluded"
                    metadata |= {"readmitted_file_id": version.file_id}
        yield dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity(outcome.severity),
            metadata=metadata,
            description=description,
        )


def _metadata_value(value):
    if value is None:
        return dg.MetadataValue.null()
    return value.isoformat() if hasattr(value, "isoformat") else value
