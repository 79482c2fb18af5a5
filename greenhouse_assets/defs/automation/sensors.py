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
  backfill policy). It also decides whether those runs start the MOGA chain (the day rule below)
  and says so in the run tag `greenhouse/completes_day`.
- `moga_automation` evaluates feature importance, the objective models and MOGA results every
  `GREENHOUSE_MOGA_INTERVAL` s (default 30): they run once the day features of a run tagged
  "true" are written (policies.after_complete_day), once however many such runs ended since the
  last evaluation, and a failed blocking check stops the chain where it fails.
- `plan_automation` evaluates the day-ahead plan and its backtest every `GREENHOUSE_PLAN_INTERVAL` s
  (default 600): the plan follows prices and forecasts, which arrive with any file, so it keeps a
  clock as its bound; new objective models reach it at its next evaluation.

The day rule. A UTC day is complete for a (site, zone) once the zone has a measurement on a later
day: its data clock passed midnight, so no reading of an ordinary stream is still to come for it.
A features run is tagged "true" when, after the measurements changes it follows,
- some zone's newest complete day is later than the sensor last saw (a new complete day), or
- a change's own span (the recomputed span without the anomaly margin the dbt model adds on each
  side) starts on or before the newest day that was already complete, for any zone (a late file,
  a new version, a rollback or a reactivation that changed a complete day's data; the spans do not
  say which zone, so a revision in one zone counts for all: MOGA recomputes rather than misses it).
A file that only adds readings to the day in progress tags its run "false" and leaves MOGA alone.
"""

import json
from datetime import date, timedelta

import dagster as dg
import psycopg

from greenhouse_assets import catalog, settings
from greenhouse_assets.defs.automation.policies import COMPLETES_DAY_TAG
from greenhouse_assets.defs.features.assets import daily
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.transform.variables import dbt_vars

SENSOR_INTERVAL = settings.sensor_interval()
MOGA_INTERVAL = settings.moga_interval()
PLAN_INTERVAL = settings.plan_interval()
FEATURES = catalog.EXTRACTED_FEATURES.asset_key
MOGA_TARGETS = dg.AssetSelection.assets(
    *(t.asset_key for t in (catalog.FEATURE_IMPORTANCE, catalog.MOGA_OBJECTIVE_MODELS, catalog.MOGA_RESULTS))
)
PLAN_TARGETS = dg.AssetSelection.assets(*(t.asset_key for t in (catalog.MOGA_PLAN, catalog.MOGA_BACKTEST)))
# The margin the measurements model widens each recomputed span by on both sides (dbt var).
ANOMALY_MARGIN = dbt_vars()["anomaly_half_window"]

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
    description="Feature importance, objective models and MOGA results once a data day is complete (or a "
    "complete day's data changed) and its day features are written; at most once per "
    "GREENHOUSE_MOGA_INTERVAL seconds however many days complete.",
)

plan_automation = dg.AutomationConditionSensorDefinition(
    "plan_automation",
    target=PLAN_TARGETS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=PLAN_INTERVAL,
    description="The day-ahead plan after new prices, forecasts or objective models, the backtest after the "
    "plan's inputs; at most once per GREENHOUSE_PLAN_INTERVAL seconds.",
)


def changed_days(conn: psycopg.Connection, after_change_id: int) -> tuple[int, set[date], date | None]:
    """Newest change `timeseries.measurement_changes` recorded; the UTC days (and each day before) that
    changes after `after_change_id` recomputed, limited to those with a daily partition; and the first
    day of those changes' own spans (without the anomaly margin), None without a change."""
    try:
        rows = conn.execute(
            """SELECT change_id, (t0 AT TIME ZONE 'UTC')::date, (t1 AT TIME ZONE 'UTC')::date,
                      ((t0 + %s::interval) AT TIME ZONE 'UTC')::date
               FROM timeseries.measurement_changes WHERE change_id > %s""",
            (ANOMALY_MARGIN, after_change_id),
        ).fetchall()
    except psycopg.errors.UndefinedTable:  # before the first dbt run
        return after_change_id, set(), None
    days: set[date] = set()
    for _, first, last, _ in rows:
        days.update(first + timedelta(days=i) for i in range(-1, (last - first).days + 1))
    last_change_id = max([after_change_id, *(r[0] for r in rows)])
    first_own_day = min((r[3] for r in rows), default=None)
    return last_change_id, {d for d in days if d >= daily.start.date()}, first_own_day


def complete_days(conn: psycopg.Connection) -> dict[str, str]:
    """Per "site/zone": its newest complete UTC day (ISO), the day before its latest measurement's day."""
    rows = conn.execute(
        """SELECT site, zone, (max(time) AT TIME ZONE 'UTC')::date - 1
           FROM timeseries.measurements GROUP BY site, zone"""
    ).fetchall()
    return {f"{site}/{zone}": day.isoformat() for site, zone, day in rows}


def completes_day(before: dict[str, str], after: dict[str, str], first_own_day: date | None) -> bool:
    """The day rule (module docstring): a zone's newest complete day moved on, or a change's own span
    starts on or before the newest day already complete."""
    if any(day > before.get(zone, "") for zone, day in after.items()):
        return True
    return first_own_day is not None and bool(before) and first_own_day.isoformat() <= max(before.values())


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
    "new file versions, rollbacks and reactivations; tags the runs greenhouse/completes_day=true when a data "
    "day became complete or a complete day changed, which starts the MOGA chain.",
)
def features_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor or "{}")
    complete, new_day = cursor.get("complete", {}), False
    with postgres.connection() as conn:
        last_change_id, days, first_own_day = changed_days(conn, cursor.get("change_id", 0))
        if days:
            now_complete = complete_days(conn)
            new_day = completes_day(complete, now_complete, first_own_day)
            complete = now_complete
    requests = [
        dg.RunRequest(
            run_key=f"features:{last_change_id}:{start}",
            asset_selection=[FEATURES],
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "greenhouse/trigger": f"timeseries.measurements changes up to {last_change_id}",
                COMPLETES_DAY_TAG: "true" if new_day else "false",
            },
        )
        for start, end in contiguous_ranges(days)
    ]
    return dg.SensorResult(
        run_requests=requests,
        cursor=json.dumps({"change_id": last_change_id, "complete": complete}),
        skip_reason=None if requests else "no new change in timeseries.measurements",
    )
