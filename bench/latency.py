"""Latency from a file landing to MOGA results updated, through `dagster dev`: with the defaults users
get, and with the intervals it needs to be fast.

Ours: the real daemon and webserver (tests/e2e/stack.py) on a fresh database; a 14-day Knudjepsen
sample file is dropped in the landing folder once the stack is idle. Reported per layer: seconds
from the landing to the end of the run that wrote it (landing → staging, → measurements,
→ features, → MOGA), each run's duration (GraphQL start/end) and the wait before it (settling,
sensor ticks, run launch).

Two settings, each on its own stack and fresh databases:
- defaults: what `make dev` runs with (greenhouse_assets/settings.py): GREENHOUSE_SENSOR_INTERVAL
  5 s, GREENHOUSE_MOGA_INTERVAL 30 s (MOGA recomputes once a data day is complete: the 14-day file
  completes 13), GREENHOUSE_PLAN_INTERVAL 600 s. The bench waits up to `--bound` seconds (default 600)
  and reports a layer not reached by then as "not within N s" (null in the JSON);
- fast: every interval 5 s (`--fast-interval`), the intervals the chain needs to be quick. This
  is the `ours` of the JSON, against the anchor.

Databases: `greenhouse_bench_<name>_<sensor>_<moga>` and `dagster_bench_…` (and `…_anchor`), `<name>`
from BENCH_LATENCY_DB (default `latency`): another name lets two benches run at once.

The anchor is the same chain on the same file run in-process by `make run`'s code path (ingest,
then everything downstream in dependency order): the work itself, without sensors or process
launches.

`--rounds R` (default 1) interleaves R rounds (defaults, fast, anchor; then anchor, fast, defaults;
...) and reports the median of each figure over the rounds; every round's figures are in the JSON's
`rounds`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import report

from greenhouse_assets import settings
from greenhouse_assets.database import connect
from greenhouse_dev.sample import generate_sample

sys.path.insert(0, str(settings.PROJECT_ROOT / "tests"))
from e2e.stack import dagster_dev  # noqa: E402

DAYS = 14
# layer: (the asset whose run ends it, what the landing reached then)
LAYERS = {
    "ingest": ("raw/files", "staging"),
    "timeseries": ("timeseries/measurements", "measurements"),
    "features": ("features/extracted_features", "features"),
    "moga": ("moga_results", "MOGA"),
}
# What `make dev` gets.
DEFAULT_SENSOR_INTERVAL, DEFAULT_MOGA_INTERVAL, DEFAULT_PLAN_INTERVAL = (
    settings.SENSOR_INTERVAL,
    settings.MOGA_INTERVAL,
    settings.PLAN_INTERVAL,
)
BENCH_DB = os.environ.get("BENCH_LATENCY_DB", "latency")


def fresh_databases(suffix: str) -> dict[str, str]:
    """Migrated throwaway platform and Dagster databases; the environment of the roles that use them."""
    from greenhouse_dev import localdb

    admin = os.environ.get("GREENHOUSE_ADMIN_URL") or settings.admin_url()
    return localdb.fresh_platform(admin, platform_db=f"greenhouse_bench_{suffix}", dagster_db=f"dagster_bench_{suffix}")


def moga_done(url: str) -> bool:
    with connect(url) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM moga.runs WHERE horizon_start::date = "
                "(SELECT (max(time) AT TIME ZONE 'UTC')::date + 1 FROM timeseries.measurements)"
            ).fetchone()
        )


def through_dagster_dev(
    sample: Path, workdir: Path, *, sensor_interval: int, moga_interval: int, plan_interval: int, bound: float
) -> tuple[float | None, dict]:
    """Seconds from the landing to MOGA results (None if not within `bound`), and per layer: seconds
    from the landing to the end of its run (`reached_s`, None if not within `bound`), wait and run."""
    name = f"{BENCH_DB}_{sensor_interval}_{moga_interval}"
    workdir = workdir / name
    env = {
        **fresh_databases(name),
        "GREENHOUSE_LANDING_DIR": str(workdir / "landing"),
        "GREENHOUSE_LAKE_URL": str(workdir / "lake"),
        "GREENHOUSE_DAGSTER_STORAGE": str(workdir / "storage"),
        "GREENHOUSE_DAGSTER_COMPUTE_LOGS": str(workdir / "logs"),
        "DAGSTER_HOME": str(settings.PROJECT_ROOT),
        "GREENHOUSE_SENSOR_INTERVAL": str(sensor_interval),
        "GREENHOUSE_MOGA_INTERVAL": str(moga_interval),
        "GREENHOUSE_PLAN_INTERVAL": str(plan_interval),
    }
    (workdir / "landing" / "knudjepsen").mkdir(parents=True)
    # Starting the stack is not part of the latency: on a loaded machine the webserver can take minutes.
    with dagster_dev(env, workdir / "dagster-dev.log", timeout=600) as dagster:
        boot = time.time() - 60
        while any(r["status"] != "SUCCESS" for r in dagster.runs(boot)) or not dagster.runs(boot):
            time.sleep(2)  # the first evaluation builds the dbt seeds and models once: not part of the latency
        landed = time.time()
        shutil.copyfile(sample, workdir / "landing" / "knudjepsen" / sample.name)
        total = None
        while time.time() - landed <= bound:
            if moga_done(env["DATABASE_URL"]):
                total = time.time() - landed
                break
            time.sleep(1)
        # MOGA results are committed before their run ends (the asset's checks and the run's end
        # follow): stopping the stack now would interrupt that run and lose its end time.
        runs = dagster.runs(landed)
        while (
            total is not None
            and time.time() - landed <= bound
            and not any(LAYERS["moga"][0] in r["assets"] and r["endTime"] for r in runs)
        ):
            time.sleep(1)
            runs = dagster.runs(landed)
    layers, previous_end = {}, landed
    for layer, (asset, _) in LAYERS.items():
        run = next(
            (
                r
                for r in runs
                if asset in r["assets"] and r["status"] == "SUCCESS" and r["endTime"] and r["endTime"] - landed <= bound
            ),
            None,
        )
        if run is None:
            layers[layer] = {"reached_s": None, "wait_s": None, "run_s": None, "run_id": None}
            continue
        layers[layer] = {
            "reached_s": round(run["endTime"] - landed, 1),
            "wait_s": round(run["startTime"] - previous_end, 1),
            "run_s": round(run["endTime"] - run["startTime"], 1),
            "run_id": run["runId"],
        }
        previous_end = run["endTime"]
    return total, layers


def describe(layers: dict, bound: float) -> str:
    return ", ".join(
        f"→ {what} {layers[layer]['reached_s']:.0f} s"
        if layers[layer]["reached_s"] is not None
        else f"→ {what} not within {bound:.0f} s"
        for layer, (_, what) in LAYERS.items()
    )


def in_process(sample: Path, workdir: Path) -> float:
    """`make run`'s code path on the same file, in a fresh process and databases (imports excluded)."""
    env = {
        **os.environ,
        **fresh_databases(f"{BENCH_DB}_anchor"),
        "GREENHOUSE_LANDING_DIR": str(sample.parent.parent),
        "GREENHOUSE_LAKE_URL": str(workdir / "anchor-lake"),
        "DAGSTER_HOME": str(settings.PROJECT_ROOT),
        "GREENHOUSE_DAGSTER_STORAGE": str(workdir / "anchor-storage"),
        "GREENHOUSE_DAGSTER_COMPUTE_LOGS": str(workdir / "anchor-logs"),
    }
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "import dagster as dg\n"
        "import greenhouse_assets.definitions\n"
        "from greenhouse_assets.in_process import ingest_file\n"
        "from greenhouse_assets.ingest.registry import SourceRegistry\n"
        "from greenhouse_dev.main_job import _refresh_downstream\n"
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bound",
        type=float,
        default=600,
        help="with the default intervals, wait at most this many seconds after the landing (default 600)",
    )
    parser.add_argument(
        "--fast-interval",
        type=int,
        default=5,
        help="sensor, MOGA and plan interval of the fast setting, seconds (default 5)",
    )
    parser.add_argument("--fast-bound", type=float, default=900, help="the fast setting's limit, seconds (default 900)")
    parser.add_argument("--only", choices=["defaults", "fast"], help="measure one setting only (no JSON written)")
    parser.add_argument("--days", type=int, default=DAYS, help=f"length of the sample file (default {DAYS})")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds, medians reported (default 1)")
    return parser.parse_args(argv)


def print_layers(title: str, layers: dict) -> None:
    print(title)
    for layer, figures in layers.items():
        if figures["reached_s"] is None:
            print(f"  {layer:<11} not reached")
        else:
            print(
                f"  {layer:<11} reached {figures['reached_s']:>6.1f} s after landing "
                f"(waited {figures['wait_s']:>6.1f} s, ran {figures['run_s']:>6.1f} s)"
            )


def measure_round(args: argparse.Namespace, sample: Path, workdir: Path, reverse: bool) -> dict:
    """One round: each setting asked for on its own stack, and (unless `--only`) the anchor; `reverse`
    runs them in the opposite order, so drift over the rounds does not favour one side."""
    steps = [setting for setting in ("defaults", "fast") if args.only in (None, setting)]
    steps += [] if args.only else ["anchor"]
    figures: dict = {}
    for step in reversed(steps) if reverse else steps:
        if step == "anchor":
            figures["anchor"] = in_process(sample, workdir)
            continue
        interval = {"defaults": None, "fast": args.fast_interval}[step]
        bound = args.bound if step == "defaults" else args.fast_bound
        total, layers = through_dagster_dev(
            sample,
            workdir,
            sensor_interval=interval or DEFAULT_SENSOR_INTERVAL,
            moga_interval=interval or DEFAULT_MOGA_INTERVAL,
            plan_interval=interval or DEFAULT_PLAN_INTERVAL,
            bound=bound,
        )
        title = (
            f"defaults ({DEFAULT_SENSOR_INTERVAL} s sensors, {DEFAULT_MOGA_INTERVAL} s MOGA day rule, "
            f"{DEFAULT_PLAN_INTERVAL} s plan)"
            if step == "defaults"
            else f"fast ({args.fast_interval} s sensors and MOGA)"
        )
        print_layers(f"{title}: " + describe(layers, bound), layers)
        figures[step] = {"moga_s": total, "layers": layers}
    return figures


def _median(values: list) -> float | None:
    """Median over the rounds that reached it; None when a round did not (a bound was hit)."""
    return None if not values or any(v is None for v in values) else round(statistics.median(values), 1)


def median_layers(rounds: list[dict], setting: str) -> dict:
    return {
        layer: {
            figure: _median([r[setting]["layers"][layer][figure] for r in rounds])
            for figure in ("reached_s", "wait_s", "run_s")
        }
        for layer in LAYERS
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        workdir = Path(tmp)
        sample = next(p for p in generate_sample(workdir / "sample", days=args.days) if p.parent.name == "knudjepsen")
        for index in range(args.rounds):
            print(f"round {index + 1} of {args.rounds}")
            rounds.append(measure_round(args, sample, workdir / f"round-{index}", reverse=index % 2 == 1))
    if args.only:
        return
    ours = _median([r["fast"]["moga_s"] for r in rounds])
    if ours is None:
        raise SystemExit(f"no MOGA results within {args.fast_bound:.0f} s even with {args.fast_interval} s intervals")
    anchor = statistics.median(r["anchor"] for r in rounds)
    layers, default_layers = median_layers(rounds, "fast"), median_layers(rounds, "defaults")
    report(
        "latency",
        ours=ours,
        anchor=anchor,
        unit="s",
        target="ratio as low as the sensor intervals allow",
        summary=f"{args.days}-day Knudjepsen file landing → MOGA results in {ours:.0f} s via dagster dev "
        f"({args.fast_interval} s intervals) vs {anchor:.0f} s in-process; with the defaults "
        f"({DEFAULT_SENSOR_INTERVAL} s / {DEFAULT_MOGA_INTERVAL} s / {DEFAULT_PLAN_INTERVAL} s): "
        + describe(default_layers, args.bound)
        + f" (medians of {args.rounds} interleaved round{'s' if args.rounds > 1 else ''})",
        days=args.days,
        sensor_interval_s=args.fast_interval,
        moga_interval_s=args.fast_interval,
        plan_interval_s=args.fast_interval,
        layers=layers,
        reached_s={layer: f["reached_s"] for layer, f in layers.items()},
        defaults={
            "sensor_interval_s": DEFAULT_SENSOR_INTERVAL,
            "moga_interval_s": DEFAULT_MOGA_INTERVAL,
            "plan_interval_s": DEFAULT_PLAN_INTERVAL,
            "bound_s": args.bound,
            "moga_s": _median([r["defaults"]["moga_s"] for r in rounds]),
            "layers": default_layers,
            "reached_s": {layer: f["reached_s"] for layer, f in default_layers.items()},
        },
        rounds=rounds,
    )


if __name__ == "__main__":
    main()
