"""The landing sensor, evaluated for real against a landing folder, and the runs it requests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from greenhouse_assets.database import libpq_url
from greenhouse_assets.definitions import defs
from greenhouse_assets.defs.resources import LandingFolderResource
from greenhouse_assets.defs.ingest.sensors import MAX_FILES_PER_TICK, landing_sensor


def tick(instance, landing: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"landing": LandingFolderResource(path=str(landing))})
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
    second = tick(instance, landing, first.cursor)
    assert len(second.run_requests) == 1
    request = second.run_requests[0]
    assert request.run_key.startswith("aarslev:") and len(request.run_key) == len("aarslev:") + 64
    assert request.partition_key == f"aarslev-{request.run_key.split(':')[1][:16]}"
    assert second.dynamic_partitions_requests[0].partition_keys == [request.partition_key]
    assert not tick(instance, landing, second.cursor).run_requests, "never run twice"

    instance.add_dynamic_partitions("file_versions", [request.partition_key])
    result = defs.resolve_job_def("ingest_file").execute_in_process(
        run_config=request.run_config, partition_key=request.partition_key,
        asset_selection=request.asset_selection, instance=instance, tags=request.tags)
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
        seen |= {r.run_key for r in result.run_requests}
        cursor = result.cursor
    assert len(seen) == 1500
