"""`greenhouse` command line: the set-up and one-shot jobs the Makefile and users call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from greenhouse_assets import settings


def _db(args: argparse.Namespace) -> int:
    from greenhouse_assets import localdb

    actions = {"up": localdb.up, "stop": localdb.stop, "status": localdb.status}
    if args.action == "url":
        print(localdb.url() if args.role == "pipeline" else settings.role_url(args.role))
        return 0
    return actions[args.action]()


def _migrate(args: argparse.Namespace) -> int:
    """As the owner role (settings.owner_url): the pipeline may not change the schema."""
    from greenhouse_assets import migrate

    if args.direction == "up":
        migrate.upgrade(args.revision or "head")
    else:
        migrate.downgrade(args.revision or "base")
    return 0


def _generate_sample(args: argparse.Namespace) -> int:
    from greenhouse_assets.sample import generate_sample

    written = generate_sample(args.out, days=args.days, seed=args.seed, start=args.start)
    for path in written:
        print(path)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from greenhouse_assets.ingest.command import ingest_paths

    return ingest_paths(args.paths, as_json=args.json)


def _run(args: argparse.Namespace) -> int:
    from greenhouse_assets.main_job import run_main_job

    return run_main_job(sample_days=args.days, seed=args.seed, input_dir=args.input)


def _dev(args: argparse.Namespace) -> int:
    """The UI and the daemon (sensors, automation) on Postgres storage, from the project folder."""
    import os

    command = ["dagster", "dev", "-w", str(settings.PROJECT_ROOT / "workspace.yaml"),
               "-h", args.host, "-p", str(args.port)]
    os.chdir(settings.PROJECT_ROOT)
    os.execvp(str(Path(sys.executable).parent / "dagster"), command)


def _docs(args: argparse.Namespace) -> int:
    """dbt's data dictionary as a static site in dbt_project/target.

    `--no-compile`: descriptions come from the YAML, so the docs build even before the first run.
    """
    import subprocess

    from greenhouse_assets.transform.profile import export_dbt_env

    export_dbt_env()
    project = str(settings.DBT_PROJECT_DIR)
    command = [str(Path(sys.executable).parent / "dbt"), "docs", "generate", "--no-compile",
               "--project-dir", project, "--profiles-dir", project]
    completed = subprocess.run(command)
    if completed.returncode == 0:
        print(f"data dictionary: {settings.DBT_PROJECT_DIR / 'target' / 'index.html'} "
              f"(serve it with: .venv/bin/dbt docs serve --project-dir {project} --profiles-dir {project})")
    return completed.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenhouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the PostgreSQL + TimescaleDB cluster")
    db.add_argument("action", choices=["up", "stop", "status", "url"])
    db.add_argument("--role", choices=sorted(settings.ROLES), default="pipeline",
                    help="with `url`: connect as this role (pipeline: what the platform uses; owner: migrations; "
                         "analyst: read-only SQL; dagster: Dagster's storage)")
    db.set_defaults(func=_db)

    mig = sub.add_parser("migrate", help="apply (up) or revert (down) the contract schema migrations")
    mig.add_argument("direction", choices=["up", "down"], nargs="?", default="up")
    mig.add_argument("--revision", help="target revision (default: head for up, base for down)")
    mig.set_defaults(func=_migrate)

    gen = sub.add_parser("generate-sample", help="write deterministic sample files in the real formats")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--days", type=int, default=21)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--start", default="2014-03-17", help="first day, YYYY-MM-DD (default spans the 2014 DST change)")
    gen.set_defaults(func=_generate_sample)

    ing = sub.add_parser("ingest", help="ingest files or folders through raw and staging, in-process")
    ing.add_argument("paths", nargs="+", type=Path)
    ing.add_argument("--json", action="store_true", help="one JSON object per file")
    ing.set_defaults(func=_ingest)

    run = sub.add_parser("run", help="the main job: the bundled sample, or your files (--input), through the whole "
                         "asset graph; exit 0 all loaded, 2 some files quarantined, 1 failure")
    run.add_argument("--input", type=Path, metavar="DIR",
                     help="load every file under DIR (e.g. an archive) instead of generating the sample")
    run.add_argument("--days", type=int, default=28,
                     help="sample days, without --input (28: ≥ 20 days lets blocked cross-validation validate an energy model)")
    run.add_argument("--seed", type=int, default=42, help="sample seed (without --input)")
    run.set_defaults(func=_run)
    docs = sub.add_parser("docs", help="build the dbt docs (data dictionary)")
    docs.set_defaults(func=_docs)

    dev = sub.add_parser("dev", help="Dagster UI + daemon on Postgres storage")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    from greenhouse_assets.database import DatabaseUnavailable

    settings.apply_defaults()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except DatabaseUnavailable as unavailable:  # says which database and why; a traceback would add nothing
        print(f"greenhouse: {unavailable}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
