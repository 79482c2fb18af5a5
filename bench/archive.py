"""A year's archive dropped into the landing folder of `greenhouse dev`, against `greenhouse ingest` of the same
files plus one downstream refresh in one process.

The archive: consecutive exports of both greenhouses over a year from 2014-01-01, each written by the
sample generator (the real formats: Knudjepsen `NO3_LAMPEGRP_1.csv`, Aarslev cell months as CSV and sMAP
JSON, the MortenSDU trio, weather, spot prices) for spans of 2 to 45 days, so the files run from a few
hundred bytes to about a megabyte; each export in its own folder (`export-NN-<first day>/`). `--files N`
keeps the first N files in path order (a quick smoke run; the default, 240, covers the year).

Ours: what `greenhouse dev` starts (`dagster dev` with the project's workspace and dagster.yaml, default
sensor and MOGA intervals) on a free port, with its own DAGSTER_HOME (a copy of dagster.yaml), lake and
fresh platform and Dagster databases on the shared cluster. Once the stack is idle (the first evaluation
builds the dbt seeds and models) the archive is copied into the landing folder; the clock starts then.
Reported, in seconds from the landing:
- `staged`: the end of the last `ingest_file` run (each file staged and its checks run), when every
  file has its row in `metadata.files`;
- `features`: the end of the last features run started after the last `timeseries/measurements` run that
  started after the last file was staged (so the measurements include every file);
- `moga`: the end of the first `moga_results` run started after that features run (MOGA recomputes once
  a data day is complete, evaluated every GREENHOUSE_MOGA_INTERVAL s, default 30).
The anchor: one `python` process on fresh databases that runs `greenhouse ingest`'s per-file runs over
the same files (in-process), then `greenhouse run`'s downstream refresh once; timed from the process's
start, so its imports count as ours do. Its `staged`, `features` and `moga` are read the same way, from
its run records.

Also reported: where an ingest run's time goes under the daemon (medians over the runs, from each
run's record and events): queued (created → launched by the run queue), start (launched → the run
process has imported the code location and opened the instance: RUN_START), the step itself, and the
end (last step → run end). This is the measurement behind the choice in README → Benchmarks.

`--rounds R` interleaves R rounds (anchor then ours, then ours then anchor, ...) and reports medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from _harness import report
from latency import DEFAULT_MOGA_INTERVAL, DEFAULT_PLAN_INTERVAL, DEFAULT_SENSOR_INTERVAL, fresh_databases

from greenhouse_assets import settings
from greenhouse_assets.database import connect
from greenhouse_assets.in_process import expand
from greenhouse_dev.sample import generate_sample

sys.path.insert(0, str(settings.PROJECT_ROOT / "tests"))
from e2e.stack import dagster_dev  # noqa: E402

FIRST_DAY = date(2014, 1, 1)
SPAN_DAYS = (3, 14, 7, 30, 2, 21, 10, 45, 5, 28)  # cycled: exports of mixed lengths, so files of mixed sizes
FILES = 240
INGEST_JOB = "ingest_file"
FEATURES, MOGA, MEASUREMENTS = "features/extracted_features", "moga_results", "timeseries/measurements"


def build_archive(root: Path, files: int) -> list[Path]:
    """Consecutive exports from FIRST_DAY until at least `files` files; the first `files` in path order kept."""
    written: list[Path] = []
    first, index = FIRST_DAY, 0
    while len(written) < files:
        days = SPAN_DAYS[index % len(SPAN_DAYS)]
        written += generate_sample(
            root / f"export-{index:02d}-{first.isoformat()}", days=days, seed=index, start=first.isoformat()
        )
        first, index = first + timedelta(days=days), index + 1
    written = sorted(written)
    for extra in written[files:]:
        extra.unlink()
    return written[:files]


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """`env` on top of os.environ for a while (the Dagster instance reads its storage URL from it)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def stack_env(workdir: Path, name: str) -> dict[str, str]:
    """Fresh databases, a DAGSTER_HOME with the project's dagster.yaml, its own lake and Dagster files."""
    home = workdir / name / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return {
        **fresh_databases(f"archive_{name}"),
        "DAGSTER_HOME": str(home),
        "GREENHOUSE_LANDING_DIR": str(workdir / name / "landing"),
        "GREENHOUSE_LAKE_URL": str(workdir / name / "lake"),
        "GREENHOUSE_DAGSTER_STORAGE": str(workdir / name / "storage"),
        "GREENHOUSE_DAGSTER_COMPUTE_LOGS": str(workdir / name / "logs"),
        "GREENHOUSE_SENSOR_INTERVAL": str(DEFAULT_SENSOR_INTERVAL),
        "GREENHOUSE_MOGA_INTERVAL": str(DEFAULT_MOGA_INTERVAL),
        "GREENHOUSE_PLAN_INTERVAL": str(DEFAULT_PLAN_INTERVAL),
    }


def run_records(instance, after: float) -> list[dict]:
    """Runs created after `after` (epoch s): job, assets, status, created, start and end times."""
    from datetime import UTC, datetime

    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(created_after=datetime.fromtimestamp(after, UTC)))
    return [
        {
            "run_id": r.dagster_run.run_id,
            "job": r.dagster_run.job_name,
            "status": r.dagster_run.status.value,
            "assets": {k.to_user_string() for k in r.dagster_run.asset_selection or ()},
            "files": int(r.dagster_run.tags.get("greenhouse/files", 1)),  # a landing-sensor batch: several
            "created": r.create_timestamp.timestamp(),
            "start": r.start_time,
            "end": r.end_time,
        }
        for r in records
    ]


def layers(runs: list[dict], files: int, now: float | None = None) -> dict[str, float | None]:
    """Epoch end of each layer for the archive (None while not reached), as in the module docstring.

    The measurements model commits (and records its changes) before its run's dbt tests end, so the
    features sensor may start the run that includes every file before the measurements run has ended:
    features count from the start of that measurements run, once it has ended and the sensor has had
    two intervals to request more."""
    finished = [r for r in runs if r["end"] is not None]
    ingest = [r for r in runs if r["job"] == INGEST_JOB]
    done: dict[str, float | None] = {"staged": None, "features": None, "moga": None}
    if sum(r["files"] for r in ingest) < files or any(r["end"] is None for r in ingest):
        return done
    done["staged"] = max(r["end"] for r in ingest)
    measured = [r for r in finished if MEASUREMENTS in r["assets"] and r["start"] and r["start"] >= done["staged"]]
    if not measured:
        return done
    first = min(measured, key=lambda r: r["start"])
    features = [r for r in runs if FEATURES in r["assets"] and r["created"] >= first["start"]]
    settled = (now or 0) >= first["end"] + 2 * DEFAULT_SENSOR_INTERVAL
    if not features or not settled or any(r["end"] is None for r in features):
        return done
    done["features"] = max(r["end"] for r in features)
    moga = [r for r in finished if MOGA in r["assets"] and r["start"] and r["start"] >= done["features"]]
    if moga:
        done["moga"] = min(r["end"] for r in moga)
    return done


def staged_files() -> int:
    with connect(settings.database_url()) as conn:
        return conn.execute("SELECT count(*) FROM metadata.files").fetchone()[0]


def run_breakdown(instance, runs: list[dict]) -> dict:
    """Medians over the finished ingest runs, in seconds: `queued` (created → launched by the run queue),
    `process` (launched → the run process has started Python and Dagster and opened the instance),
    `load` (→ RUN_START: the job loaded from the code location), `to_step` (→ the step starts: resources,
    planning), `step` (the op and its checks: every file of a landing-sensor batch), `end` (→ the run's
    end) and `total` (created → end); `files_per_run`, the median files a run took."""
    from dagster import DagsterEventType

    names = ("queued", "process", "load", "to_step", "step", "end", "total")
    parts: dict[str, list[float]] = {name: [] for name in names}
    counts = []
    for run in runs:
        if run["job"] != INGEST_JOB or run["end"] is None:
            continue
        counts.append(run["files"])
        events: dict = {}
        for record in instance.get_records_for_run(run["run_id"], limit=1000).records:
            entry = record.event_log_entry
            if entry.dagster_event is None:
                continue
            kind = entry.dagster_event.event_type
            if kind == DagsterEventType.ENGINE_EVENT and (entry.message or "").startswith("Started process for run"):
                kind = "process_started"
            events.setdefault(kind, []).append(entry.timestamp)
        try:
            marks = [
                run["created"],
                events[DagsterEventType.RUN_STARTING][0],
                events["process_started"][0],
                events[DagsterEventType.RUN_START][0],
                events[DagsterEventType.STEP_START][0],
                max(events.get(DagsterEventType.STEP_SUCCESS, []) + events.get(DagsterEventType.STEP_FAILURE, [])),
                run["end"],
            ]
        except (KeyError, ValueError):
            continue
        for name, (a, b) in zip(names, zip(marks, marks[1:])):
            parts[name].append(b - a)
        parts["total"].append(run["end"] - run["created"])
    return {f"{name}_s": round(statistics.median(values), 2) if values else None for name, values in parts.items()} | {
        "runs": len(parts["total"]),
        "files_per_run": statistics.median(counts) if counts else None,
    }


def through_dagster_dev(archive: Path, files: int, workdir: Path, name: str, bound: float) -> dict:
    env = stack_env(workdir, name)
    landing = Path(env["GREENHOUSE_LANDING_DIR"])
    landing.mkdir(parents=True)
    import dagster as dg

    with (
        environment(env),
        dg.DagsterInstance.get() as instance,
        dagster_dev(env, workdir / name / "dagster-dev.log", timeout=900) as dagster,
    ):
        boot = time.time() - 60
        while not dagster.runs(boot) or any(r["status"] != "SUCCESS" for r in dagster.runs(boot)):
            time.sleep(2)  # the first evaluation builds the dbt seeds and models: not part of the figure
        landed = time.time()
        shutil.copytree(archive, landing, dirs_exist_ok=True)
        reached = layers([], files)
        while time.time() - landed <= bound:
            runs = run_records(instance, landed)
            reached = layers(runs, files, time.time())
            if reached["moga"] is not None:
                break
            time.sleep(2)
        runs = run_records(instance, landed)
        breakdown = run_breakdown(instance, runs)
        in_metadata = staged_files()
    if in_metadata != files:
        raise SystemExit(f"{name}: {in_metadata} of {files} files in metadata.files")
    return {
        "landed": landed,
        **{k: (v - landed if v is not None else None) for k, v in reached.items()},
        "runs": len(runs),
        "ingest_runs": sum(r["job"] == INGEST_JOB for r in runs),
        "failed_runs": sorted({r["job"] for r in runs if r["status"] == "FAILURE"}),
        "ingest_run_breakdown": breakdown,
    }


ANCHOR = """
import json, sys, time
from pathlib import Path
from greenhouse_assets.in_process import expand, in_process_instance, ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_dev.main_job import _refresh_downstream
registry = SourceRegistry.load()
with in_process_instance() as instance:
    statuses = [ingest_file(path, instance, registry)["status"] for path in expand([Path(sys.argv[1])])]
    staged = time.time()
    ok, _ = _refresh_downstream(instance)
print(json.dumps({"statuses": statuses, "staged": staged, "ok": ok}))
"""


def in_one_process(archive: Path, files: int, workdir: Path, name: str) -> dict:
    env = {**stack_env(workdir, name), "GREENHOUSE_LANDING_DIR": str(archive)}
    import dagster as dg

    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", ANCHOR, str(archive)], env={**os.environ, **env}, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"anchor failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if len(result["statuses"]) != files:
        raise SystemExit(f"anchor ingested {len(result['statuses'])} of {files} files")
    with environment(env), dg.DagsterInstance.get() as instance:
        runs = run_records(instance, start)
    ends = {
        asset: max((r["end"] for r in runs if asset in r["assets"] and r["end"]), default=None)
        for asset in (FEATURES, MOGA)
    }
    return {
        "staged": result["staged"] - start,
        "features": ends[FEATURES] - start if ends[FEATURES] else None,
        "moga": ends[MOGA] - start if ends[MOGA] else None,
        "downstream_ok": result["ok"],
        "statuses": {s: result["statuses"].count(s) for s in set(result["statuses"])},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=FILES, help=f"files in the archive (default {FILES})")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument(
        "--bound",
        type=float,
        default=3600,
        help="wait at most this many seconds after the landing for MOGA (default 3600)",
    )
    return parser.parse_args(argv)


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        workdir = Path(tmp)
        archive = workdir / "archive"
        paths = build_archive(archive, args.files)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"archive: {len(paths)} files, {size / 1e6:.1f} MB, "
            f"{len({p.relative_to(archive).parts[0] for p in paths})} exports from {FIRST_DAY}"
        )
        assert len(expand([archive])) == args.files
        rounds = []
        for round_ in range(args.rounds):  # interleaved, so a noisy spell hits both sides
            order = ("anchor", "ours") if round_ % 2 == 0 else ("ours", "anchor")
            figures = {}
            for side in order:
                name = f"{side}{round_}"
                figures[side] = (
                    in_one_process(archive, args.files, workdir, name)
                    if side == "anchor"
                    else through_dagster_dev(archive, args.files, workdir, name, args.bound)
                )
                shown = {k: figures[side][k] for k in ("staged", "features", "moga")}
                print(
                    f"round {round_ + 1} {side}: "
                    + ", ".join(
                        f"{k} {v:.0f} s" if v is not None else f"{k} not within {args.bound:.0f} s"
                        for k, v in shown.items()
                    ),
                    flush=True,
                )
            rounds.append(figures)
    ours = {k: median([r["ours"][k] for r in rounds]) for k in ("staged", "features", "moga")}
    anchor = {k: median([r["anchor"][k] for r in rounds]) for k in ("staged", "features", "moga")}
    if ours["staged"] is None:
        raise SystemExit(f"the archive was not staged within {args.bound:.0f} s")
    report(
        "archive",
        ours=ours["staged"],
        anchor=anchor["staged"],
        unit="s",
        target="ratio ≤ 1.5 (staged)",
        summary=f"{args.files} files landed under greenhouse dev: staged in {ours['staged']:.0f} s vs "
        f"{anchor['staged']:.0f} s for greenhouse ingest in one process; features "
        + (f"{ours['features']:.0f} s" if ours["features"] is not None else "not reached")
        + f" vs {anchor['features']:.0f} s; MOGA "
        + (f"{ours['moga']:.0f} s" if ours["moga"] is not None else "not reached")
        + f" vs {anchor['moga']:.0f} s",
        files=args.files,
        bytes=size,
        rounds=rounds,
        staged=dict(ours=ours["staged"], anchor=anchor["staged"]),
        features=dict(
            ours=ours["features"],
            anchor=anchor["features"],
            ratio=ours["features"] / anchor["features"] if ours["features"] else None,
        ),
        moga=dict(
            ours=ours["moga"], anchor=anchor["moga"], ratio=ours["moga"] / anchor["moga"] if ours["moga"] else None
        ),
        sensor_interval_s=DEFAULT_SENSOR_INTERVAL,
        moga_interval_s=DEFAULT_MOGA_INTERVAL,
        bound_s=args.bound,
    )


if __name__ == "__main__":
    main()
