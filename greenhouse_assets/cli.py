"""`greenhouse` command line, the runtime's part: what a deployment's image runs (`python -m greenhouse_assets.cli`:
prepare the server, migrate, ingest, roll back, the UI proxy, the docs). The developer commands (the local
cluster, the sample, `run`, `dev`) are `greenhouse_dev/cli.py`, which adds them to these in the dev venv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from greenhouse_assets import settings


def _db(args: argparse.Namespace) -> int:
    """The server `DATABASE_URL` names, prepared or checked (bootstrap.py); never started here."""
    from greenhouse_assets import bootstrap

    if args.action == "url":
        print(settings.role_url(args.role))
        return 0
    try:
        return {"up": bootstrap.prepare, "status": bootstrap.status}[args.action](settings.database_url())
    except bootstrap.SetupError as error:
        print(f"greenhouse db {args.action}: error: {error}", file=sys.stderr)
        return 1


def _migrate(args: argparse.Namespace) -> int:
    """As the owner role (settings.owner_url): the pipeline may not change the schema."""
    from greenhouse_assets import migrate

    if args.direction == "up":
        migrate.upgrade(args.revision or "head")
    else:
        migrate.downgrade(args.revision or "base")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    """The command's imports (Dagster with its Postgres storage, the ingest job, polars, pyarrow) run with
    the cyclic garbage collector off, and the ~250 000 objects they leave, which live as long as the
    process, are then kept out of its scans (`gc.freeze`). Otherwise the collector traverses them again and
    again while they are built and later in the run: ≈ 0.4 s of a 1 M-row file's ≈ 4 s, for no garbage.
    What the runs leave behind is collected as before."""
    import gc

    gc.disable()
    try:
        import dagster_postgres.utils  # noqa: F401 - the instance's storage (in_process_instance)

        import greenhouse_assets.ingest_definitions  # noqa: F401 - the job (ingest_file)
        from greenhouse_assets.in_process import ingest_paths
    finally:
        gc.freeze()
        gc.enable()
    return ingest_paths(args.paths, as_json=args.json)


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
        print(
            f"{v.file_id:>8} {v.version:>7}  {v.state:<28} {rows:>10}  {v.received_at:%Y-%m-%d %H:%M:%S}  "
            f"{v.source:<12} {v.path}"
        )
    return 0


def _rollback(args: argparse.Namespace) -> int:
    """The `rollback_file` job, run in-process on the Dagster instance, so the UI shows it and the
    daemon's automation sees the changed staging partitions and recomputes what depends on them."""

    from greenhouse_assets.definitions import defs
    from greenhouse_assets.in_process import CONSOLE_LOGGING, failure_message, in_process_instance

    config = {"file": args.target, "reason": args.reason}
    if args.to is not None:
        config["to_version"] = args.to
    with in_process_instance() as instance:
        result = defs.resolve_job_def("rollback_file").execute_in_process(
            run_config={"ops": {"set_active_file_version": {"config": config}}, "loggers": CONSOLE_LOGGING},
            instance=instance,
            tags={"user": settings.cli_user()},
            raise_on_error=False,
        )
    if not result.success:
        print(f"greenhouse rollback: {failure_message(result) or 'the rollback run failed'}", file=sys.stderr)
        return 1
    for event in result.all_events:
        if event.is_step_materialization:
            print(event.step_materialization_data.materialization.description)
    print(
        f"run {result.run_id}: measurements, day features and MOGA recompute by themselves while the "
        "daemon runs (`make dev`)"
    )
    return 0


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
        print(
            f"data dictionary: {settings.DBT_PROJECT_DIR / 'target' / 'index.html'} "
            f"(serve it with: .venv/bin/dbt docs serve --project-dir {project} --profiles-dir {project})"
        )
    return completed.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="greenhouse", description=__doc__)
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def add_commands(sub, db=_db, db_actions=("up", "status", "url")) -> argparse.ArgumentParser:
    """The runtime's commands; the developer CLI passes its own `db` (the local cluster too) and gets the
    `db` parser back for its own options."""
    db_parser = sub.add_parser("db", help="the PostgreSQL + TimescaleDB server")
    db_parser.add_argument("action", choices=db_actions)
    db_parser.add_argument(
        "--role",
        choices=sorted(settings.ROLES),
        default="pipeline",
        help="with `url`: connect as this role (pipeline: what the platform uses; owner: "
        "migrations; analyst: read-only SQL; dagster: Dagster's storage)",
    )
    db_parser.set_defaults(func=db)

    mig = sub.add_parser("migrate", help="apply (up) or revert (down) the contract schema migrations")
    mig.add_argument("direction", choices=["up", "down"], nargs="?", default="up")
    mig.add_argument("--revision", help="target revision (default: head for up, base for down)")
    mig.set_defaults(func=_migrate)

    ing = sub.add_parser("ingest", help="ingest files or folders through raw and staging, in-process")
    ing.add_argument("paths", nargs="+", type=Path)
    ing.add_argument("--json", action="store_true", help="one JSON object per file")
    ing.set_defaults(func=_ingest)

    docs = sub.add_parser("docs", help="build the dbt docs (data dictionary)")
    docs.set_defaults(func=_docs)

    files = sub.add_parser("files", help="file versions and their state (active, inactive, excluded, ...)")
    files.add_argument("--path", help="only this path's versions (as listed, or a file in the landing folder)")
    files.set_defaults(func=_files)

    rb = sub.add_parser(
        "rollback",
        help="put a path back to its previous file version (or --to another one); "
        "audited, and everything downstream recomputes by itself",
    )
    rb.add_argument("target", metavar="FILE_ID|PATH", help="the version to roll back, or a path (its active version)")
    rb.add_argument("--to", type=int, metavar="VERSION", help="make this version of the path the active one")
    rb.add_argument("--reason", default="", help="why, for the audit log")
    rb.set_defaults(func=_rollback)

    proxy = sub.add_parser("ui-proxy", help="nginx with basic auth in front of running webservers (docker compose)")
    proxy.add_argument("--listen", default="0.0.0.0:3000", help="HOST:PORT nginx listens on")
    proxy.add_argument("--operator-ui", required=True, metavar="HOST:PORT", help="the full dagster-webserver")
    proxy.add_argument("--viewer-ui", required=True, metavar="HOST:PORT", help="the `--read-only` dagster-webserver")
    proxy.set_defaults(func=_ui_proxy)
    return db_parser


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    from greenhouse_assets.database import DatabaseUnavailable
    from greenhouse_assets.webauth import AuthSetupError

    settings.apply_defaults()
    args = (parser or build_parser()).parse_args(argv)
    try:
        code = args.func(args) or 0
    except (DatabaseUnavailable, AuthSetupError) as error:  # says what and why; a traceback would add nothing
        print(f"greenhouse: {error}", file=sys.stderr)
        return 1
    if argv is None and args.func is _ingest:  # the process's own command line: `greenhouse ingest` ends here
        _end_process(code)
    return code


def _end_process(code: int) -> None:
    """End the process now that its work is committed and its Dagster instance closed, without the
    interpreter's teardown of every module Dagster, pyarrow and polars loaded: about 0.8 s of a
    `greenhouse ingest` (a tenth of a 1 M-row file's), spent freeing memory the OS frees anyway.
    The exit handlers still run and the output is flushed; no thread is left to finish (the in-process
    run's steps ran in this one)."""
    import atexit
    import logging
    import os

    atexit._run_exitfuncs()  # noqa: SLF001 - what a normal exit runs first (logging's flush among them)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
