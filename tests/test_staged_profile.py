"""The load's profile of the rows it copies (ingest/staged_profile.py) stands in for the staging checks'
scan of the same rows only where it equals it: on every real file, and on the failing fixtures."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from helpers import clock_reset_export

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.quality.checks import _completeness_query, _timestamp_aggregates
from greenhouse_assets.in_process import expand, ingest_file
from greenhouse_assets.ingest import staged_profile
from greenhouse_assets.ingest.registry import SourceRegistry


def test_the_profile_equals_the_checks_scan_on_every_real_file(clean_platform, instance, real_data):
    landing = Path(os.environ["GREENHOUSE_LANDING_DIR"])
    shutil.copytree(real_data, landing, dirs_exist_ok=True)
    (landing / "knudjepsen" / "reset").mkdir()
    (landing / "knudjepsen" / "reset" / "NO4_LAMPEGRP_1.csv").write_bytes(clock_reset_export(rows=600, reset_after=400))
    registry = SourceRegistry.load()
    profiled = []
    with psycopg.connect(libpq_url(clean_platform), autocommit=True) as conn:  # no lock held between loads
        for path in expand([landing]):
            report = ingest_file(path, instance, registry)
            if report["file_id"] is None or report["status"] not in ("loaded", "excluded"):
                continue
            ((source, relative),) = conn.execute(
                "SELECT source, path FROM metadata.files WHERE file_id = %s", (report["file_id"],)
            ).fetchall()
            assert staged_profile.recall(report["run_id"], report["file_id"]) is not None, relative
            profiled.append(relative)
            with_profile = _timestamp_aggregates(conn, source, report["file_id"], relative, report["run_id"])
            scanned = _timestamp_aggregates(conn, source, report["file_id"], relative)
            assert with_profile == scanned, relative
            assert {n: str(v) for n, v in with_profile.items()} == {n: str(v) for n, v in scanned.items()}
            completeness = [
                conn.execute(_completeness_query(conn, source, report["file_id"], run_id)).fetchall()
                for run_id in (report["run_id"], None)
            ]
            assert completeness[0] == completeness[1], relative
    assert "knudjepsen/reset/NO4_LAMPEGRP_1.csv" in profiled
    assert len(profiled) >= 10, profiled


def batch(rows: list[int], times: list[datetime | None]) -> pa.RecordBatch:
    return pa.record_batch(
        {"_row_number": pa.array(rows, pa.int64()), "time": pa.array(times, pa.timestamp("us", "UTC"))}
    )


@pytest.mark.pure
def test_the_scan_decides_where_the_profile_could_differ_from_it():
    loaded = datetime(2026, 1, 1, tzinfo=UTC)
    ordered = staged_profile.Profiler(loaded)
    ordered.add(batch([4, 5], [loaded, None]))
    ordered.add(batch([7], [loaded - timedelta(hours=1)]))
    profile = ordered.profile()
    assert profile is not None and profile.aggregates["rows_without_time"] == 1
    assert profile.aggregates["first_row_without_time"] == 5 and profile.aggregates["backward_steps"] == 0

    # Row numbers that do not increase across batches: the scan orders by row number, the profile cannot.
    unordered = staged_profile.Profiler(loaded)
    unordered.add(batch([4, 5], [loaded, loaded]))
    unordered.add(batch([5], [loaded]))
    assert unordered.profile() is None
    # A time past a day after the load: the scan's bound is a day after the check ran.
    ahead = staged_profile.Profiler(loaded)
    ahead.add(batch([1], [loaded + timedelta(days=1, seconds=1)]))
    assert ahead.profile() is None
    # Another run's checks (a re-check after the rows were corrected in place) scan.
    staged_profile.remember("run-a", 1, profile)
    assert staged_profile.recall("run-a", 1) is profile
    assert staged_profile.recall("run-b", 1) is None and staged_profile.recall(None, 1) is None
