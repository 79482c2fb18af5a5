"""Sensors that tell people: failed runs, failed asset checks and stale assets (alerts), and finished
writes (OpenLineage).

- `alert_on_run_failure`: every failed run of this code location, with its failed steps and errors,
  its assets and file path tag.
- `alert_on_failed_check`: every failed asset-check evaluation (dbt tests, quality suites, model
  validation; a staging check that excluded a file version names it and why) since its cursor, the
  event-log storage id of the last one it looked at; its first tick looks back one day so that a new
  deployment does not replay old history.
- `alert_on_freshness`: every freshness state change Dagster's freshness daemon records for an asset
  with a `FreshnessPolicy` (governance/freshness.py) to WARN or FAIL, and back to PASS from either;
  same cursor and look-back as the check sensor.
- `openlineage_export`: after a successful run, its audited writes as OpenLineage events.

Every alert has a stable dedup key and goes through `AlertNotifier.send_all`: recorded in
`metadata.alerts`, delivered with retries, marked sent one by one; a key already sent is never sent
again, and each tick first re-sends the alerts earlier ticks could not deliver.
"""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from greenhouse_assets.defs.governance.resources import AlertNotifier, OpenLineageExport
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance.alerts import Alert
from greenhouse_assets.governance.openlineage import events_for_run

FIRST_LOOKBACK_S = 24 * 3600
MAX_CHECK_EVENTS = 500
MAX_FRESHNESS_EVENTS = 500


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends an alert for every failed run (GREENHOUSE_ALERT_NOTIFIER).",
)
def alert_on_run_failure(
    context: dg.RunFailureSensorContext, alerts: AlertNotifier, postgres: PostgresResource
) -> None:
    alerts.send(run_failure_alert(context.instance, context.dagster_run, context.failure_event), context.log, postgres)


def run_failure_alert(instance: dg.DagsterInstance, run: dg.DagsterRun, failure_event: dg.DagsterEvent) -> Alert:
    """The failed steps and their errors, the run's assets, file and partition, when, and what to do."""
    steps = {
        entry.step_key: _step_error(entry.dagster_event)
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    }
    message = "; ".join(f"{step}: {error}" for step, error in steps.items()) or failure_event.message
    failures = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    failed_at = _iso(failures[-1].timestamp if failures else time.time())
    keys = run.asset_selection or {
        record.event_log_entry.dagster_event.asset_key
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
        ).records
    }
    assets = sorted(key.to_user_string() for key in keys if key is not None)
    path = run.tags.get("greenhouse/path")
    action = f"open run {run.run_id} in the UI, fix the cause named above, then Re-execute → From failure" + (
        f"; the file {path} is loaded once it succeeds" if path else ""
    )
    where = ", ".join(filter(None, [", ".join(assets) or None, f"file {path}" if path else None]))
    return Alert(
        kind="run_failure",
        key=f"run_failure:{run.run_id}",
        text=f"Run {run.run_id} of job {run.job_name} failed at {failed_at}"
        + (f" ({where})" if where else "")
        + f": {message.rstrip('. ')}. To do: {action}.",
        details={
            "run_id": run.run_id,
            "job": run.job_name,
            "failed_steps": steps,
            "assets": assets,
            "path": path,
            "partition": run.tags.get("dagster/partition"),
            "failed_at": failed_at,
            "action": action,
        },
    )


def _step_error(event: dg.DagsterEvent) -> str:
    """The `dg.Failure` description the asset gave, else the exception's message."""
    data = event.step_failure_data
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message.strip() if data.error else "step failed"


def _events_after(instance: dg.DagsterInstance, event_type: dg.DagsterEventType, cursor: int | None, limit: int):
    return instance.get_event_records(
        dg.EventRecordsFilter(
            event_type=event_type,
            after_cursor=cursor,
            after_timestamp=None if cursor is not None else time.time() - FIRST_LOOKBACK_S,
        ),
        limit=limit,
        ascending=True,
    )


def failed_check_alerts(instance: dg.DagsterInstance, cursor: int | None) -> tuple[list[Alert], int | None]:
    """Alerts for failed check evaluations after `cursor`, and the new cursor."""
    records = _events_after(instance, dg.DagsterEventType.ASSET_CHECK_EVALUATION, cursor, MAX_CHECK_EVENTS)
    found = []
    for record in records:
        evaluation = record.event_log_entry.asset_check_evaluation
        if evaluation is None or evaluation.passed:
            continue
        asset = evaluation.asset_key.to_user_string()
        # A per-file-version check that kept its version out of the time series says which (checks.py).
        excluded = {
            key: evaluation.metadata[key].value
            for key in ("excluded_file_id", "path", "exclusion_reason")
            if "excluded_file_id" in evaluation.metadata and key in evaluation.metadata
        }
        if excluded:
            action = (
                "fix the file and drop the corrected version into the landing folder (or fix its staged rows "
                "and re-run the check); the other files flow on"
            )
        elif evaluation.blocking:
            action = f"assets downstream of {asset} wait for this check: fix the data, then re-run the check"
        else:
            action = f"look at the check on {asset} in the UI; nothing downstream is held back"
        since = _iso(record.timestamp)
        found.append(
            Alert(
                kind="check_failure",
                key=f"check:{record.storage_id}",
                text=f"Check {evaluation.check_name} on {asset} failed ({evaluation.severity.value}) at {since}: "
                f"{(evaluation.description or 'no description').rstrip('. ')}. To do: {action}.",
                details={
                    "asset": asset,
                    "check": evaluation.check_name,
                    "severity": evaluation.severity.value,
                    "blocking": evaluation.blocking,
                    "run_id": record.run_id,
                    "partition": evaluation.partition,
                    "failed_at": since,
                    "action": action,
                    **excluded,
                },
            )
        )
    return found, (records[-1].storage_id if records else cursor)


@dg.sensor(
    name="alert_on_failed_check",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends an alert for every failed asset check evaluation (GREENHOUSE_ALERT_NOTIFIER), "
    "and re-sends alerts earlier ticks could not deliver.",
)
def alert_on_failed_check(
    context: dg.SensorEvaluationContext, alerts: AlertNotifier, postgres: PostgresResource
) -> dg.SensorResult:
    found, cursor = failed_check_alerts(context.instance, int(context.cursor) if context.cursor else None)
    done = alerts.send_all(found, context.log, postgres)
    return dg.SensorResult(
        cursor=None if cursor is None else str(cursor),
        skip_reason=None if done.sent else "no failed check since the last tick",
    )


FRESHNESS_ACTIONS = (
    (
        "timeseries/",
        "drop new exports into the landing folder (GREENHOUSE_LANDING_DIR), or check the ticks of "
        "landing_sensor and timeseries_automation and the last failed run",
    ),
    (
        "features/",
        "check that timeseries/measurements is fresh, the ticks of features_sensor and moga_automation "
        "and the last failed run",
    ),
)


def _freshness_action(asset: str) -> str:
    return next(
        (action for prefix, action in FRESHNESS_ACTIONS if asset.startswith(prefix)),
        "check the sensor or automation that updates it and its last failed run",
    )


def _thresholds(policy) -> tuple[dict, str]:
    if isinstance(policy, dg.FreshnessPolicy) and hasattr(policy, "fail_window"):
        fail = policy.fail_window.to_timedelta()
        warn = policy.warn_window.to_timedelta() if policy.warn_window else None
        text = (
            f"it warns after {_hours(warn)} and fails after {_hours(fail)} without an update"
            if warn
            else f"it fails after {_hours(fail)} without an update"
        )
        return {
            "warn_after_hours": warn and warn.total_seconds() / 3600,
            "fail_after_hours": fail.total_seconds() / 3600,
        }, text
    if policy is not None and hasattr(policy, "deadline_cron"):
        return (
            {
                "deadline_cron": policy.deadline_cron,
                "lower_bound_hours": policy.lower_bound_delta.total_seconds() / 3600,
            },
            f"it must be updated in the {_hours(policy.lower_bound_delta)} before each '{policy.deadline_cron}'",
        )
    return {}, "its freshness policy is not in this code location"


def freshness_alerts(
    instance: dg.DagsterInstance, cursor: int | None, asset_graph=None
) -> tuple[list[Alert], int | None]:
    """Alerts for freshness state changes after `cursor` to WARN or FAIL, or back to PASS from either;
    and the new cursor. `asset_graph` (the code location's) gives the policies' thresholds."""
    records = _events_after(instance, dg.DagsterEventType.FRESHNESS_STATE_CHANGE, cursor, MAX_FRESHNESS_EVENTS)
    found = []
    for record in records:
        change = record.event_log_entry.dagster_event.asset_freshness_state_change_data
        new, previous = change.new_state.value, change.previous_state.value
        if not (new in ("WARN", "FAIL") or (new == "PASS" and previous in ("WARN", "FAIL"))):
            continue
        asset = change.key.to_user_string()
        # The last update the daemon saw: the newest materialization stored before the change.
        last = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=change.key, before_storage_id=record.storage_id), limit=1
        ).records
        since = _iso(last[0].timestamp) if last else None
        policy = (
            asset_graph.get(change.key).freshness_policy_or_from_metadata
            if asset_graph is not None and asset_graph.has(change.key)
            else None
        )
        limits, limits_text = _thresholds(policy)
        changed_at = _iso(change.state_change_timestamp)
        if new == "PASS":
            action = "nothing: it was updated"
            text = f"{asset} is fresh again (PASS, was {previous}): updated {since}."
        else:
            action = _freshness_action(asset)
            age = (
                f" ({(change.state_change_timestamp - last[0].timestamp) / 3600:.0f} h before {changed_at})"
                if last
                else ""
            )
            text = (
                f"{asset} is {new} on freshness since {changed_at}: last updated "
                f"{since + age if since else 'never'}; {limits_text}. To do: {action}."
            )
        found.append(
            Alert(
                kind="freshness",
                key=f"freshness:{asset}:{new}:{since or 'never'}",
                text=text,
                details={
                    "asset": asset,
                    "state": new,
                    "previous_state": previous,
                    "last_updated": since,
                    "state_changed_at": changed_at,
                    **limits,
                    "action": action,
                },
            )
        )
    return found, (records[-1].storage_id if records else cursor)


@dg.sensor(
    name="alert_on_freshness",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends an alert when an asset's freshness turns WARN or FAIL, and when it passes again "
    "(GREENHOUSE_ALERT_NOTIFIER).",
)
def alert_on_freshness(
    context: dg.SensorEvaluationContext, alerts: AlertNotifier, postgres: PostgresResource
) -> dg.SensorResult:
    graph = context.repository_def.asset_graph if context.repository_def is not None else None
    found, cursor = freshness_alerts(context.instance, int(context.cursor) if context.cursor else None, graph)
    done = alerts.send_all(found, context.log, postgres)
    return dg.SensorResult(
        cursor=None if cursor is None else str(cursor),
        skip_reason=None if done.sent else "no freshness change to WARN, FAIL or back to PASS",
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="openlineage_export",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Exports each successful run's writes as OpenLineage events "
    "(GREENHOUSE_OPENLINEAGE_URL or GREENHOUSE_OPENLINEAGE_FILE).",
)
def openlineage_export(context: dg.RunStatusSensorContext, postgres: PostgresResource, openlineage: OpenLineageExport):
    client = openlineage.client()
    if client is None:
        return dg.SkipReason("OpenLineage export is off: set GREENHOUSE_OPENLINEAGE_URL or _FILE")
    run = context.dagster_run
    with postgres.connection() as conn:
        events = events_for_run(conn, run.run_id, run.job_name)
    for event in events:
        client.emit(event)
    context.log.info(f"exported {len(events)} OpenLineage events for run {run.run_id}")
