"""Governance on the real cluster: pseudonymisation, audit trail, lineage, OpenLineage, alerts, freshness.

One generic file with identifying columns goes through real Dagster runs (raw + staging, then dbt);
alerts and the OpenLineage export are real sensor evaluations against a local HTTP server, and
freshness states come from iterations of Dagster's own freshness daemon at chosen (frozen) times.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pyarrow.parquet as pq
import pytest
import yaml

from greenhouse_assets import settings
from greenhouse_assets.database import At, libpq_url
from greenhouse_assets.definitions import defs
from greenhouse_assets.defs.governance.resources import AlertNotifier, AlertsNotDelivered, OpenLineageExport
from greenhouse_assets.defs.governance.sensors import (
    alert_on_failed_check,
    alert_on_freshness,
    alert_on_run_failure,
    openlineage_export,
)
from greenhouse_assets.defs.resources import PostgresResource, resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.governance import alerts, freshness
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry

KEY = "test-pseudonym-key"
OPERATORS = ["Jens Hansen", "Mette Nielsen"]
NOTES = ["vent stuck, called Jens at 0412 345678", "CO2 valve replaced"]
CSV = "timestamp;air_temperature;operator;note\r\n" + "".join(
    f"2014-01-01 00:{m:02d}:00;{20 + m / 10};{OPERATORS[i % 2]};{NOTES[i % 2]}\r\n"
    for i, m in enumerate(range(0, 60, 10))
)


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A local HTTP endpoint on a free port that records every JSON POST."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def identifying_registry(tmp_path, monkeypatch) -> SourceRegistry:
    """The real registry, with `operator` and `note` columns of generic files marked identifying."""
    raw = yaml.safe_load(settings.SOURCE_REGISTRY.read_text(encoding="utf-8"))
    generic = next(s for s in raw["sources"] if s["name"] == "generic")
    generic["rules"][0]["identifying"] = ["^operator", "^note"]
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(settings, "SOURCE_REGISTRY", path)
    return SourceRegistry.load(path)


def _query(url: str, query: str, params=()) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(query, params).fetchall()


def _alerting(notifier: AlertNotifier) -> dict:
    """The alert sensors' resources: the notifier, and the test platform database that records alerts."""
    return {"alerts": notifier, "postgres": PostgresResource(url=settings.database_url())}


def _webhook(server) -> AlertNotifier:
    return AlertNotifier(notifier="webhook", webhook_url=f"http://127.0.0.1:{server.server_port}/alerts")


def _failure_event(instance, run_id: str) -> dg.DagsterEvent:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return records[-1].event_log_entry.dagster_event


def test_identifying_values_never_reach_parquet_staging_or_timeseries(
    clean_platform, identifying_registry, instance, tmp_path, monkeypatch, http_server
):
    landed = tmp_path / "landing" / "operators_2014.csv"
    landed.write_text(CSV, encoding="utf-8")

    # Without the key the run fails clearly, and nothing is stored or quarantined.
    monkeypatch.delenv("GREENHOUSE_PSEUDONYM_KEY", raising=False)
    failed = ingest_file(landed, instance, identifying_registry)
    assert failed["status"] == "failed", failed
    (step_failure,) = instance.all_logs(failed["run_id"], of_type=dg.DagsterEventType.STEP_FAILURE)
    assert (
        "GREENHOUSE_PSEUDONYM_KEY is not set"
        in step_failure.dagster_event.step_failure_data.user_failure_data.description
    )
    assert _query(clean_platform, "SELECT count(*) FROM metadata.files") == [(0,)]
    assert not any(p.is_file() for p in (tmp_path / "lake").rglob("*"))

    # The failed run alerts through the webhook (a real run-failure sensor evaluation).
    run = instance.get_run_by_id(failed["run_id"])
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=_failure_event(instance, run.run_id),
        dagster_instance=instance,
        dagster_run=run,
        resources=_alerting(_webhook(http_server)),
    )
    alert_on_run_failure(context.for_run_failure())
    ((path, alert),) = http_server.received
    assert path == "/alerts" and alert["kind"] == "run_failure"
    assert alert["details"]["run_id"] == run.run_id and "GREENHOUSE_PSEUDONYM_KEY" in alert["text"]

    # With the key: loaded, identifying columns replaced by deterministic keyed HMACs.
    monkeypatch.setenv("GREENHOUSE_PSEUDONYM_KEY", KEY)
    loaded = ingest_file(landed, instance, identifying_registry)
    assert loaded["status"] == "loaded", loaded
    expected = {v: hmac.new(KEY.encode(), v.encode(), hashlib.sha256).hexdigest() for v in OPERATORS + NOTES}
    staged = _query(clean_platform, "SELECT operator, note FROM staging.raw_generic ORDER BY _row_number")
    assert staged == [(expected[OPERATORS[i % 2]], expected[NOTES[i % 2]]) for i in range(6)]
    (parquet_uri,) = _query(
        clean_platform, "SELECT parquet_uri FROM metadata.files WHERE file_id = %s", (loaded["file_id"],)
    )[0]
    parquet = pq.read_table(parquet_uri.removeprefix("file://")).to_pylist()
    assert [r["operator"] for r in parquet] == [s[0] for s in staged]

    build = dg.materialize(
        [timeseries_dbt], instance=instance, resources={**resources().resources, **transform_resources().resources}
    )
    assert build.success
    assert _query(
        clean_platform, "SELECT count(*) FROM timeseries.measurements WHERE file_id = %s", (loaded["file_id"],)
    ) == [(6,)]
    clear = "|".join(OPERATORS + NOTES).replace(" ", "\\s")
    for table in (
        "staging.raw_generic",
        "timeseries.measurements",
        "metadata.files",
        "metadata.file_columns",
        "metadata.schema_versions",
        "metadata.audit_log",
    ):
        assert _query(clean_platform, f"SELECT count(*) FROM {table} t WHERE t::text ~ %s", (clear,)) == [(0,)], table
    assert not any(v in json.dumps(parquet, default=str) for v in OPERATORS + NOTES)

    # Audit: one row per write, with who, what, partition, rows and input file versions.
    audit = _query(
        clean_platform,
        "SELECT asset, table_name, rows_affected, input_file_ids, actor, partition_key "
        "FROM metadata.audit_log ORDER BY audit_id",
    )
    by_asset = {row[0]: row for row in audit}
    assert by_asset["raw/files"][1:4] == ("metadata.files", 6, [loaded["file_id"]])
    assert by_asset["staging/raw_generic"][1:4] == ("staging.raw_generic", 6, [loaded["file_id"]])
    assert by_asset["timeseries/measurements"][1:4] == ("timeseries.measurements", 6, [loaded["file_id"]])
    assert all(row[4] for row in audit) and by_asset["raw/files"][5] == by_asset["staging/raw_generic"][5]

    # Lineage: file version -> raw Parquet and staging table, staging table + file version -> measurements.
    edges = set(_query(clean_platform, "SELECT from_kind, from_ref, to_kind, to_ref FROM metadata.lineage"))
    file_version = ("file_version", str(loaded["file_id"]))
    assert {
        (*file_version, "parquet", parquet_uri),
        (*file_version, "table", "staging.raw_generic"),
        (*file_version, "table", "timeseries.measurements"),
        ("table", "staging.raw_generic", "table", "timeseries.measurements"),
    } <= edges

    # OpenLineage: the dbt run's writes, exported by the real sensor to a local HTTP endpoint.
    http_server.received.clear()
    dbt_run = instance.get_run_by_id(build.run_id)
    success = instance.get_records_for_run(build.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[-1]
    context = dg.build_run_status_sensor_context(
        sensor_name="openlineage_export",
        dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=dbt_run,
        resources={
            "postgres": PostgresResource(url=clean_platform),
            "openlineage": OpenLineageExport(url=f"http://127.0.0.1:{http_server.server_port}"),
        },
    )
    openlineage_export(context)
    events = {body["job"]["name"]: body for path, body in http_server.received if path == "/api/v1/lineage"}
    measurements = events["timeseries/measurements"]
    assert measurements["eventType"] == "COMPLETE"
    assert measurements["run"]["facets"]["parent"]["run"]["runId"] == build.run_id
    assert [o["name"].split(".", 1)[1] for o in measurements["outputs"]] == ["timeseries.measurements"]
    inputs = {i["name"] for i in measurements["inputs"]}
    assert any(name.endswith("staging.raw_generic") for name in inputs)
    assert any(name.startswith(str(tmp_path / "lake" / "raw")) for name in inputs)  # the file version's bytes


@dg.asset(key=["governance_test", "readings"])
def _readings() -> None:
    pass


@dg.asset_check(asset=_readings, name="readings_in_range")
def _readings_in_range() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description="CO2 at 9000 ppm")


def test_failed_check_sends_one_webhook_alert(instance, http_server):
    # From the latest evaluation on: a first tick without a cursor reads the oldest 500 of the last day,
    # and the session's storage holds more than that by the time this runs.
    start = _latest_check_event(instance)
    result = dg.materialize([_readings, _readings_in_range], instance=instance)
    assert not result.get_asset_check_evaluations()[0].passed
    resources = _alerting(_webhook(http_server))

    first = alert_on_failed_check(dg.build_sensor_context(instance=instance, cursor=start, resources=resources))
    ours = [
        a
        for _, a in http_server.received
        if a["details"]["check"] == "readings_in_range" and a["details"]["run_id"] == result.run_id
    ]
    assert len(ours) == 1 and ours[0]["kind"] == "check_failure"
    assert ours[0]["details"]["asset"] == "governance_test/readings" and "CO2 at 9000 ppm" in ours[0]["text"]

    http_server.received.clear()  # the cursor moved past it: the next tick does not repeat it
    alert_on_failed_check(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
    assert http_server.received == []


def test_notifier_is_chosen_by_configuration(caplog):
    alert = alerts.Alert(kind="run_failure", text="run x failed")
    import logging

    alerts.send(alert, notifier="log", webhook_url="", log=logging.getLogger("greenhouse.alerts"))
    assert "run x failed" in caplog.text
    with pytest.raises(ValueError, match="GREENHOUSE_ALERT_WEBHOOK_URL"):
        alerts.send(alert, notifier="webhook", webhook_url="", log=logging.getLogger())
    with pytest.raises(ValueError, match="expected one of"):
        alerts.send(alert, notifier="email", webhook_url="", log=logging.getLogger())


@pytest.mark.pure
def test_timeseries_and_features_have_freshness_policies():
    for key, policy in (
        (["timeseries", "measurements"], freshness.TIMESERIES),
        (["features", "extracted_features"], freshness.FEATURES),
        (["features", "feature_importance"], freshness.FEATURES),
    ):
        spec = next(s for s in defs.resolve_assets_def(dg.AssetKey(key)).specs if s.key == dg.AssetKey(key))
        assert spec.freshness_policy == policy, key
    seed = dg.AssetKey(["timeseries", "column_mappings"])
    assert next(s for s in defs.resolve_assets_def(seed).specs if s.key == seed).freshness_policy is None


# --- alert delivery: retries, a record of what was sent, no repeats ---

NO_WAIT = [0.0, 0.0, 0.0]


@pytest.fixture
def alert_log(database_url, admin_url):
    """An empty metadata.alerts; rows as (dedup_key, kind, status, attempts) in order."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:  # the pipeline may not TRUNCATE
        conn.execute("TRUNCATE metadata.alerts")

    def rows():
        return _query(database_url, "SELECT dedup_key, kind, status, attempts FROM metadata.alerts ORDER BY alert_id")

    return rows


def _latest_check_event(instance) -> str | None:
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1, ascending=False
    )
    return str(records[0].storage_id) if records else None


@dg.asset(key=["governance_test", "broken"])
def _broken() -> None:
    raise dg.Failure(description="sensor cable unplugged")


def test_webhook_retries_with_backoff(webhook):
    slept = []
    alert = alerts.Alert(kind="run_failure", text="run x failed", key="run_failure:x")
    import logging

    webhook.fail_next(2)  # 500, 500, then 204
    assert (
        alerts.send(alert, notifier="webhook", webhook_url=webhook.url, log=logging.getLogger(), sleep=slept.append)
        == 3
    )
    assert (
        slept == [1.0, 2.0]
        and len(webhook.attempts) == 3
        and webhook.received == [{"kind": "run_failure", "text": "run x failed", "details": {}, "key": "run_failure:x"}]
    )

    webhook.fail_always, slept[:] = True, []
    with pytest.raises(alerts.DeliveryFailed, match="after 4 attempts: HTTP 500") as failed:
        alerts.send(alert, notifier="webhook", webhook_url=webhook.url, log=logging.getLogger(), sleep=slept.append)
    assert failed.value.attempts == 4 and slept == [1.0, 2.0, 4.0]


def test_alerts_still_go_out_when_the_database_is_unreachable(caplog):
    from helpers import free_port

    nowhere = At(f"postgresql://greenhouse@127.0.0.1:{free_port()}/nowhere")
    import logging

    done = AlertNotifier(notifier="log").send(
        alerts.Alert(kind="run_failure", text="run y failed", key="run_failure:y"),
        logging.getLogger("greenhouse.alerts"),
        nowhere,
    )
    assert done.sent == ["run_failure:y"] and "run y failed" in caplog.text
    assert "cannot be recorded in metadata.alerts" in caplog.text


def test_alerts_are_retried_recorded_and_never_repeated(instance, webhook, alert_log):
    notifier = AlertNotifier(notifier="webhook", webhook_url=webhook.url, retry_delays=NO_WAIT)
    resources = _alerting(notifier)
    start = _latest_check_event(instance)

    # 1. The webhook fails twice, then accepts: the check alert arrives once, after three attempts.
    webhook.fail_next(2)
    check_run = dg.materialize([_readings, _readings_in_range], instance=instance)
    tick = alert_on_failed_check(dg.build_sensor_context(instance=instance, cursor=start, resources=resources))
    assert len(webhook.attempts) == 3
    (check_alert,) = webhook.received
    assert check_alert["details"]["run_id"] == check_run.run_id and check_alert["key"].startswith("check:")
    assert "CO2 at 9000 ppm" in check_alert["text"] and "To do:" in check_alert["text"]
    assert alert_log() == [(check_alert["key"], "check_failure", "sent", 3)]

    # 2. The webhook fails every attempt: the run-failure alert is recorded as failed (4 attempts) and the
    #    sensor says so; the check alert already delivered is not sent again.
    webhook.fail_always = True
    failed_run = dg.materialize([_broken], instance=instance, raise_on_error=False)
    assert not failed_run.success
    run = instance.get_run_by_id(failed_run.run_id)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=_failure_event(instance, run.run_id),
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )
    with pytest.raises(AlertsNotDelivered, match="retried at the next tick"):
        alert_on_run_failure(context.for_run_failure())
    assert len(webhook.attempts) == 3 + 4 and webhook.received == [check_alert]
    assert alert_log()[1] == (f"run_failure:{run.run_id}", "run_failure", "failed", 4)

    # 3. The endpoint is back: the next alert sensor tick delivers the failed alert, and only it.
    webhook.fail_always = False
    alert_on_failed_check(dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources=resources))
    assert [a["key"] for a in webhook.received] == [check_alert["key"], f"run_failure:{run.run_id}"]
    run_alert = webhook.received[1]
    assert "governance_test/broken" in run_alert["text"] and "sensor cable unplugged" in run_alert["text"]
    assert "Re-execute" in run_alert["details"]["action"] and run_alert["details"]["failed_at"]
    assert [(key, status, attempts) for key, _, status, attempts in alert_log()] == [
        (check_alert["key"], "sent", 3),
        (f"run_failure:{run.run_id}", "sent", 5),
    ]

    # 4. Ticks that re-read the same events (a lost cursor, the same failure reported again) send nothing.
    alert_on_failed_check(dg.build_sensor_context(instance=instance, cursor=start, resources=resources))
    alert_on_run_failure(context.for_run_failure())
    assert len(webhook.received) == 2


def test_freshness_warn_and_fail_alert_once_per_state_change(instance, webhook, alert_log):
    import time

    import freshness_defs
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
    from dagster._daemon.freshness import FreshnessDaemon

    resources = _alerting(AlertNotifier(notifier="webhook", webhook_url=webhook.url, retry_delays=NO_WAIT))
    asset = freshness_defs.KEY.to_user_string()
    target = InProcessWorkspaceLoadTarget(
        InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=freshness_defs.__file__, attribute="defs"))
    )
    daemon = FreshnessDaemon()

    def tick(cursor):
        return alert_on_freshness(
            dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=resources, definitions=freshness_defs.defs
            )
        ).cursor

    def ours():
        return [a for a in webhook.received if a["details"]["asset"] == asset]

    assert dg.materialize([freshness_defs.readings], instance=instance).success
    updated = instance.get_latest_materialization_event(freshness_defs.KEY).timestamp
    with create_test_daemon_workspace_context(target, instance) as workspace:

        def evaluate(at: float | None = None):  # one iteration of Dagster's freshness daemon
            if at is None:
                list(daemon.run_iteration(workspace))
                return
            with freeze_time(at):
                list(daemon.run_iteration(workspace))

        evaluate(updated + 60)  # UNKNOWN -> PASS: nothing to say
        cursor = tick(None)
        assert ours() == []

        evaluate(updated + 25 * 3600)  # PASS -> WARN
        cursor = tick(cursor)
        (warn,) = ours()
        details = warn["details"]
        assert (details["state"], details["previous_state"]) == ("WARN", "PASS")
        assert (details["warn_after_hours"], details["fail_after_hours"]) == (24, 48)
        assert details["last_updated"] == dg_iso(updated) and details["last_updated"] in warn["text"]
        assert "warns after 24 h and fails after 48 h" in warn["text"] and "landing folder" in warn["text"]
        assert warn["key"] == f"freshness:{asset}:WARN:{dg_iso(updated)}"

        evaluate(updated + 26 * 3600)  # still WARN: no state change, no alert
        cursor = tick(cursor)
        assert len(ours()) == 1

        evaluate(updated + 49 * 3600)  # WARN -> FAIL
        cursor = tick(cursor)
        assert [a["details"]["state"] for a in ours()] == ["WARN", "FAIL"]
        assert "is FAIL on freshness" in ours()[1]["text"] and "49 h before" in ours()[1]["text"]

        tick(None)  # a lost cursor re-reads every change: nothing is sent twice
        assert len(ours()) == 2

        assert dg.materialize([freshness_defs.readings], instance=instance).success
        assert time.time() - instance.get_latest_materialization_event(freshness_defs.KEY).timestamp < 24 * 3600
        evaluate()  # FAIL -> PASS, now
        tick(cursor)
    assert [a["details"]["state"] for a in ours()] == ["WARN", "FAIL", "PASS"]
    assert "fresh again" in ours()[2]["text"]
    assert [(kind, status) for _, kind, status, _ in alert_log()] == [("freshness", "sent")] * 3


def dg_iso(timestamp: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
