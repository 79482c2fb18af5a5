"""`greenhouse` in the dev venv: the runtime's commands (greenhouse_assets/cli.py) plus the developer ones:
`db` for the project-local cluster too (up, stop, status, url; standby: a streaming replica in .local/standby
on GREENHOUSE_STANDBY_PORT; promote: make it the primary), `generate-sample`, `run` and `dev`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from greenhouse_assets import cli, settings


def _db(args: argparse.Namespace) -> int:
    from greenhouse_dev import localdb

    actions = {
        "up": localdb.up,
        "stop": localdb.stop,
        "status": localdb.status,
        "standby": lambda: localdb.standby(sync=not args.asynchronous),
        "promote": localdb.promote,
    }
    if args.action == "url":
        print(localdb.url() if args.role == "pipeline" else settings.role_url(args.role))
        return 0
    return actions[args.action]()


def _generate_sample(args: argparse.Namespace) -> int:
    from greenhouse_dev.sample import generate_sample

    written = generate_sample(args.out, days=args.days, seed=args.seed, start=args.start)
    for path in written:
        print(path)
    return 0


def _run(args: argparse.Namespace) -> int:
    from greenhouse_dev.main_job import run_main_job

    return run_main_job(sample_days=args.days, seed=args.seed, input_dir=args.input)


def _dev(args: argparse.Namespace) -> int:
    """The UI and the daemon (sensors, automation) on Postgres storage, from the project folder; with
    `--auth` (or GREENHOUSE_UI_AUTH=1) behind nginx, with a read-only UI for viewers (webauth.py)."""
    if args.auth or settings.ui_auth():
        from greenhouse_assets.webauth import dev_with_auth

        return dev_with_auth(args.host, args.port)
    command = [
        "dagster",
        "dev",
        "-w",
        str(settings.PROJECT_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.chdir(settings.PROJECT_ROOT)
    os.execvp(str(Path(sys.executable).parent / "dagster"), command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenhouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = cli.add_commands(sub, db=_db, db_actions=("up", "stop", "status", "url", "standby", "promote"))
    db.add_argument(
        "--async",
        dest="asynchronous",
        action="store_true",
        help="with `standby`: commits do not wait for the standby (faster; a crash may lose the last ones)",
    )

    gen = sub.add_parser("generate-sample", help="write deterministic sample files in the real formats")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--days", type=int, default=21)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--start", default="2014-03-17", help="first day, YYYY-MM-DD (default spans the 2014 DST change)")
    gen.set_defaults(func=_generate_sample)

    run = sub.add_parser(
        "run",
        help="the main job: the bundled sample, or your files (--input), through the whole "
        "asset graph; exit 0 all loaded, 2 some files quarantined, 1 failure",
    )
    run.add_argument(
        "--input",
        type=Path,
        metavar="DIR",
        help="load every file under DIR (e.g. an archive) instead of generating the sample",
    )
    run.add_argument(
        "--days",
        type=int,
        default=28,
        help="sample days, without --input (28: ≥ 20 days lets blocked cross-validation validate an energy model)",
    )
    run.add_argument("--seed", type=int, default=42, help="sample seed (without --input)")
    run.set_defaults(func=_run)

    dev = sub.add_parser("dev", help="Dagster UI + daemon on Postgres storage")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument(
        "--auth",
        action="store_true",
        help="behind nginx with basic auth: operators get the full UI, viewers a read-only one "
        "(credentials from GREENHOUSE_UI_OPERATOR_PASSWORD / GREENHOUSE_UI_VIEWER_PASSWORD)",
    )
    dev.set_defaults(func=_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, parser=build_parser())


if __name__ == "__main__":
    sys.exit(main())
