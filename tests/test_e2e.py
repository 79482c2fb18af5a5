"""End to end, as a user sees it: `dagster dev` running, a file dropped in the landing folder, MOGA
results appearing with no manual launch, and the asset graph in a real (headless) browser.

The stack runs on this session's test platform database, a Dagster storage database of its own
(so the daemon's automation state starts empty) and 5 s / 10 s sensor intervals. `make test`
installs Debian's chromium and node's playwright-core (into .local/e2e) first; nothing is
downloaded while the test runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from e2e.stack import platform_under_dagster_dev

from greenhouse_assets import settings
from greenhouse_assets.database import libpq_url
from greenhouse_dev.sample import generate_sample

ARTIFACTS = Path(__file__).parent / "artifacts"
NODE_MODULES = settings.PROJECT_ROOT / ".local" / "e2e" / "node_modules"
DAYS = 28  # enough days for blocked cross-validation (≥ 20 test days), so the energy model can be validated
TIMEOUT = 600  # two test workers share 2 cores with the stack's runs
CHECKS = """{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks {
  name blocking executionForLatestMaterialization { status runId evaluation { severity description } } } } } } }"""


@pytest.fixture
def stack(clean_platform, tmp_path):
    with platform_under_dagster_dev(clean_platform, tmp_path / "dagster-dev.log") as dagster:
        yield dagster


def moga_horizons(url: str) -> tuple[object, list]:
    """The day after the last measurement, and the MOGA run horizons stored so far."""
    with psycopg.connect(libpq_url(url)) as conn:
        last = conn.execute("SELECT max(time) AT TIME ZONE 'UTC' FROM timeseries.measurements").fetchone()[0]
        horizons = [
            r[0]
            for r in conn.execute("SELECT horizon_start AT TIME ZONE 'UTC' FROM moga.runs WHERE status = 'optimised'")
        ]
    return (last.date() + timedelta(days=1) if last else None), [h.date() for h in horizons]


def wait_for_moga(stack, url: str, since: float) -> list[dict]:
    """Poll until MOGA results for the day after the file exist and no run is pending; fail fast on a failed run."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        runs = stack.runs(since)
        failed = [r for r in runs if r["status"] in ("FAILURE", "CANCELED")]
        assert not failed, f"runs failed: {failed}\n{stack.log_tail()}"
        horizon, horizons = moga_horizons(url)
        if horizon in horizons and all(r["status"] == "SUCCESS" for r in runs):
            return runs
        time.sleep(3)
    pytest.fail(
        f"no MOGA results for the dropped file after {TIMEOUT} s; runs: "
        f"{[(r['tags'].get('dagster/sensor_name'), r['assets'], r['status']) for r in stack.runs(since)]}\n"
        f"{stack.log_tail()}"
    )


@pytest.mark.timeout(TIMEOUT + 150)
def test_a_dropped_file_reaches_moga_results_by_itself(stack, clean_platform, tmp_path):
    started = time.time() - 5
    sample = next(p for p in generate_sample(tmp_path / "sample", days=DAYS) if p.parent.name == "knudjepsen")
    landing = Path(os.environ["GREENHOUSE_LANDING_DIR"]) / "knudjepsen"
    landing.mkdir(parents=True)
    shutil.copyfile(sample, landing / sample.name)

    runs = wait_for_moga(stack, clean_platform, started)

    ingest = [r for r in runs if "raw/files" in r["assets"]]
    assert len(ingest) == 1 and ingest[0]["tags"].get("dagster/sensor_name") == "landing_sensor", ingest
    downstream = [r for r in runs if r is not ingest[0]]
    for run in downstream:
        automated = run["tags"].get("dagster/from_automation_condition") == "true"
        assert automated or run["tags"].get("dagster/sensor_name") == "features_sensor", run
    after = [r for r in downstream if r["startTime"] > ingest[0]["endTime"]]
    by_asset = {}  # the first run after the file(s) that materialized each asset: later ones may follow
    for run in after:
        for asset in run["assets"]:
            by_asset.setdefault(asset, run)
    chain = ["timeseries/measurements", "features/extracted_features", "moga_objective_models", "moga_results"]
    assert all(asset in by_asset for asset in chain), f"not every layer ran after the file: {list(by_asset)}"
    assert by_asset["timeseries/measurements"]["tags"]["dagster/sensor_name"] == "timeseries_automation"
    assert by_asset["moga_results"]["tags"]["dagster/sensor_name"] == "moga_automation"
    # Features follow the measurements' committed changes, which a dbt run started just before the file's
    # run ended may already hold; the models and results follow the features.
    later = ["features/extracted_features", "moga_objective_models", "moga_results"]
    assert [by_asset[a]["startTime"] for a in later] == sorted(by_asset[a]["startTime"] for a in later)

    ran = {r["runId"] for r in runs}
    checks = {
        f"{'/'.join(node['assetKey']['path'])}:{check['name']}": (
            check["blocking"],
            check["executionForLatestMaterialization"],
        )
        for node in stack.graphql(CHECKS)["assetNodes"]
        for check in node["assetChecksOrError"].get("checks", [])
    }
    executed = {name: e for name, (_, e) in checks.items() if e and e["runId"] in ran}
    assert {"staging/raw_knudjepsen:timestamps_usable", "moga_objective_models:objective_models_validated"} <= set(
        executed
    )
    assert all(
        executed[name]["status"] == "SUCCEEDED"
        for name, (blocking, _) in checks.items()
        if blocking and name in executed
    ), executed

    ARTIFACTS.mkdir(exist_ok=True)
    if not NODE_MODULES.is_dir():
        pytest.fail(
            f"{NODE_MODULES} missing: run `make test` (its e2e prerequisite installs playwright-core and chromium)"
        )
    browser = subprocess.run(
        [
            "node",
            str(Path(__file__).parent / "e2e" / "asset_graph.js"),
            stack.url,
            str(ARTIFACTS / "asset_graph"),
            "raw,staging,timeseries,features,moga",
            "raw_knudjepsen",
            "measurements",
            "extracted_features",
            "feature_importance",
            "moga_objective_models",
            "moga_results",
        ],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert browser.returncode == 0, browser.stdout + browser.stderr
    assert (ARTIFACTS / "asset_graph-moga.png").stat().st_size > 10_000
