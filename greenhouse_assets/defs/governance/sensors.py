"""Sensors that tell people: failed runs and failed asset checks (alerts), and finished writes (OpenLineage).

- `alert_on_run_failure`: every failed run of this code location, with its error and file path tag.
- `alert_on_failed_check`: every failed asset-check evaluation (dbt tests, quality suites, model
  validation; a staging check that excluded a file version names it and why) since its cursor, the
  event-log storage id of the last one it looked at; its first tick looks back one day so that a new
  deployment does not replay old history.
- `openlineage_export`: after a successful run, its audited writes as OpenLineage events.
"""

import time

import dagster as dg

from greenhouse_assets.defs.governance.resources import AlertNotifier, OpenLineageExport
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance.openlineage import events_for_run
from greenhouse_assets.governance.alerts import Alert

FIRST_LOOKBACK_S = 24 * 3600
MAX_CHECK_EVENTS = 500


@dg.run_failure_sensor(name="alert_on_run_failure", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Sends an alert for every failed run (GREENHOUSE_ALERT_NOTIFIER).")
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertNotifier) -> None:
    run = context.dagster_run
    steps = {entry.step_key: _step_error(entry.dagster_event)
             for entry in context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)}
    message = "; ".join(f"{step}: {error}" for step, error in steps.items()) or context.failure_event.message
    alerts.send(Alert(
        kind="run_failure",
        text=f"Run {run.run_id} of job {run.job_name} failed: {message}",
        details={"run_id": run.run_id, "job": run.job_name, "failed_steps": steps,
                 "path": run.tags.get("greenhouse/path"), "partition": run.tags.get("dagster/partition")},
    ), context.log)


def _step_error(event: dg.DagsterEvent) -> str:
    """The `dg.Failure` description the asset gave, else the exception's message."""
    data = event.step_failure_data
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message.strip() if data.error else "step failed"


def failed_check_alerts(instance: dg.DagsterInstance, cursor: int | None) -> tuple[list[Alert], int | None]:
    """Alerts for failed check evaluations after `cursor`, and the new cursor."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=cursor,
                              after_timestamp=None if cursor is not None else time.time() - FIRST_LOOKBACK_S),
        limit=MAX_CHECK_EVENTS, ascending=True)
    found = []
    for record in records:
        evaluation = record.event_log_entry.asset_check_evaluation
        if evaluation is None or evaluation.passed:
            continue
        asset = evaluation.asset_key.to_user_string()
        # A per-file-version check that kept its version out of the time series says which (checks.py).
        excluded = {key: evaluation.metadata[key].value for key in ("excluded_file_id", "path", "exclusion_reason")
                    if "excluded_file_id" in evaluation.metadata and key in evaluation.metadata}
        found.append(Alert(
            kind="check_failure",
            text=f"Check {evaluation.check_name} on {asset} failed ({evaluation.severity.value}): "
                 f"{evaluation.description or 'no description'}",
            details={"asset": asset, "check": evaluation.check_name, "severity": evaluation.severity.value,
                     "blocking": evaluation.blocking, "run_id": record.run_id, "partition": evaluation.partition,
                     **excluded},
        ))
    return found, (records[-1].storage_id if records else cursor)


@dg.sensor(name="alert_on_failed_check", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Sends an alert for every failed asset check evaluation (GREENHOUSE_ALERT_NOTIFIER).")
def alert_on_failed_check(context: dg.SensorEvaluationContext, alerts: AlertNotifier) -> dg.SensorResult:
    found, cursor = failed_check_alerts(context.instance, int(context.cursor) if context.cursor else None)
    for alert in found:
        alerts.send(alert, context.log)
    return dg.SensorResult(cursor=None if cursor is None else str(cursor),
                           skip_reason=None if found else "no failed check since the last tick")


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name="openlineage_export",
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="Exports each successful run's writes as OpenLineage events "
                                  "(GREENHOUSE_OPENLINEAGE_URL or GREENHOUSE_OPENLINEAGE_FILE).")
def openlineage_export(context: dg.RunStatusSensorContext, postgres: PostgresResource,
                       openlineage: OpenLineageExport):
    client = openlineage.client()
    if client is None:
        return dg.SkipReason("OpenLineage export is off: set GREENHOUSE_OPENLINEAGE_URL or _FILE")
    run = context.dagster_run
    with postgres.connection() as conn:
        events = events_for_run(conn, postgres.url, run.run_id, run.job_name)
    for event in events:
        client.emit(event)
    context.log.info(f"exported {len(events)} OpenLineage events for run {run.run_id}")

