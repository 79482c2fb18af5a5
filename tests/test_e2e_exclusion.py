"""End to end under `dagster dev`: one bad file in a folder of good ones holds nothing back.

A folder lands at once: the bundled sample's Knudjepsen export split into two files (good) and a copy
of the real Knudjepsen export whose logger clock is reset to 1970 part-way through (its blocking
`timestamps_usable` check fails). Real sensor ticks and automation only: every good file must reach
`timeseries.measurements`, the features and the MOGA results; the bad version stays staged, is marked
`excluded_by_check`, is named in the measurements materialization and in the alert (posted to a
local webhook), and none of its rows reach the time series.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as RANGE_START
from e2e.stack import platform_under_dagster_dev
from helpers import clock_reset_export

from greenhouse_assets.database import libpq_url
from greenhouse_assets.ingest.file_registry import partition_key_for
from greenhouse_dev.sample import generate_sample

DAYS = 14  # as tests/test_e2e.py: enough days for the objective models to calibrate
TIMEOUT = 600  # two test workers share 2 cores with the stack's runs
MATERIALIZATION = """{ assetOrError(assetKey: {path: ["timeseries", "measurements"]}) { ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label
    ... on TextMetadataEntry { text } ... on JsonMetadataEntry { jsonString } } } } } }"""


@pytest.fixture
def stack(clean_platform, tmp_path, webhook):
    with platform_under_dagster_dev(
        clean_platform,
        tmp_path / "dagster-dev.log",
        GREENHOUSE_ALERT_NOTIFIER="webhook",
        GREENHOUSE_ALERT_WEBHOOK_URL=webhook.url,
    ) as dagster:
        yield dagster


def split_in_two(path: Path, first: Path, second: Path) -> None:
    """Two exports of the same logger: the header, then the first / second half of the rows."""
    lines = path.read_bytes().split(b"\r\n")
    header, data = lines[:3], [line for line in lines[3:] if line]
    half = len(data) // 2
    for dest, part in ((first, data[:half]), (second, data[half:])):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"\r\n".join(header + part) + b"\r\n")


def platform_state(url: str) -> dict:
    with psycopg.connect(libpq_url(url)) as conn:
        files = conn.execute(
            "SELECT file_id, path, status, excluded_by_check FROM metadata.files ORDER BY file_id"
        ).fetchall()
        reached = dict(conn.execute("SELECT file_id, count(DISTINCT time) FROM timeseries.measurements GROUP BY 1"))
        last = conn.execute("SELECT max(time) AT TIME ZONE 'UTC' FROM timeseries.measurements").fetchone()[0]
        horizons = {r[0].date() for r in conn.execute("SELECT horizon_start AT TIME ZONE 'UTC' FROM moga.runs")}
    return {
        "files": files,
        "reached": reached,
        "horizon": last.date() + timedelta(days=1) if last else None,
        "horizons": horizons,
    }


@pytest.mark.timeout(TIMEOUT + 150)
def test_one_file_failing_a_blocking_check_holds_back_no_other(stack, clean_platform, real_data, webhook, tmp_path):
    started = time.time() - 5
    sample = next(p for p in generate_sample(tmp_path / "sample", days=DAYS) if p.parent.name == "knudjepsen")
    folder = tmp_path / "archive" / "knudjepsen"
    split_in_two(sample, folder / "week1" / sample.name, folder / "week2" / sample.name)
    (folder / "NO4_LAMPEGRP_1.csv").write_bytes(clock_reset_export())
    shutil.copytree(tmp_path / "archive", os.environ["GREENHOUSE_LANDING_DIR"], dirs_exist_ok=True)
    bad_path = "knudjepsen/NO4_LAMPEGRP_1.csv"
    bad_key = partition_key_for("knudjepsen", hashlib.sha256(clock_reset_export()).hexdigest())

    def runs_bad_file(run: dict) -> bool:
        """The run of the bad file's partition: alone, or in a batch (of at most two files here: the range's
        ends are all its keys)."""
        return bad_key in {run["tags"].get(tag) for tag in ("dagster/partition", RANGE_START, RANGE_END)}

    deadline = time.monotonic() + TIMEOUT
    while True:
        runs = stack.runs(started)
        failed = [r for r in runs if r["status"] in ("FAILURE", "CANCELED") and not runs_bad_file(r)]
        assert not failed, f"runs failed: {failed}\n{stack.log_tail()}"
        state = platform_state(clean_platform)
        good = [f for f in state["files"] if f[1] != bad_path]
        alerted = [a for a in webhook.received if a["details"].get("excluded_file_id") is not None]
        done = (
            len(good) == 2
            and all(f[0] in state["reached"] for f in good)
            and state["horizon"] in state["horizons"]
            and alerted
            and all(r["status"] in ("SUCCESS", "FAILURE") for r in runs)
        )
        if done:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"not done after {TIMEOUT} s: {state}, alerts {webhook.received}, runs "
                f"{[(r['tags'].get('dagster/sensor_name'), r['assets'], r['status']) for r in runs]}\n"
                f"{stack.log_tail()}"
            )
        time.sleep(3)

    # The bad version: staged and marked, none of its rows in the time series.
    ((bad_id, _, status, check),) = [f for f in state["files"] if f[1] == bad_path]
    assert (status, check) == ("loaded", "timestamps_usable")
    assert bad_id not in state["reached"]
    with psycopg.connect(libpq_url(clean_platform)) as conn:
        assert (
            conn.execute("SELECT count(*) FROM staging.raw_knudjepsen WHERE _file_id = %s", (bad_id,)).fetchone()[0]
            == 600
        )
        # Every good file's times with an air temperature are in the time series.
        for file_id, *_ in good:
            staged = conn.execute(
                "SELECT count(DISTINCT time) FROM staging.raw_knudjepsen WHERE _file_id = %s"
                ' AND "mål temp afd  Mid" IS NOT NULL',
                (file_id,),
            ).fetchone()[0]
            assert state["reached"][file_id] >= staged > 0

    # Runs: the landing sensor's, two for the three files (a batch of two and one alone: both run slots),
    # only the bad file's failed; everything after them was launched by automation (or the features
    # sensor) and the whole chain ran after them.
    ingest = [r for r in runs if "raw/files" in r["assets"]]
    assert len(ingest) == 2 and all(r["tags"].get("dagster/sensor_name") == "landing_sensor" for r in ingest)
    assert sum(int(r["tags"].get("greenhouse/files", "1")) for r in ingest) == 3
    (bad_run,) = [r for r in ingest if runs_bad_file(r)]
    assert bad_run["status"] == "FAILURE" and all(r["status"] == "SUCCESS" for r in ingest if r is not bad_run)
    after = [r for r in runs if r not in ingest and r["startTime"] > max(r["endTime"] for r in ingest)]
    by_asset = {}  # the first run after the file(s) that materialized each asset: later ones may follow
    for run in after:
        for asset in run["assets"]:
            by_asset.setdefault(asset, run)
    chain = ["timeseries/measurements", "features/extracted_features", "moga_objective_models", "moga_results"]
    assert all(asset in by_asset for asset in chain), f"not every layer ran after the files: {list(by_asset)}"
    assert by_asset["timeseries/measurements"]["tags"]["dagster/sensor_name"] == "timeseries_automation"
    assert by_asset["moga_results"]["tags"]["dagster/sensor_name"] == "moga_automation"

    # Named in the measurements materialization and in the alert.
    (latest,) = stack.graphql(MATERIALIZATION)["assetOrError"]["assetMaterializations"]
    entries = {e["label"]: e.get("text") or e.get("jsonString") for e in latest["metadataEntries"]}
    assert entries["excluded_file_ids"] == str(bad_id)
    assert [v["path"] for v in json.loads(entries["excluded_file_versions"])] == [bad_path]
    (alert,) = [a for a in webhook.received if a["details"].get("excluded_file_id") == bad_id]
    assert alert["kind"] == "check_failure" and alert["details"]["check"] == "timestamps_usable"
    assert f"{bad_path} (file version {bad_id}) is excluded from timeseries.measurements" in alert["text"]
    assert "times that cannot be real" in alert["details"]["exclusion_reason"]
