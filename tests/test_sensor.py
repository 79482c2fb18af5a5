"""The landing sensor, evaluated for real against a landing folder, and the runs it requests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from helpers import requested_files, run_request

from greenhouse_assets import catalog
from greenhouse_assets.database import libpq_url
from greenhouse_assets.definitions import defs
from greenhouse_assets.defs.ingest.sensors import MAX_FILES_PER_TICK, landing_sensor
from greenhouse_assets.defs.resources import LandingFolderResource

MORTEN = Path("aarslev") / "december2013" / "MortenSDUData.csv"


def tick(instance, landing: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing": LandingFolderResource(path=str(landing))}
    )
    return landing_sensor(context)


@pytest.fixture
def landing(clean_platform, tmp_path) -> Path:
    return tmp_path / "landing"


def test_a_file_runs_once_after_it_settles(landing, instance, real_data, database_url):
    dest = landing / "aarslev" / "december2013" / "MortenSDUData.csv"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(real_data / "aarslev" / "december2013" / "MortenSDUData.csv", dest)

    first = tick(instance, landing, None)
    assert not first.run_requests, "a file seen for the first time may still be being written"
    # The session's instance may know this content's partition from another test: only new keys are added.
    known = set(instance.get_dynamic_partitions("file_versions"))
    second = tick(instance, landing, first.cursor)
    assert len(second.run_requests) == 1
    request = second.run_requests[0]
    source, sha256, generation, path = request.run_key.split(":", 3)
    assert (source, len(sha256), generation, path) == ("aarslev", 64, "0", "aarslev/december2013/MortenSDUData.csv")
    assert request.partition_key == f"aarslev-{sha256[:16]}"
    added = [key for r in second.dynamic_partitions_requests for key in r.partition_keys]
    assert added == ([] if request.partition_key in known else [request.partition_key])
    assert not tick(instance, landing, second.cursor).run_requests, "never run twice"

    instance.add_dynamic_partitions("file_versions", [request.partition_key])
    result = defs.resolve_job_def("ingest_file").execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        instance=instance,
        tags=request.tags,
    )
    assert result.success
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT count(*) FROM staging.raw_aarslev").fetchone()[0] == 744


def test_a_growing_file_waits_and_an_old_mtime_is_not_skipped(landing, instance):
    growing = landing / "growing.csv"
    growing.write_text("time,v\n2014-01-01 00:00,1\n")
    cursor = tick(instance, landing, None).cursor
    with growing.open("a") as handle:
        handle.write("2014-01-01 00:10,2\n")
    result = tick(instance, landing, cursor)
    assert not result.run_requests, "size changed since the last tick: still being written"
    result = tick(instance, landing, result.cursor)
    assert len(result.run_requests) == 1

    old = landing / "old.csv"
    old.write_text("time,v\n2013-01-01 00:00,1\n")
    os.utime(old, (946684800, 946684800))  # year 2000: older than anything seen so far
    result = tick(instance, landing, tick(instance, landing, result.cursor).cursor)
    assert [r.tags["greenhouse/path"] for r in result.run_requests] == ["old.csv"]


def test_a_changed_file_is_a_new_version(landing, instance):
    path = landing / "series.csv"
    path.write_text("time,v\n2014-01-01 00:00,1\n")
    cursor = tick(instance, landing, tick(instance, landing, None).cursor).cursor
    path.write_text("time,v\n2014-01-01 00:00,2\n")
    result = tick(instance, landing, tick(instance, landing, cursor).cursor)
    assert len(result.run_requests) == 1
    assert json.loads(result.cursor)["series.csv"][2] == result.run_requests[0].run_key.split(":")[1]


def test_thousands_of_files_are_hashed_in_bounded_ticks(landing, instance):
    for i in range(1500):
        (landing / f"f{i:04d}.csv").write_text(f"time,v\n2014-01-01 00:00,{i}\n")
    cursor = tick(instance, landing, None).cursor
    seen: set[str] = set()
    for _ in range(1500 // MAX_FILES_PER_TICK + 2):
        result = tick(instance, landing, cursor)
        assert len(result.run_requests) <= MAX_FILES_PER_TICK
        seen |= set(requested_files(result.run_requests, landing))
        cursor = result.cursor
    assert len(seen) == 1500


def launch(instance, result: dg.SensorResult) -> list[dg.ExecuteInProcessResult]:
    """What the sensor daemon does with a tick's result: add the partitions, then start each requested run
    unless a run of this sensor already has its run key (the daemon skips those silently)."""
    if result.dynamic_partitions_requests:
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(dict.fromkeys(request.partition_keys)))
    runs = []
    for request in result.run_requests:
        tags = {**request.tags, "dagster/sensor_name": "landing_sensor", "dagster/run_key": request.run_key}
        if instance.get_run_ids(dg.RunsFilter(tags={k: tags[k] for k in ("dagster/sensor_name", "dagster/run_key")})):
            continue
        runs.append(run_request(instance, request, tags))
    return runs


def settle(instance, landing: Path, cursor: str | None) -> dg.SensorResult:
    """Two ticks: the first sees the change, the second hands on what held still."""
    return tick(instance, landing, tick(instance, landing, cursor).cursor)


def files(url: str) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT file_id, path, status, is_active, duplicate_of FROM metadata.files ORDER BY file_id"
        ).fetchall()


def staged(url: str) -> dict[tuple[int, str], int]:
    with psycopg.connect(libpq_url(url)) as conn:
        return {
            (f, s): n
            for f, s, n in conn.execute(
                "SELECT _file_id, _status, count(*) FROM staging.raw_aarslev GROUP BY 1, 2"
            ).fetchall()
        }


def test_identical_bytes_at_a_second_path_run_and_are_recorded_as_a_duplicate(
    landing, instance, real_data, database_url
):
    first = landing / "a" / MORTEN.name
    first.parent.mkdir(parents=True)
    shutil.copyfile(real_data / MORTEN, first)
    result = settle(instance, landing, None)
    assert [r.success for r in launch(instance, result)] == [True]

    second = landing / "b" / MORTEN.name
    second.parent.mkdir(parents=True)
    shutil.copyfile(real_data / MORTEN, second)
    again = settle(instance, landing, result.cursor)
    assert [r.tags["greenhouse/path"] for r in again.run_requests] == ["b/MortenSDUData.csv"]
    assert again.run_requests[0].partition_key == result.run_requests[0].partition_key, "one partition per content"
    assert [r.success for r in launch(instance, again)] == [True], "not skipped by the daemon: a new run key"

    (loaded_id, *_), duplicate = files(database_url)
    assert files(database_url) == [
        (loaded_id, "a/MortenSDUData.csv", "loaded", True, None),
        (duplicate[0], "b/MortenSDUData.csv", "duplicate", False, loaded_id),
    ]
    assert staged(database_url) == {(loaded_id, "loaded"): 744}, "nothing staged twice"
    later = settle(instance, landing, again.cursor)
    assert not later.run_requests and not launch(instance, later), "never run twice"


def test_a_path_put_back_to_older_bytes_reactivates_that_version_and_downstream_follows(
    landing, instance, real_data, database_url
):
    from greenhouse_assets.defs.automation.sensors import features_sensor
    from greenhouse_assets.defs.resources import PostgresResource, resources
    from greenhouse_assets.defs.transform.dbt import timeseries_dbt
    from greenhouse_assets.defs.transform.resources import transform_resources

    def transform(measurements_only: bool = False) -> None:
        """`dbt build`; `measurements_only` once the first build made the seeds and views: a new version
        and a reactivation change only `timeseries.measurements` (its tests run with it)."""
        result = dg.materialize(
            [timeseries_dbt],
            selection=[catalog.MEASUREMENTS.asset_key] if measurements_only else None,
            instance=instance,
            resources={**resources().resources, **transform_resources().resources},
        )
        assert result.success
        assert catalog.MEASUREMENTS.asset_key in {e.asset_key for e in result.get_asset_materialization_events()}

    def last_hours() -> list[tuple]:
        """Measurements of the last 10 hours of the original export, per file version."""
        with psycopg.connect(libpq_url(database_url)) as conn:
            return conn.execute("""SELECT file_id, count(*) FROM timeseries.measurements
                                   WHERE time > '2013-12-31 12:00Z' GROUP BY 1""").fetchall()

    def features_ranges(cursor: str | None) -> tuple[list[tuple[str, str]], str]:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"postgres": PostgresResource(url=database_url)}
        )
        result = features_sensor(context)
        return [
            (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in result.run_requests
        ], result.cursor

    path = landing / MORTEN
    path.parent.mkdir(parents=True)
    original = (real_data / MORTEN).read_bytes()
    path.write_bytes(original)
    v1 = settle(instance, landing, None)
    assert [r.success for r in launch(instance, v1)] == [True]
    transform()
    before = last_hours()
    assert before and before[0][1] > 0
    _, features_cursor = features_ranges(None)

    lines = original.decode("utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-10]), encoding="utf-8")  # the export re-run with fewer hours
    v2 = settle(instance, landing, v1.cursor)
    assert [r.success for r in launch(instance, v2)] == [True]
    transform(measurements_only=True)
    assert last_hours() == [], "the new version lacks the last hours"
    _, features_cursor = features_ranges(features_cursor)

    path.write_bytes(original)  # put back: a rollback by file
    restored = settle(instance, landing, v2.cursor)
    assert [r.run_key.split(":")[2] for r in restored.run_requests] == ["2"], "the path's third content"
    assert restored.run_requests[0].partition_key == v1.run_requests[0].partition_key, "v1's own partition"
    runs = launch(instance, restored)
    assert [r.success for r in runs] == [True], "not skipped: (path, content) came back as a new landing"
    v1_id, v2_id, receipt = (row[0] for row in files(database_url))
    assert files(database_url) == [
        (v1_id, str(MORTEN), "loaded", True, None),
        (v2_id, str(MORTEN), "deactivated", False, None),
        (receipt, str(MORTEN), "duplicate", False, v1_id),
    ]
    assert staged(database_url) == {(v1_id, "loaded"): 744, (v2_id, "deactivated"): 734}
    staging_events = [
        e for e in runs[0].get_asset_materialization_events() if e.asset_key == dg.AssetKey(["staging", "raw_aarslev"])
    ]
    assert len(staging_events) == 1, "staging reports the change, so the dbt automation follows"

    transform(measurements_only=True)  # the dbt model picks the activation change up incrementally
    assert last_hours() == before
    ranges, _ = features_ranges(features_cursor)
    assert ranges and ranges[-1][1] == "2014-01-01", "features recompute the days the restored hours touch"

    with psycopg.connect(libpq_url(database_url)) as conn:
        audit = conn.execute(
            "SELECT operation, input_file_ids FROM metadata.audit_log "
            "WHERE asset = 'staging/raw_aarslev' ORDER BY audit_id"
        ).fetchall()
    assert audit == [("load", [v1_id]), ("load", [v2_id]), ("reactivate", [v1_id])]
    path.touch()  # same content again: nothing to do
    later = settle(instance, landing, restored.cursor)
    assert not later.run_requests and not launch(instance, later)


def test_a_deleted_path_landed_again_with_older_bytes_is_still_a_restore(landing, instance):
    path = landing / "series.csv"
    path.write_text("time,v\n2014-01-01 00:00,1\n")
    first = settle(instance, landing, None)
    path.write_text("time,v\n2014-01-01 00:00,2\n")
    second = settle(instance, landing, first.cursor)
    path.unlink()
    gone = tick(instance, landing, second.cursor)
    assert not gone.run_requests and "0 waiting" in gone.skip_reason.skip_message
    path.write_text("time,v\n2014-01-01 00:00,1\n")
    restored = settle(instance, landing, gone.cursor)
    keys = [r.run_key for r in (*first.run_requests, *second.run_requests, *restored.run_requests)]
    assert [k.split(":")[2] for k in keys] == ["0", "1", "2"] and len(set(keys)) == 3
    assert keys[0].split(":")[1] == keys[2].split(":")[1], "same content, a new landing"


def test_a_cursor_from_before_generations_still_reads(landing, instance):
    path = landing / "series.csv"
    path.write_text("time,v\n2014-01-01 00:00,1\n")
    first = settle(instance, landing, None)
    old = json.dumps({p: entry[:3] for p, entry in json.loads(first.cursor).items()})
    assert not settle(instance, landing, old).run_requests
