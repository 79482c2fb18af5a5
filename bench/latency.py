"""Latency from a file landing to MOGA results updated, through `dagster dev` with 5 s sensor intervals.

Ours: the real daemon and webserver (tests/e2e/stack.py) on a fresh database; a 14-day Knudjepsen
sample file is dropped in the landing folder once the stack is idle, and the clock stops when
`moga.runs` holds the day after the file. Per layer: each run's duration (GraphQL start/end) and
the wait before it (settling, sensor ticks, run launch). The anchor is the same chain on the same
file run in-process by `make run`'s code path (ingest, then everything downstream in dependency
order): the work itself, without sensors or process launches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import report

from greenhouse_assets import migrate, settings
from greenhouse_assets.database import connect, libpq_url
from greenhouse_assets.sample import generate_sample
from greenhouse_assets.settings import _with_database

sys.path.insert(0, str(settings.PROJECT_ROOT / "tests"))
from e2e.stack import dagster_dev  # noqa: E402

DAYS = 14
LAYERS = {"ingest": "raw/files", "timeseries": "timeseries/measurements",
          "features": "features/extracted_features", "moga": "moga_results"}


def fresh_databases(suffix: str) -> dict[str, str]:
    import psycopg

    base = os.environ.get("DATABASE_URL") or settings.local_url()
    names = {"DATABASE_URL": f"greenhouse_bench_{suffix}", "DAGSTER_DATABASE_URL": f"dagster_bench_{suffix}"}
    with psycopg.connect(libpq_url(_with_database(base, "postgres")), autocommit=True) as conn:
        for name in names.values():
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    urls = {var: _with_database(base, name) for var, name in names.items()}
    migrate.upgrade(url=urls["DATABASE_URL"])
    return urls


def moga_done(url: str) -> bool:
    with connect(url) as conn:
        return bool(conn.execute(
            "SELECT 1 FROM moga.runs WHERE horizon_start::date = "
            "(SELECT (max(time) AT TIME ZONE 'UTC')::date + 1 FROM timeseries.measurements)").fetchone())


def through_dagster_dev(sample: Path, workdir: Path) -> tuple[float, dict]:
    env = {**fresh_databases("latency"), "GREENHOUSE_LANDING_DIR": str(workdir / "landing"),
           "GREENHOUSE_LAKE_DIR": str(workdir / "lake"), "GREENHOUSE_DAGSTER_STORAGE": str(workdir / "storage"),
           "GREENHOUSE_DAGSTER_COMPUTE_LOGS": str(workdir / "logs"), "DAGSTER_HOME": str(settings.PROJECT_ROOT),
           "GREENHOUSE_SENSOR_INTERVAL": "5", "GREENHOUSE_MOGA_INTERVAL": "5"}
    (workdir / "landing" / "knudjepsen").mkdir(parents=True)
    with dagster_dev(env, workdir / "dagster-dev.log") as dagster:
        boot = time.time() - 60
        while any(r["status"] != "SUCCESS" for r in dagster.runs(boot)) or not dagster.runs(boot):
            time.sleep(2)  # the first evaluation builds the dbt seeds and models once: not part of the latency
        landed = time.time()
        shutil.copyfile(sample, workdir / "landing" / "knudjepsen" / sample.name)
        while not moga_done(env["DATABASE_URL"]):
            if time.time() - landed > 900:
                raise SystemExit(f"no MOGA results after 900 s:\n{dagster.log_tail()}")
            time.sleep(1)
        total = time.time() - landed
        runs = dagster.runs(landed)
    layers, previous_end = {}, landed
    for layer, asset in LAYERS.items():
        run = next(r for r in runs if asset in r["assets"])
        layers[layer] = {"wait_s": round(run["startTime"] - previous_end, 1),
                         "run_s": round(run["endTime"] - run["startTime"], 1), "run_id": run["runId"]}
        previous_end = run["endTime"]
    return total, layers


def in_process(sample: Path, workdir: Path) -> float:
    """`make run`'s code path on the same file, in a fresh process and databases (imports excluded)."""
    env = {**os.environ, **fresh_databases("latency_anchor"), "GREENHOUSE_LANDING_DIR": str(sample.parent.parent),
           "GREENHOUSE_LAKE_DIR": str(workdir / "anchor-lake"), "DAGSTER_HOME": str(settings.PROJECT_ROOT),
           "GREENHOUSE_DAGSTER_STORAGE": str(workdir / "anchor-storage"),
           "GREENHOUSE_DAGSTER_COMPUTE_LOGS": str(workdir / "anchor-logs")}
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "import dagster as dg\n"
        "import greenhouse_assets.definitions\n"
        "from greenhouse_assets.ingest.command import ingest_file\n"
        "from greenhouse_assets.ingest.registry import SourceRegistry\n"
        "from greenhouse_assets.main_job import _refresh_downstream\n"
        "with dg.DagsterInstance.get() as instance:\n"
        "    start = time.perf_counter()\n"
        "    assert ingest_file(Path(sys.argv[1]), instance, SourceRegistry.load())['status'] == 'loaded'\n"
        "    ok, _ = _refresh_downstream(instance)\n"
        "    print(ok, time.perf_counter() - start)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(sample)], env=env, check=True, capture_output=True, text=True)
    ok, seconds = out.stdout.strip().splitlines()[-1].split()
    if ok != "True" or not moga_done(env["DATABASE_URL"]):
        raise SystemExit(f"anchor run did not reach MOGA results:\n{out.stdout[-3000:]}")
    return float(seconds)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        workdir = Path(tmp)
        sample = next(p for p in generate_sample(workdir / "sample", days=DAYS) if p.parent.name == "knudjepsen")
        ours, layers = through_dagster_dev(sample, workdir)
        anchor = in_process(sample, workdir)
    for layer, figures in layers.items():
        print(f"  {layer:<11} waited {figures['wait_s']:>6.1f} s, ran {figures['run_s']:>6.1f} s")
    report(
        "latency", ours=ours, anchor=anchor, unit="s", target="ratio as low as the sensor intervals allow",
        summary=f"{DAYS}-day Knudjepsen file landing → MOGA results in {ours:.0f} s via dagster dev "
                f"(5 s sensor intervals) vs {anchor:.0f} s in-process",
        days=DAYS, sensor_interval_s=5, moga_interval_s=5, layers=layers,
    )


if __name__ == "__main__":
    main()
