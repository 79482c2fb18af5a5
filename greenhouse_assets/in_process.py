"""`greenhouse ingest PATH...`: the sensor's per-file runs, executed in-process, one JSON line per file.

An entry point, above the code location it runs (`definitions`, `defs/`): the domain code below never
imports either (tests/test_layout.py).

Status per file: loaded, duplicate (identical content known already; nothing new downstream),
reactivated (the path was put back to a version it held before, which is active again),
quarantined, or failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from greenhouse_assets import settings
from greenhouse_assets.database import connect
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.ingest.lake import sha256_of
from greenhouse_assets.ingest.landing import IGNORED_SUFFIXES
from greenhouse_assets.ingest.pipeline import landing_relative
from greenhouse_assets.ingest.registry import SourceRegistry

# In-process runs print step-level DEBUG events by default; the full log is in the run's page in the UI.
CONSOLE_LOGGING = {"console": {"config": {"log_level": settings.log_level()}}}


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, folders walked in sorted order; hidden and partial files skipped."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and not p.name.endswith(IGNORED_SUFFIXES)
            )
        else:
            files.append(path)
    return files


@contextmanager
def in_process_instance() -> Iterator[dg.DagsterInstance]:
    """The Dagster instance for `greenhouse ingest`'s runs, each of its PostgreSQL storages keeping one
    connection open between writes.

    dagster-postgres opens a new connection for every record it writes, and every new server
    backend starts with cold catalog caches: the few dozen run, event and asset records of one
    ingestion run cost about 0.15 s more that way, some 7 % of a 1 M-row file's ingestion. Dagster's
    webserver keeps its connections the same way (`optimize_for_webserver`); here a ping before each
    use also makes a database restart between two writes cost a reconnect (retried like every
    dagster-postgres connect) rather than a failed write.
    """
    from dagster_postgres.utils import create_pg_engine

    with dg.DagsterInstance.get() as instance:
        for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
            if hasattr(storage, "postgres_url") and hasattr(storage, "_engine"):
                storage._engine = create_pg_engine(  # noqa: SLF001 - what optimize_for_webserver replaces too
                    storage.postgres_url,
                    getattr(storage, "_token_provider", None),
                    isolation_level="AUTOCOMMIT",
                    pool_size=1,
                    max_overflow=10,
                    pool_pre_ping=True,
                )
        yield instance


def ingest_file(path: Path, instance: dg.DagsterInstance, registry: SourceRegistry) -> dict:
    """Run the `ingest_file` job for one file; report what the file registry says happened."""
    from greenhouse_assets.defs.ingest.raw import RAW_FILES, raw_run_config
    from greenhouse_assets.defs.ingest.staging import staging_key
    from greenhouse_assets.ingest_definitions import defs  # the job alone: no dbt, features or MOGA to import

    landing_root = settings.landing_dir()
    source, _rule = registry.match(Path(landing_relative(path, landing_root)))
    sha256 = sha256_of(path)
    partition_key = file_registry.partition_key_for(source.name, sha256)
    instance.add_dynamic_partitions("file_versions", [partition_key])
    run_config = raw_run_config(path.resolve(), sha256)
    run_config.loggers = CONSOLE_LOGGING
    result = defs.resolve_job_def("ingest_file").execute_in_process(
        run_config=run_config,
        instance=instance,
        partition_key=partition_key,
        asset_selection=[RAW_FILES, staging_key(source.name)],
        tags={"greenhouse/path": str(path), "greenhouse/source": source.name, "user": settings.cli_user()},
        raise_on_error=False,
    )
    raw = _raw_materialization(result)
    with connect(settings.database_url()) as conn:
        if raw.get("status") == "reactivated":  # the path was put back to this version: report the version
            version = conn.execute(
                """SELECT file_id, 'reactivated', rows_staged, rows_read, error, resolutions, NULL, NULL
                     FROM metadata.files WHERE file_id = %s""",
                (raw["file_id"],),
            ).fetchone()
        else:
            version = conn.execute(
                """SELECT file_id, status, rows_staged, rows_read, error, resolutions, excluded_by_check,
                          exclusion_reason FROM metadata.files
                   WHERE run_id = %s ORDER BY file_id DESC LIMIT 1""",
                (result.run_id,),
            ).fetchone()
    report = {"path": str(path), "source": source.name, "run_id": result.run_id}
    if version is None:
        return {
            **report,
            "status": "failed",
            "rows": 0,
            "file_id": None,
            "error": failure_message(result) or "the run recorded no file version",
        }
    file_id, status, rows_staged, rows_read, error, resolutions, excluded_by, exclusion = version
    if excluded_by is not None:  # staged, but its blocking check keeps it out of the time series
        status, error = "excluded", f"{excluded_by}: {exclusion}"
    elif not result.success and status != "quarantined":
        error = failure_message(result) or "run failed"
        status = "failed"
    return {
        **report,
        "status": status,
        "rows": rows_staged if rows_staged is not None else (rows_read or 0),
        "file_id": file_id,
        "error": error,
        "resolutions": resolutions,
    }


def _raw_materialization(result: dg.ExecuteInProcessResult) -> dict:
    """The metadata values of the run's `raw/files` materialization (status, file_id, ...), if any."""
    from greenhouse_assets.defs.ingest.raw import RAW_FILES

    for event in result.all_events:
        if event.is_step_materialization and event.asset_key == RAW_FILES:
            return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    return {}


def failure_message(result: dg.ExecuteInProcessResult) -> str | None:
    """What failed, in the step's own words, not "step X failed": a Failure's description (kept by
    Dagster past the last retry, e.g. the lost database), else the error (e.g. which blocking check)."""
    failure = next((e for e in result.all_events if e.is_step_failure), None)
    if failure is None:
        return None
    data = failure.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message.strip() if data.error else failure.message


def ingest_paths(paths: list[Path], as_json: bool = False) -> int:
    registry = SourceRegistry.load()
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"no such file or folder: {', '.join(map(str, missing))}")
    with in_process_instance() as instance:
        for path in expand(paths):
            report = ingest_file(path, instance, registry)
            if as_json:
                print(json.dumps(report, default=str), flush=True)
            else:
                detail = f"{report['rows']} rows" if report["status"] != "quarantined" else report["error"]
                print(f"{report['status']:<12} {report['source']:<12} {report['path']}: {detail}", flush=True)
    return 0
