"""The sensors that carry a landed file from staging to MOGA results with no manual launch.

`landing_sensor` (defs/ingest) runs raw + staging. Then:
- `timeseries_automation` evaluates the dbt models' conditions every `GREENHOUSE_SENSOR_INTERVAL` s.
- `features_sensor` recomputes the day partitions whose measurements changed. Declarative automation
  cannot see which days a run changed: `timeseries/measurements` is unpartitioned, so to Dagster
  every day depends on it, and `eager()` would pick only the latest day (today, not the file's).
  Each dbt run of measurements records the time spans it recomputed (`timeseries.measurement_changes`:
  a new file version's, a deactivated or reactivated one's, everything on a full refresh); the
  sensor requests the days of the spans newer than its cursor plus the day before each (whose
  rolling windows reach into them), one run per contiguous range (the asset has a single-run
  backfill policy).
- `moga_automation` evaluates feature importance and the MOGA assets every `GREENHOUSE_MOGA_INTERVAL`
  s (default 600): their conditions fire when their inputs changed, so they run at most once per
  interval however many files arrive, and a failed blocking check stops the chain where it fails.
"""

import json
from datetime import date, timedelta

import dagster as dg
import psycopg

from greenhouse_assets import catalog, settings
from greenhouse_assets.defs.features.assets import daily
from greenhouse_assets.defs.resources import PostgresResource

SENSOR_INTERVAL = settings.sensor_interval()
MOGA_INTERVAL = settings.moga_interval()
FEATURES = catalog.EXTRACTED_FEATURES.asset_key
MOGA_TARGETS = dg.AssetSelection.assets(
    *(
        t.asset_key
        for t in (
            catalog.FEATURE_IMPORTANCE,
            catalog.MOGA_OBJECTIVE_MODELS,
            catalog.MOGA_RESULTS,
            catalog.MOGA_PLAN,
            catalog.MOGA_BACKTEST,
        )
    )
)

timeseries_automation = dg.AutomationConditionSensorDefinition(
    "timeseries_automation",
    target=dg.AssetSelection.groups("timeseries"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL,
    description="Runs the dbt models when a file version reaches staging.",
)

moga_automation = dg.AutomationConditionSensorDefinition(
    "moga_automation",
    target=MOGA_TARGETS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=MOGA_INTERVAL,
    description="Feature importance, objective models and MOGA results after new day features, the "
    "day-ahead plan after new prices or forecasts, the backtest after the plan's inputs; "
    "at most once per GREENHOUSE_MOGA_INTERVAL seconds.",
)


def changed_days(conn: psycopg.Connection, after_change_id: int) -> tuple[int, set[date]]:
    """Newest change `timeseries.measurements` recorded, and the UTC days (and each day before) that
    changes after `after_change_id` recomputed, limited to those with a daily partition."""
    try:
        rows = conn.execute(
            """SELECT change_id, (t0 AT TIME ZONE 'UTC')::date, (t1 AT TIME ZONE 'UTC')::date
               FROM timeseries.measurement_changes WHERE change_id > %s""",
            (after_change_id,),
        ).fetchall()
    except psycopg.errors.UndefinedTable:  # before the first dbt run
        return after_change_id, set()
    days: set[date] = set()
    for _, first, last in rows:
        days.update(first + timedelta(days=i) for i in range(-1, (last - first).days + 1))
    return max([after_change_id, *(r[0] for r in rows)]), {d for d in days if d >= daily.start.date()}


def contiguous_ranges(days: set[date]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


@dg.sensor(
    name="features_sensor",
    target=dg.AssetSelection.assets(FEATURES),
    minimum_interval_seconds=SENSOR_INTERVAL,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Recomputes the day features of the days whose measurements changed (and the day before): "
    "new file versions, rollbacks and reactivations.",
)
def features_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor or "{}")
    with postgres.connection() as conn:
        last_change_id, days = changed_days(conn, cursor.get("change_id", 0))
    requests = [
        dg.RunRequest(
            run_key=f"features:{last_change_id}:{start}",
            asset_selection=[FEATURES],
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "greenhouse/trigger": f"timeseries.measurements changes up to {last_change_id}",
            },
        )
        for start, end in contiguous_ranges(days)
    ]
    return dg.SensorResult(
        run_requests=requests,
        cursor=json.dumps({"change_id": last_change_id}),
        skip_reason=None if requests else "no new change in timeseries.measurements",
    )
