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


def _files(args: argparse.Namespace) -> int:
    """Every file version (of one path) with its state: active, inactive, excluded, duplicate, quarantined."""
    from greenhouse_assets.database import connect
    from greenhouse_assets.governance.rollback import versions

    with connect(settings.database_url()) as conn:
        listed = versions(conn, args.path)
    if not listed:
        print(f"no file version{f' has the path {args.path!r}' if args.path else ' yet'}", file=sys.stderr)
        return 1
    print(f"{'file_id':>8} {'version':>7}  {'state':<28} {'rows':>10}  {'received (UTC)':<19}  {'source':<12} path")
    for v in listed:
        rows = "" if v.rows_staged is None else f"{v.rows_staged:,}"
        print(f"{v.file_id:>8} {v.version:>7}  {v.state:<28} {rows:>10}  {v.received_at:%Y-%m-%d %H:%M:%S}  "
              f"{v.source:<12} {v.path}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    """The `rollback_file` job, run in-process on the Dagster instance, so the UI shows it and the
    daemon's automation sees the changed staging partitions and recomputes what depends on them."""

    from greenhouse_assets.definitions import defs
    from greenhouse_assets.ingest.command import CONSOLE_LOGGING, failure_message, in_process_instance

    config = {"file": args.target, "reason": args.reason}
    if args.to is not None:
        config["to_version"] = args.to
    with in_process_instance() as instance:
        result = defs.resolve_job_def("rollback_file").execute_in_process(
            run_config={"ops": {"set_active_file_version": {"config": config}}, "loggers": CONSOLE_LOGGING},
            instance=instance, tags={"user": settings.cli_user()}, raise_on_error=False)
    if not result.success:
        print(f"greenhouse rollback: {failure_message(result) or 'the rollback run failed'}", file=sys.stderr)
        return 1
    for event in result.all_events:
        if event.is_step_materialization:
            print(event.step_materialization_data.materialization.description)
    print(f"run {result.run_id}: measurements, day features and MOGA recompute by themselves while the "
          "daemon runs (`make dev`)")
    return 0


def _dev(args: argparse.Namespace) -> int:
    """The UI and the daemon (sensors, automation) on Postgres storage, from the project folder; with
    `--auth` (or GREENHOUSE_UI_AUTH=1) behind nginx, with a read-only UI for viewers (webauth.py)."""
    import os

    if args.auth or settings.ui_auth():
        from greenhouse_assets.webauth import dev_with_auth

        return dev_with_auth(args.host, args.port)
    command = ["dagster", "dev", "-w", str(settings.PROJECT_ROOT / "workspace.yaml"),
               "-h", args.host, "-p", str(args.port)]
    os.chdir(settings.PROJECT_ROOT)
    os.execvp(str(Path(sys.executable).parent / "dagster"), command)


def _ui_proxy(args: argparse.Namespace) -> int:
    from greenhouse_assets.webauth import serve_proxy

    return serve_proxy(listen=args.listen, operator_ui=args.operator_ui, viewer_ui=args.viewer_ui)


def _docs(args: argparse.Namespace) -> int:
    """dbt's data dictionary as a static site in dbt_project/target.

    `--no-compile`: descriptions come from the YAML, so the docs build even before the first run. That
    skips writing the manifest the site reads, so `dbt parse` writes it first.
    """
    import subprocess

    from greenhouse_assets.transform.profile import export_dbt_env

    export_dbt_env()
    project = str(settings.DBT_PROJECT_DIR)
    dbt = [str(Path(sys.executable).parent / "dbt")]
    where = ["--project-dir", project, "--profiles-dir", project]
    completed = subprocess.run([*dbt, "parse", *where])
    if completed.returncode == 0:
        completed = subprocess.run([*dbt, "docs", "generate", "--no-compile", *where])
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

    files = sub.add_parser("files", help="file versions and their state (active, inactive, excluded, ...)")
    files.add_argument("--path", help="only this path's versions (as listed, or a file in the landing folder)")
    files.set_defaults(func=_files)

    rb = sub.add_parser("rollback", help="put a path back to its previous file version (or --to another one); "
                        "audited, and everything downstream recomputes by itself")
    rb.add_argument("target", metavar="FILE_ID|PATH", help="the version to roll back, or a path (its active version)")
    rb.add_argument("--to", type=int, metavar="VERSION", help="make this version of the path the active one")
    rb.add_argument("--reason", default="", help="why, for the audit log")
    rb.set_defaults(func=_rollback)

    dev = sub.add_parser("dev", help="Dagster UI + daemon on Postgres storage")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--auth", action="store_true",
                     help="behind nginx with basic auth: operators get the full UI, viewers a read-only one "
                          "(credentials from GREENHOUSE_UI_OPERATOR_PASSWORD / GREENHOUSE_UI_VIEWER_PASSWORD)")
    dev.set_defaults(func=_dev)

    proxy = sub.add_parser("ui-proxy", help="nginx with basic auth in front of running webservers (docker compose)")
    proxy.add_argument("--listen", default="0.0.0.0:3000", help="HOST:PORT nginx listens on")
    proxy.add_argument("--operator-ui", required=True, metavar="HOST:PORT", help="the full dagster-webserver")
    proxy.add_argument("--viewer-ui", required=True, metavar="HOST:PORT", help="the `--read-only` dagster-webserver")
    proxy.set_defaults(func=_ui_proxy)
    return parser


def main(argv: list[str] | None = None) -> int:
    from greenhouse_assets.database import DatabaseUnavailable
    from greenhouse_assets.webauth import AuthSetupError

    settings.apply_defaults()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (DatabaseUnavailable, AuthSetupError) as error:  # says what and why; a traceback would add nothing
        print(f"greenhouse: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
