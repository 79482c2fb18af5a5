"""Ingest throughput (landing → staging) against `psql \\copy` of the same rows, and peak memory 1 M vs 4 M rows.

Two figures, each against the same anchor:
- the library path (`ratio`): the per-file run, timed inside an already started process (below);
- the command a user types (`command_ratio`): the wall time of `greenhouse ingest FILE` as a whole
  process (interpreter start, imports, Dagster instance, the run with its quality checks, exit).

The file is the real Knudjepsen export repeated with shifted timestamps until it has the rows
asked for, so every quirk of the real format (three header rows, decimal comma, quoted
timestamps, empty blocks) is in it. Ours is one file through `greenhouse ingest`'s per-file run
(`ingest_file`, the sensor's job executed in-process) from its call until the staging rows were
committed: hash, detect, parse, raw Parquet, binary COPY, registry bookkeeping, Dagster's run and
event records. The process's one-time start (imports, opening the Dagster instance) is reported
beside it, and so is the whole run with its quality checks. The command's time is split at its run's
event timestamps (`command_breakdown`: start, ingest op, checks, Dagster's other run records, end). The anchor loads the same staged rows,
exported as a clean CSV, into an identical table with `psql \\copy`, as a whole `psql` process. The
anchor sends exactly the columns ours sends: `_file_id`, `_row_number` and the file's columns; the
three per-version constants (`_source_file`, `_ingested_at`, `_status`) are filled in by the server
from the columns' defaults on both sides (ours sets `greenhouse.source_file` in its transaction,
the anchor as a connection option). Three rounds, each: the library path then the anchor on the
rows it just staged, then the command on another variant of the file and the anchor on its rows
(both tables grow alike); the figures are the medians.

BENCH_INGEST_ROWS (default 1 000 000; the large file is 4×) and BENCH_INGEST_ROUNDS (default 3)
make a smaller smoke run; BENCH_RESULTS_DIR keeps its JSON away from `bench/results/`.

Peak RSS is the whole ingesting process's, quality checks included.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import report

from greenhouse_assets import settings
from greenhouse_assets.database import connect, libpq_url
from greenhouse_assets.ingest.staging import VERSION_DEFAULTS

sys.path.insert(0, str(settings.PROJECT_ROOT / "tests"))
from helpers import make_knudjepsen_file  # noqa: E402  (the tests' generator of long real-format files)

BENCH_DB = os.environ.get("BENCH_INGEST_DB", "greenhouse_bench")  # another name: two benches at once
SMALL_ROWS = int(os.environ.get("BENCH_INGEST_ROWS", 1_000_000))
LARGE_ROWS = 4 * SMALL_ROWS
ROUNDS = int(os.environ.get("BENCH_INGEST_ROUNDS", 3))
GREENHOUSE = Path(sys.executable).parent / "greenhouse"  # the console script `make setup` installs


def fresh_database() -> str:
    """A migrated throwaway platform database; the pipeline role's URL (what the runs connect as)."""
    from greenhouse_dev import localdb

    admin = os.environ.get("GREENHOUSE_ADMIN_URL") or settings.admin_url()
    return localdb.fresh_platform(admin, platform_db=BENCH_DB, dagster_db=f"{BENCH_DB}_dagster")["DATABASE_URL"]


def ingest_in_subprocess(
    path: Path, env: dict, accept: tuple[str, ...] = ("loaded",)
) -> tuple[float, float, float, int, int]:
    """One ingestion in a fresh process: seconds until the rows are committed in staging, seconds
    until the whole run (with its quality checks) ended, the process's start-up seconds before the
    file (imports of the ingest job as `greenhouse ingest` loads it, Dagster instance, registry),
    peak RSS in KiB, and the staged file id."""
    code = (
        "import json, resource, sys, time\n"
        "born = time.time()\n"
        "from greenhouse_assets import settings; settings.apply_defaults()\n"
        "import greenhouse_assets.ingest_definitions  # what `greenhouse ingest` loads\n"
        "import dagster as dg\n"
        "from pathlib import Path\n"
        "from greenhouse_assets.defs.ingest.staging import staging_key\n"
        "from greenhouse_assets.in_process import in_process_instance, ingest_file\n"
        "from greenhouse_assets.ingest.registry import SourceRegistry\n"
        "with in_process_instance() as instance:  # as greenhouse ingest opens it\n"
        "    registry = SourceRegistry.load()\n"
        "    start = time.time()\n"
        "    report = ingest_file(Path(sys.argv[1]), instance, registry)\n"
        "    end = time.time()\n"
        "    staged, = [e.timestamp for e in instance.all_logs(report['run_id'],\n"
        "               of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)\n"
        "               if e.dagster_event.asset_key == staging_key(report['source'])]\n"
        "print(json.dumps(report))\n"
        "print(staged - start, end - start, start - born, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True, capture_output=True, text=True)
    *reports, timing = out.stdout.strip().splitlines()
    if json.loads(reports[-1])["status"] not in accept:
        raise SystemExit(f"benchmark ingest did not load {path.name}: {reports[-1]}")
    staged, total, startup, rss = timing.split()
    return float(staged), float(total), float(startup), int(rss), json.loads(reports[-1])["file_id"]


def command_in_subprocess(path: Path, env: dict) -> tuple[float, int, dict]:
    """`greenhouse ingest FILE --json` as a user runs it: wall seconds of the whole process, the file id,
    and where the seconds went (`command_breakdown`)."""
    launched, start = time.time(), time.perf_counter()
    out = subprocess.run(
        [str(GREENHOUSE), "ingest", str(path), "--json"], env=env, check=True, capture_output=True, text=True
    )
    seconds, ended = time.perf_counter() - start, time.time()
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if report["status"] != "loaded":
        raise SystemExit(f"`greenhouse ingest` did not load {path.name}: {report}")
    return seconds, report["file_id"], command_breakdown(report["run_id"], launched, ended, env)


def command_breakdown(run_id: str, launched: float, ended: float, env: dict) -> dict:
    """The command's wall time split at its run's event timestamps (read afterwards, in another process):
    start (interpreter, imports, Dagster instance, until the run's first record), the ingest op (hash,
    parse, COPY, registry), the staging checks' step, the rest of the run (Dagster's step and run records
    between and around them), and the end (from the run's last record to the process's exit)."""
    code = (
        "import json, sys\n"
        "from greenhouse_assets import settings; settings.apply_defaults()\n"
        "import dagster as dg\n"
        "with dg.DagsterInstance.get() as instance:\n"
        "    print(json.dumps([(e.dagster_event.event_type_value, e.step_key, e.timestamp)\n"
        "                      for e in instance.all_logs(sys.argv[1]) if e.dagster_event]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, run_id], env=env, check=True, capture_output=True, text=True)
    events = json.loads(out.stdout.strip().splitlines()[-1])
    at = {(kind, step): stamp for kind, step, stamp in events}
    step = {
        name: at[("STEP_SUCCESS", name)] - at[("STEP_START", name)]
        for name in ("ingest_file_version", "staging_quality_checks")
    }
    run = events[-1][2] - events[0][2]
    return {
        "start_s": events[0][2] - launched,
        "op_s": step["ingest_file_version"],
        "checks_s": step["staging_quality_checks"],
        "run_records_s": run - sum(step.values()),
        "end_s": ended - events[-1][2],
    }


def variant(path: Path, round_: int) -> Path:
    """The file with its first reading replaced: new content (never a duplicate) of the same shape."""
    data = path.read_bytes()
    start = data.index(b";", data.index(b'"07-09-2015 00:00:00"')) + 1
    end = data.index(b";", start)
    dest = path.parent / f"round{round_}" / path.name
    dest.parent.mkdir()
    dest.write_bytes(data[:start] + str(round_).encode() + data[end:])
    return dest


def sent_columns(conn, table: str) -> list[str]:
    """The columns ours sends in its COPY: every column but the per-version constants filled by defaults."""
    return [
        name
        for (name,) in conn.execute(
            """SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped
           ORDER BY attnum""",
            (table,),
        ).fetchall()
        if name not in VERSION_DEFAULTS
    ]


def psql_copy_seconds(url: str, workdir: Path, file_id: int) -> float:
    """`psql \\copy` (a whole psql process) of exactly the rows the platform staged for `file_id`, and
    exactly the columns it sent, as a clean CSV, into a table like the staging table (same types,
    defaults, indexes) that, like it, keeps every earlier round's rows."""
    clean_csv = workdir / "clean.csv"
    with connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS staging.copy_anchor (LIKE staging.raw_knudjepsen INCLUDING ALL)")
        columns = sent_columns(conn, "staging.raw_knudjepsen")
        assert set(columns) <= set(sent_columns(conn, "staging.copy_anchor")), "anchor table lacks a new column"
        listed = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
        export = (
            f"COPY (SELECT {listed} FROM staging.raw_knudjepsen WHERE _file_id = {int(file_id)}) TO STDOUT (FORMAT csv)"
        )
        with open(clean_csv, "wb") as out, conn.cursor().copy(export) as copy:
            for chunk in copy:
                out.write(chunk)
    # The `_source_file` default reads this setting, as in ours (which sets it in its transaction).
    env = {**os.environ, "PGOPTIONS": f"-c greenhouse.source_file={clean_csv.name}"}
    start = time.perf_counter()
    subprocess.run(
        [
            "psql",
            libpq_url(url),
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f"\\copy staging.copy_anchor ({listed}) FROM '{clean_csv}' WITH (FORMAT csv)",
        ],
        check=True,
        env=env,
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        small = make_knudjepsen_file(workdir / "NO3_LAMPEGRP_1.csv", SMALL_ROWS)
        large = make_knudjepsen_file(workdir / "NO4_LAMPEGRP_1.csv", LARGE_ROWS)

        url = fresh_database()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "GREENHOUSE_LAKE_URL": str(workdir / "lake"),
            "GREENHOUSE_LANDING_DIR": str(workdir),
        }
        rounds = []
        for round_ in range(ROUNDS):  # interleaved, so a noisy spell hits both sides
            staged, total, startup, rss, file_id = ingest_in_subprocess(variant(small, round_), env)
            anchor = psql_copy_seconds(url, workdir, file_id)
            command, command_file_id, breakdown = command_in_subprocess(variant(small, ROUNDS + round_), env)
            rounds.append(
                {
                    "ours_seconds": staged,
                    "anchor_seconds": anchor,
                    "run_seconds_with_quality_checks": total,
                    "process_startup_seconds": startup,
                    "peak_rss_mib": rss / 1024,
                    "command_ours_seconds": command,
                    "command_breakdown": breakdown,
                    "command_anchor_seconds": psql_copy_seconds(url, workdir, command_file_id),
                }
            )
        # 4 M readings 5 min apart run past today: the blocking check excludes the version after staging and
        # checking all of it, which is the work whose memory is measured here.
        *_, large_rss, _ = ingest_in_subprocess(large, env, accept=("loaded", "excluded"))

    small_seconds = statistics.median(r["ours_seconds"] for r in rounds)
    anchor_seconds = statistics.median(r["anchor_seconds"] for r in rounds)
    command_seconds = statistics.median(r["command_ours_seconds"] for r in rounds)
    breakdown = {
        k: statistics.median(r["command_breakdown"][k] for r in rounds) for k in rounds[0]["command_breakdown"]
    }
    command_anchor_seconds = statistics.median(r["command_anchor_seconds"] for r in rounds)
    small_rss = max(r["peak_rss_mib"] for r in rounds) * 1024
    rows = f"{SMALL_ROWS / 1e6:g} M"
    report(
        "ingest",
        ours=SMALL_ROWS / small_seconds,
        anchor=SMALL_ROWS / anchor_seconds,
        unit="rows/s",
        target="ratio >= 1.0; command_ratio >= 0.7; rss_ratio <= 1.25",
        summary=f"{SMALL_ROWS:,} Knudjepsen rows landing → staging in {small_seconds:.2f} s vs psql \\copy "
        f"{anchor_seconds:.2f} s (library path); `greenhouse ingest` {command_seconds:.2f} s vs "
        f"`psql -c \\copy` {command_anchor_seconds:.2f} s as whole processes, ratio "
        f"{command_anchor_seconds / command_seconds:.2f} (medians of {ROUNDS} interleaved rounds; the command's "
        f"{', '.join(f'{k[:-2]} {v:.2f} s' for k, v in breakdown.items())}); "
        f"peak RSS {small_rss / 1024:.0f} MiB ({rows}) vs {large_rss / 1024:.0f} MiB (4 × {rows})",
        rows=SMALL_ROWS,
        ours_seconds=small_seconds,
        anchor_seconds=anchor_seconds,
        command_ratio=command_anchor_seconds / command_seconds,
        command_ours_s=command_seconds,
        command_anchor_s=command_anchor_seconds,
        command_breakdown_s=breakdown,
        rounds=rounds,
        peak_rss_mib_1m=small_rss / 1024,
        peak_rss_mib_4m=large_rss / 1024,
        rss_ratio=large_rss / small_rss,
    )


if __name__ == "__main__":
    main()
