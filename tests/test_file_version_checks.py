"""Per-file-version staging checks: rows the logger sent again load (WARN, counted, the later row wins),
and a version a blocking check fails is excluded from the time series while the others flow on.

Fixtures are copies of the real Knudjepsen export, transformed: a block of rows repeated (once with
identical values, once with changed values), or a logger clock reset to the epoch part-way through.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from helpers import clock_reset_export

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.governance.sensors import failed_check_alerts
from greenhouse_assets.defs.ingest.assets import ingest_file_version
from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.quality.checks import staging_quality_checks
from greenhouse_assets.defs.resources import resources
from greenhouse_assets.defs.transform.dbt import MEASUREMENTS, timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry

KNUDJEPSEN = Path("knudjepsen") / "NO3_LAMPEGRP_1.csv"
UTC_PLUS_1 = timezone(timedelta(hours=1))  # the registry reads Knudjepsen times as Etc/GMT-1
STAGING = dg.AssetKey(["staging", "raw_knudjepsen"])


def real_rows(real_data: Path) -> tuple[list[str], list[str]]:
    lines = (real_data / KNUDJEPSEN).read_bytes().decode("utf-8").split("\r\n")
    return lines[:3], [line for line in lines[3:] if line and not line.startswith('"";')]


def write(path: Path, header: list[str], rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(header + rows) + "\r\n").encode("utf-8"))
    return path


def with_blocks_sent_again(rows: list[str], blocks: list[tuple[int, int, int]], change=None) -> list[str]:
    """`rows` with each (first, end, after) block of rows repeated after row `after` (indices into `rows`),
    its lines passed through `change` (identical when None); blocks in increasing `after` order."""
    out, done = [], 0
    for first, end, after in blocks:
        out += rows[done : after + 1] + [change(r) if change else r for r in rows[first:end]]
        done = after + 1
    return out + rows[done:]


def air_temperature(line: str) -> float:
    return float(line.split(";")[1].replace(",", "."))


def warmer(line: str) -> str:
    """The same row with its air temperature 0.5 °C higher (the rest unchanged)."""
    fields = line.split(";")
    fields[1] = f"{air_temperature(line) + 0.5:.2f}".replace(".", ",")
    return ";".join(fields)


def stamp(line: str) -> datetime:
    return datetime.strptime(line[1:20], "%d-%m-%Y %H:%M:%S").replace(tzinfo=UTC_PLUS_1)


def query(url: str, text: str, params=None) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(text, params).fetchall()


def evaluations(instance: dg.DagsterInstance, run_id: str) -> dict:
    return {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def transform(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [timeseries_dbt], instance=instance, resources={**resources().resources, **transform_resources().resources}
    )
    assert result.success
    return result


def test_rows_the_logger_sent_again_load_are_counted_and_the_later_row_wins(clean_platform, instance, real_data):
    header, rows = real_rows(real_data)
    landing = Path(os.environ["GREENHOUSE_LANDING_DIR"])
    blocks = [(300, 320, 400), (450, 460, 500)]  # 20 rows again after row 400, 10 after row 500: 2 back-steps
    repeated = write(
        landing / "knudjepsen" / "repeats" / KNUDJEPSEN.name, header, with_blocks_sent_again(rows[:600], blocks)
    )
    later = rows[1000:1600]
    assert all(line.split(";")[1] for first, end, _ in blocks for line in later[first:end]), "air temperature"
    conflicting = write(
        landing / "knudjepsen" / "conflicts" / KNUDJEPSEN.name,
        header,
        with_blocks_sent_again(later, blocks, change=warmer),
    )
    registry = SourceRegistry.load()

    reports = {
        name: ingest_file(path, instance, registry)
        for name, path in (("repeats", repeated), ("conflicts", conflicting))
    }

    expected = {"repeats": (30, 0), "conflicts": (0, 30)}
    for name, report in reports.items():
        assert report["status"] == "loaded" and report["rows"] == 630, report
        checks = evaluations(instance, report["run_id"])
        assert checks["timestamps_usable"].passed, checks["timestamps_usable"].metadata
        order = checks["timestamps_monotonic"]
        assert not order.passed and order.severity == dg.AssetCheckSeverity.WARN and not order.blocking
        counts = (order.metadata["repeated_rows"].value, order.metadata["conflicting_timestamps"].value)
        assert counts == expected[name], name
        assert order.metadata["backward_steps"].value == 2
        # The first row sent again is data row 402, file line 405 (three header lines before it).
        assert order.metadata["first_backward_row"].value == 405
        assert f"{expected[name][0]} rows repeated with identical values" in order.description

    transform(instance)
    url = clean_platform
    for report in reports.values():
        staged_times = query(
            url, "SELECT count(DISTINCT time) FROM staging.raw_knudjepsen WHERE _file_id = %s", (report["file_id"],)
        )[0][0]
        assert staged_times == 600
        assert (
            query(
                url, "SELECT count(DISTINCT time) FROM timeseries.measurements WHERE file_id = %s", (report["file_id"],)
            )[0][0]
            == staged_times
        )
    # Conflicts: the row the logger wrote last (the changed copy) wins; repeats keep their one value.
    for name, source_rows, shift in (("conflicts", later, 0.5), ("repeats", rows[:600], 0.0)):
        block = [line for first, end, _ in blocks for line in source_rows[first:end]]
        stored = dict(
            query(
                url,
                "SELECT time, value FROM timeseries.measurements WHERE variable = 'air_temperature'"
                " AND zone = 'NO3' AND time = ANY(%s)",
                ([stamp(line) for line in block],),
            )
        )
        assert len(stored) == 30, name
        for line in block:
            assert stored[stamp(line)] == pytest.approx(air_temperature(line) + shift, abs=1e-9), (name, line)


def test_a_row_sent_again_right_after_itself_is_a_repeat_though_time_never_steps_back(
    clean_platform, instance, real_data
):
    """The order check groups by time only when the file-order scan cannot rule repeats out: a time that
    stands still for one step (no back-step at all) must still be grouped and counted."""
    header, rows = real_rows(real_data)
    landing = Path(os.environ["GREENHOUSE_LANDING_DIR"])
    path = write(
        landing / "knudjepsen" / "stands" / KNUDJEPSEN.name,
        header,
        with_blocks_sent_again(rows[:200], [(100, 101, 100)]),
    )

    report = ingest_file(path, instance, SourceRegistry.load())

    assert report["status"] == "loaded" and report["rows"] == 201, report
    order = evaluations(instance, report["run_id"])["timestamps_monotonic"]
    assert not order.passed
    counts = [order.metadata[n].value for n in ("repeated_rows", "conflicting_timestamps", "backward_steps")]
    assert counts == [1, 0, 0]


def test_a_version_whose_times_cannot_be_real_is_excluded_and_the_others_flow_on(clean_platform, instance, real_data):
    header, rows = real_rows(real_data)
    landing = Path(os.environ["GREENHOUSE_LANDING_DIR"]) / "knudjepsen"
    good = write(landing / "NO3_LAMPEGRP_1.csv", header, rows[:600])
    epoch = datetime(1970, 1, 1)
    # The logger's clock is reset to the epoch after 400 of the first 600 rows (rows 400..599 from 1970).
    bad = landing / "NO4_LAMPEGRP_1.csv"
    bad.write_bytes(clock_reset_export(rows=600, reset_after=400))
    registry = SourceRegistry.load()
    url = clean_platform
    before = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1, ascending=False
    )

    loaded = ingest_file(good, instance, registry)
    bad_version = ingest_file(bad, instance, registry)

    assert loaded["status"] == "loaded"
    # `greenhouse ingest` / `run --input` report the version as excluded, with the check and its reason.
    assert bad_version["status"] == "excluded", bad_version
    assert (
        bad_version["error"].startswith("timestamps_usable: ") and "times that cannot be real" in bad_version["error"]
    )
    ((status, active, check, reason),) = query(
        url,
        "SELECT status, is_active, excluded_by_check, exclusion_reason FROM metadata.files WHERE file_id = %s",
        (bad_version["file_id"],),
    )
    assert (status, active, check) == ("loaded", True, "timestamps_usable")
    assert (
        "200 of 600 rows have times that cannot be real" in reason and "file row 404: 1969-12-31 23:00:00 UTC" in reason
    )
    usable = evaluations(instance, bad_version["run_id"])["timestamps_usable"]
    assert not usable.passed and usable.severity == dg.AssetCheckSeverity.ERROR
    assert usable.description.startswith(
        f"{bad_version['path'].split('landing/')[-1]} (file version {bad_version['file_id']})"
        " is excluded from timeseries.measurements"
    )
    assert (
        query(url, "SELECT count(*) FROM staging.raw_knudjepsen WHERE _file_id = %s", (bad_version["file_id"],))[0][0]
        == 600
    ), "the excluded version stays staged"

    result = transform(instance)

    zones = dict(query(url, "SELECT zone, count(*) FROM timeseries.measurements GROUP BY zone"))
    assert set(zones) == {"NO3"} and zones["NO3"] > 0
    assert not query(url, "SELECT 1 FROM timeseries.measurements WHERE file_id = %s", (bad_version["file_id"],))
    (materialization,) = [
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key == MEASUREMENTS
    ]
    excluded = materialization.metadata["excluded_file_versions"].value
    assert [(v["file_id"], v["check"]) for v in excluded] == [(bad_version["file_id"], "timestamps_usable")]
    assert materialization.metadata["excluded_file_ids"].value == str(bad_version["file_id"])

    alerts, _ = failed_check_alerts(instance, before[0].storage_id if before else None)
    (alert,) = [a for a in alerts if a.details.get("excluded_file_id") == bad_version["file_id"]]
    assert alert.details["check"] == "timestamps_usable" and alert.details["exclusion_reason"] == reason
    assert "is excluded from timeseries.measurements" in alert.text and "NO4_LAMPEGRP_1.csv" in alert.text

    # Recoverable: once the rows are fixed (here the reset clock corrected in staging), the check passes
    # again, lifts the exclusion, and the next dbt run brings the version in as a changed version.
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            "UPDATE staging.raw_knudjepsen SET time = time + (%s::timestamptz - %s::timestamptz)"
            " WHERE _file_id = %s AND time < '1990-01-01'",
            (stamp(rows[400]), epoch.replace(tzinfo=UTC_PLUS_1), bad_version["file_id"]),
        )
    partition = query(url, "SELECT partition_key FROM metadata.files WHERE file_id = %s", (bad_version["file_id"],))[0][
        0
    ]
    only_the_check = dg.define_asset_job(
        "recheck",
        partitions_def=file_versions,
        selection=dg.AssetSelection.checks(dg.AssetCheckKey(STAGING, "timestamps_usable")),
    )
    recheck = (
        dg.Definitions(
            assets=[ingest_file_version],
            asset_checks=[staging_quality_checks],
            jobs=[only_the_check],
            resources=resources().resources,
        )
        .resolve_job_def("recheck")
        .execute_in_process(instance=instance, tags={"dagster/partition": partition})
    )
    assert recheck.success
    (passed,) = recheck.get_asset_check_evaluations()
    assert passed.passed and "no longer excluded" in passed.description
    assert query(url, "SELECT excluded_by_check FROM metadata.files WHERE file_id = %s", (bad_version["file_id"],)) == [
        (None,)
    ]
    transform(instance)
    assert (
        query(
            url,
            "SELECT count(DISTINCT time) FROM timeseries.measurements WHERE file_id = %s",
            (bad_version["file_id"],),
        )[0][0]
        == 600
    )
