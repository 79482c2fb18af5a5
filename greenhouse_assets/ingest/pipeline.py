"""The raw and staging steps for one file version, shared by the assets, the sensor's runs and `greenhouse ingest`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa

from greenhouse_assets import catalog
from greenhouse_assets.database import Database
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.ingest import file_registry, lake
from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.lake_store import LakeStore
from greenhouse_assets.ingest.readers import open_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.ingest.staging import BATCH_ROWS, StagingLoad, reactivate, staging_transaction


@dataclass
class RawOutcome:
    """What happened to one landed file: received (parsed into the lake), loaded (and staged), duplicate,
    reactivated (its path put back to a version received before: that version is active again) or
    quarantined."""

    status: str
    file_id: int
    source: str
    path: str
    sha256: str
    bytes: int
    partition_key: str
    rows: int = 0
    raw_uri: str | None = None
    parquet_uri: str | None = None
    detection: dict = field(default_factory=dict)
    resolutions: dict = field(default_factory=dict)  # values read by a registry rule (ParsedFile.resolutions)
    columns: list = field(default_factory=list)
    error: IngestError | None = None
    duplicate_of: int | None = None
    staged: StagingLoad | None = None


def landing_relative(path: Path, landing_root: Path) -> str:
    """Files are known by their path inside the landing folder; files from elsewhere by their absolute path."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(landing_root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def receive_file(
    path: Path,
    *,
    landing_root: Path,
    store: LakeStore,
    database: Database,
    registry: SourceRegistry,
    run_id: str | None = None,
    expected_partition: str | None = None,
    sha256: str | None = None,
    reprocess: bool = False,
    stage_as: str | None = None,
    audit_as: str | None = None,
) -> RawOutcome:
    """Hash, keep, parse and register one file in `database` (a connection per transaction); with
    `stage_as` (the actor to audit), also stage it.
    With `audit_as`, the raw asset's audit row (and the edge file version -> raw Parquet) is written in
    the transaction that registers the version, whatever became of it (received, duplicate,
    reactivated, quarantined).

    Never raises for bad content: it is quarantined instead. Content that was already loaded is a
    duplicate (recorded, nothing new downstream) unless `reprocess` asks to parse the known version
    again, e.g. a re-materialization from the UI; content received before but never staged (a raw-only
    run, or an attempt that failed before staging) is simply received again under its id. A path put
    back to a version it held before (deactivated since) is a rollback by file: with `stage_as`, that
    version is reactivated (`metadata.set_file_active`) and the receipt recorded as a duplicate of it.

    One pass over the file, every part overlapping the others: a thread copies the original bytes
    into the lake, another parses batches, a third writes the Parquet, while the batches are copied
    into staging. `sha256` is the hash the caller found when it detected the file (the landing
    sensor, `greenhouse ingest`): it is trusted for the duplicate check, and the copy's own hash must
    equal it before anything is registered, so the file is not read once more just to hash it. The
    staging transaction commits only after the version is registered, and rolls back with anything
    that fails, so nothing is half-loaded.
    """
    relative = landing_relative(path, landing_root)
    source, _rule = registry.match(Path(relative))
    sha256 = sha256 or lake.sha256_of(path)
    size = path.stat().st_size
    partition_key = file_registry.partition_key_for(source.name, sha256)
    if expected_partition is not None and partition_key != expected_partition:
        raise lake.ContentChanged(
            f"{relative} changed after it was detected: its content is now partition {partition_key}, "
            f"not {expected_partition}. The landing sensor will pick up the new content as a new version."
        )
    received_at = datetime.now(UTC)
    base = dict(source=source.name, path=relative, sha256=sha256, bytes=size, partition_key=partition_key)

    with database.connection() as conn:
        original = file_registry.loaded_with_hash(conn, sha256)
        if original is not None and original.status != "received" and not reprocess:
            file_id = file_registry.record_duplicate(
                conn,
                source=source.name,
                path=relative,
                sha256=sha256,
                size=size,
                original=original,
                partition_key=partition_key,
                run_id=run_id,
            )
            restored = (
                stage_as is not None
                and original.status == "deactivated"
                and (original.source, original.path) == (source.name, relative)
            )
            staged = (
                reactivate(
                    conn,
                    file_id=original.file_id,
                    source=source.name,
                    run_id=run_id,
                    actor=stage_as,
                    partition_key=partition_key,
                    reason=f"{relative} was put back to version {original.version}",
                )
                if restored
                else None
            )
            outcome = RawOutcome(
                status="reactivated" if restored else "duplicate",
                file_id=original.file_id if restored else file_id,
                duplicate_of=original.file_id,
                rows=original.rows_read or 0,
                raw_uri=original.raw_uri,
                parquet_uri=original.parquet_uri,
                staged=staged,
                **base,
            )
            _audit_raw(conn, audit_as, run_id, outcome)
            return outcome
        file_id = original.file_id if original is not None else file_registry.new_file_id(conn)

    try:
        with lake.OriginalCopy(
            path, store, lake.original_key(source.name, sha256, received_at, path.suffix), sha256
        ) as original_copy:
            parsed = open_file(path, registry)
            schema = lake.arrow_schema(parsed)
            staging = (
                staging_transaction(
                    database, file_id=file_id, source=source.name, source_file=relative, file_schema=schema
                )
                if stage_as
                else nullcontext()
            )
            with parsed.batches_ahead(BATCH_ROWS) as batches, staging as load:
                with lake.ParquetSink(store, lake.parquet_key(source.name, sha256), schema) as sink:
                    tables = _kept(batches, sink)
                    rows = load.copy(tables) if load else sum(table.num_rows for table in tables)
                    stored = original_copy.keep()  # before the Parquet is published: both are of the hashed content
                parquet = sink.uri
                with database.connection() as conn:
                    file_registry.record_received(
                        conn,
                        file_id=file_id,
                        parsed=parsed,
                        path=relative,
                        sha256=sha256,
                        size=size,
                        received_at=received_at,
                        raw_uri=stored,
                        parquet_uri=parquet,
                        rows=rows,
                        partition_key=partition_key,
                        run_id=run_id,
                    )
                    _audit_raw(
                        conn,
                        audit_as,
                        run_id,
                        RawOutcome(status="received", file_id=file_id, rows=rows, parquet_uri=parquet, **base),
                    )
                staged = load.finish(run_id=run_id, actor=stage_as, partition_key=partition_key) if load else None
    except IngestError as error:
        stored = lake.quarantine(path, store, source.name, sha256, error)
        with database.connection() as conn:
            file_id = file_registry.record_quarantine(
                conn,
                source=source.name,
                path=relative,
                sha256=sha256,
                size=size,
                error=error,
                quarantine_uri=stored,
                partition_key=partition_key,
                run_id=run_id,
            )
            outcome = RawOutcome(status="quarantined", file_id=file_id, error=error, raw_uri=stored, **base)
            _audit_raw(conn, audit_as, run_id, outcome)
        return outcome
    return RawOutcome(
        status="loaded" if staged else "received",
        file_id=file_id,
        rows=rows,
        raw_uri=stored,
        parquet_uri=parquet,
        detection=parsed.detection,
        resolutions=parsed.resolutions,
        columns=parsed.columns,
        staged=staged,
        **base,
    )


def _audit_raw(conn, actor: str | None, run_id: str | None, outcome: RawOutcome) -> None:
    """The raw asset's audit row for `outcome`, in the caller's (registering) transaction."""
    if actor is None:
        return
    audit.record(
        conn,
        audit.Writer(actor, run_id),
        asset=catalog.RAW_FILES.name,
        table=catalog.RAW_FILES.table,
        rows=outcome.rows,
        operation=outcome.status,
        partition_key=outcome.partition_key,
        input_file_ids=[outcome.file_id],
        outputs=[lineage.parquet(outcome.parquet_uri)] if outcome.parquet_uri else [],
        details={"path": outcome.path, "sha256": outcome.sha256},
    )


def _kept(batches: Iterable[pl.DataFrame], sink: lake.ParquetSink) -> Iterator[pa.Table]:
    """The file's batches as Arrow tables, each written to the raw Parquet on its way through."""
    for batch in batches:
        table = batch.to_arrow()
        sink.write(table)
        yield table
