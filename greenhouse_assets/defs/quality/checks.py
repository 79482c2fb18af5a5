"""Great Expectations suites (quality/expectations/*.json) as Dagster asset checks.

Staging, per file version (partition of `file_versions`): `timestamps_monotonic` is ERROR and
blocking — a time going back in file order (against the file's own direction: a newest-first export
runs backwards throughout) means a mis-parsed date or clock, and must not reach
the time series in the same run; `completeness` is WARN. `timeseries/measurements`: the contract
(allowed variables and series, canonical units, flags) is ERROR and blocking; physical ranges and
daily completeness are WARN (flagged values are kept on purpose). All run in SQL.
"""

from collections.abc import Iterator

import dagster as dg
from psycopg import sql

from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.ingest.staging import SOURCES, staging_key
from greenhouse_assets.defs.quality.metrics import MEASUREMENTS
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.quality import scores, validate


def _result(outcome: validate.Outcome, **key) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity(outcome.severity),
                               metadata=outcome.metadata(), **key)


STAGING_CHECKS = {
    "timestamps_monotonic": ("staging_timestamps", True),
    "completeness": ("staging_completeness", False),
}


def _staging_queries(conn, source: str, file_id: int) -> dict[str, str]:
    """Batch queries of one file version, rendered to plain SQL (GX takes a query string).

    Each is a single pass that returns a row or a few: GX evaluates every expectation as its own
    query over the batch query, so a batch of the file's rows would be scanned (and windowed) once
    per expectation, and the rows themselves never need to reach Python.
    """
    table = sql.Identifier("staging", f"raw_{source}")
    columns = [c for (c,) in conn.execute(
        "select staged_column from metadata.file_columns where file_id = %s and variable is not null", (file_id,))]
    filled = sql.SQL(", ").join(
        sql.SQL("count({}) as {}").format(sql.Identifier(c), sql.Identifier(f"filled_{i}")) for i, c in enumerate(columns))
    cells = sql.SQL(", ").join(
        sql.SQL("({}, {})").format(sql.Literal(c), sql.Identifier(f"filled_{i}")) for i, c in enumerate(columns))
    completeness = (sql.SQL("select v.staged_column, v.filled::float8 / nullif(counts.staged_rows, 0) as completeness"
                            " from (select count(*) as staged_rows, {} from {} where _file_id = {}) counts"
                            " cross join lateral (values {}) as v (staged_column, filled)"
                            ).format(filled, table, sql.Literal(file_id), cells)
                    if columns else sql.SQL("select null::text as staged_column, 1.0 as completeness"))
    # "Backward" is against the file's own direction: exports listed newest first (Energi Data Service's
    # Elspotprices) run backwards throughout, which is an order, not a mis-parsed clock; a file whose
    # steps go both ways (a swapped day and month, a clock stepping back) still fails at its first
    # step against the majority direction.
    timestamps = sql.SQL(
        "select staged_rows, rows_without_time, repeated_row_numbers,"
        " case when descending then forward_steps else backward_steps end as backward_steps,"
        " case when descending then first_forward_row else first_backward_row end as first_backward_row"
        " from (select count(*) as staged_rows, count(*) filter (where time is null) as rows_without_time,"
        " count(*) filter (where _row_number = previous_row) as repeated_row_numbers,"
        " count(*) filter (where time < previous_time) as backward_steps,"
        " count(*) filter (where time > previous_time) as forward_steps,"
        " min(_row_number) filter (where time < previous_time) as first_backward_row,"
        " min(_row_number) filter (where time > previous_time) as first_forward_row"
        " from (select _row_number, time, lag(_row_number) over file_order as previous_row,"
        " lag(time) over file_order as previous_time from {} where _file_id = {}"
        " window file_order as (order by _row_number)) steps) counts"
        " cross join lateral (select counts.backward_steps > counts.forward_steps as descending) direction"
    ).format(table, sql.Literal(file_id))
    return {"staging_timestamps": timestamps.as_string(conn), "staging_completeness": completeness.as_string(conn)}


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=staging_key(source), blocking=blocking, partitions_def=file_versions,
                             description=f"GX suite `{suite}` on the file version's staged rows")
           for source in SOURCES for name, (suite, blocking) in STAGING_CHECKS.items()],
    can_subset=True,
    name="staging_quality_checks",
)
def staging_quality_checks(context: dg.AssetCheckExecutionContext, postgres: PostgresResource
                           ) -> Iterator[dg.AssetCheckResult]:
    with postgres.connection() as conn:
        version = file_registry.for_partition(conn, context.partition_key)
        queries = _staging_queries(conn, version.source, version.file_id) if version and version.status in (
            "loaded", "deactivated") else {}
    for key in context.selected_asset_check_keys:
        suite, _blocking = STAGING_CHECKS[key.name]
        if not queries or key.asset_key != staging_key(version.source):
            # Another source's table, or nothing staged (duplicate / quarantined): nothing to judge.
            yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=True,
                                      metadata={"skipped": f"partition {context.partition_key} has no rows here"})
            continue
        yield _result(validate.run(postgres.url, suite, queries[suite]), asset_key=key.asset_key,
                      check_name=key.name)


@dg.asset_check(asset=MEASUREMENTS, blocking=True,
                description="GX suite `measurements_contract`: allowed variables and series, canonical units, flags")
def ge_contract(postgres: PostgresResource) -> dg.AssetCheckResult:
    return _result(validate.run(postgres.url, "measurements_contract",
                                "select site, variable, unit, value, quality_flag from timeseries.measurements"))


@dg.asset_check(asset=MEASUREMENTS, description="GX suite `measurements_ranges`: physical range per variable (WARN)")
def ge_physical_ranges(postgres: PostgresResource) -> dg.AssetCheckResult:
    return _result(validate.run(postgres.url, "measurements_ranges",
                                "select variable, value from timeseries.measurements"))


@dg.asset_check(asset=MEASUREMENTS,
                description="GX suite `measurements_daily_completeness`: readings per series and UTC day (WARN)")
def ge_daily_completeness(postgres: PostgresResource) -> dg.AssetCheckResult:
    return _result(validate.run(postgres.url, "measurements_daily_completeness",
                                "select * from (" + scores.DAILY_COMPLETENESS + ") daily"))
