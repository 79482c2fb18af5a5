"""The sensors that carry a landed file from staging to MOGA results with no manual launch.

`landing_sensor` (defs/ingest) runs raw + staging. Then:
- `timeseries_automation` evaluates the dbt models' conditions every `GREENHOUSE_SENSOR_INTERVAL` s.
- `features_sensor` recomputes the day partitions the new data touches. Declarative automation
  cannot see which days a file covers: `timeseries/measurements` is unpartitioned, so to Dagster
  every day depends on it, and `eager()` would pick only the latest day (today, not the file's).
  The measurements asset records the file versions it reflects in its bookkeeping table; the
  sensor reads the time span of each version newer than its cursor and requests those days plus
  the day before (whose rolling windows reach into them), one run per contiguous range (the asset
  has a single-run backfill policy).
- `moga_automation` evaluates feature importance and the MOGA assets every `GREENHOUSE_MOGA_INTERVAL`
  s (default 600): their conditions fire when their inputs changed, so they run at most once per
  interval however many files arrive, and a failed blocking check stops the chain where it fails.
"""

import json
import os
from datetime import date, timedelta

import dagster as dg
import psycopg

from greenhouse_assets.defs.features.assets import daily
from greenhouse_assets.defs.resources import PostgresResource

SENSOR_INTERVAL = int(os.environ.get("GREENHOUSE_SENSOR_INTERVAL", 15))
MOGA_INTERVAL = int(os.environ.get("GREENHOUSE_MOGA_INTERVAL", 600))
FEATURES = dg.AssetKey(["features", "extracted_features"])
MOGA_TARGETS = dg.AssetSelection.assets(
    ["features", "feature_importance"], "moga_objective_models", "moga_results")

timeseries_automation = dg.AutomationConditionSensorDefinition(
    "timeseries_automation", target=dg.AssetSelection.groups("timeseries"),
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=SENSOR_INTERVAL,
    description="Runs the dbt models when a file version reaches staging.",
)

moga_automation = dg.AutomationConditionSensorDefinition(
    "moga_automation", target=MOGA_TARGETS,
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=MOGA_INTERVAL,
    description="Feature importance, objective models and MOGA results after new day features; "
                "at most once per GREENHOUSE_MOGA_INTERVAL seconds.",
)


def new_file_days(conn: psycopg.Connection, after_file_id: int) -> tuple[int, set[date]]:
    """Highest file version measurements reflect, and the UTC days (and each day before) of newer ones
    that have a daily partition."""
    try:
        rows = conn.execute(
            """SELECT s.file_id, (min(m.time) AT TIME ZONE 'UTC')::date, (max(m.time) AT TIME ZONE 'UTC')::date
               FROM timeseries.measurement_file_state s
               LEFT JOIN timeseries.measurements m USING (file_id)
               WHERE s.file_id > %s GROUP BY s.file_id""", (after_file_id,)).fetchall()
    except psycopg.errors.UndefinedTable:  # before the first dbt run
        return after_file_id, set()
    days: set[date] = set()
    for _, first, last in rows:
        if first is not None:
            days.update(first + timedelta(days=i) for i in range(-1, (last - first).days + 1))
    return max([after_file_id, *(r[0] for r in rows)]), {d for d in days if d >= daily.start.date()}


def contiguous_ranges(days: set[date]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


@dg.sensor(
    name="features_sensor", target=dg.AssetSelection.assets(FEATURES), minimum_interval_seconds=SENSOR_INTERVAL,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Recomputes the day features of the days that newly loaded file versions cover (and the day before).",
)
def features_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor or '{"file_id": 0}')
    with postgres.connection() as conn:
        last_file_id, days = new_file_days(conn, cursor["file_id"])
    requests = [
        dg.RunRequest(
            run_key=f"features:{last_file_id}:{start}", asset_selection=[FEATURES],
            tags={"dagster/asset_partition_range_start": start.isoformat(),
                  "dagster/asset_partition_range_end": end.isoformat(),
                  "greenhouse/trigger": f"file versions up to {last_file_id}"})
        for start, end in contiguous_ranges(days)
    ]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps({"file_id": last_file_id}),
                           skip_reason=None if requests else "no new file version in timeseries.measurements")
