"""The raw and staging steps for one file version, shared by the assets, the sensor's runs and `greenhouse ingest`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from greenhouse_assets.database import connect
from greenhouse_assets.ingest import file_registry, lake
from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.readers import open_file
from greenhouse_assets.ingest.registry import SourceRegistry


@dataclass
class LakePaths:
    raw: Path
    parquet: Path
    quarantine: Path


@dataclass
class RawOutcome:
    """What happened to one landed file: received (parsed into the lake), duplicate or quarantined."""

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
    columns: list = field(default_factory=list)
    error: IngestError | None = None
    duplicate_of: int | None = None


def landing_relative(path: Path, landing_root: Path) -> str:
    """Files are known by their path inside the landing folder; files from elsewhere by their absolute path."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(landing_root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def receive_file(path: Path, *, landing_root: Path, lake_paths: LakePaths, url: str, registry: SourceRegistry,
                 run_id: str | None = None, expected_partition: str | None = None,
                 reprocess: bool = False) -> RawOutcome:
    """Hash, keep, parse and register one file. Never raises for bad content: it is quarantined instead.

    Content that was already loaded is a duplicate (recorded, nothing new downstream) unless
    `reprocess` asks to parse the known version again, e.g. a re-materialization from the UI.
    """
    relative = landing_relative(path, landing_root)
    source, _rule = registry.match(Path(relative))
    sha256 = lake.sha256_of(path)
    size = path.stat().st_size
    partition_key = file_registry.partition_key_for(source.name, sha256)
    if expected_partition is not None and partition_key != expected_partition:
        raise RuntimeError(
            f"{relative} changed after it was detected: its content is now partition {partition_key}, "
            f"not {expected_partition}. The landing sensor will pick up the new content as a new version."
        )
    received_at = datetime.now(UTC)
    base = dict(source=source.name, path=relative, sha256=sha256, bytes=size, partition_key=partition_key)

    with connect(url) as conn:
        original = file_registry.loaded_with_hash(conn, sha256)
        if original is not None and not reprocess:
            file_id = file_registry.record_duplicate(conn, source=source.name, path=relative, sha256=sha256, size=size,
                                                     original=original, partition_key=partition_key, run_id=run_id)
            return RawOutcome(status="duplicate", file_id=file_id, duplicate_of=original.file_id,
                              rows=original.rows_read or 0, raw_uri=original.raw_uri,
                              parquet_uri=original.parquet_uri, **base)

    try:
        parsed = open_file(path, registry)
        parquet = lake_paths.parquet / source.name / f"{sha256}.parquet"
        rows = lake.write_parquet(parsed, parquet)
    except IngestError as error:
        stored = lake.quarantine(path, lake_paths.quarantine, source.name, sha256, error)
        with connect(url) as conn:
            file_id = file_registry.record_quarantine(conn, source=source.name, path=relative, sha256=sha256,
                                                      size=size, error=error, quarantine_uri=stored.as_uri(),
                                                      partition_key=partition_key, run_id=run_id)
        return RawOutcome(status="quarantined", file_id=file_id, error=error, raw_uri=stored.as_uri(), **base)

    stored = lake.store_original(path, lake.original_path(lake_paths.raw, source.name, sha256, received_at, path.suffix))
    with connect(url) as conn:
        file_id = file_registry.record_received(conn, parsed=parsed, path=relative, sha256=sha256, size=size,
                                                received_at=received_at, raw_uri=stored.as_uri(),
                                                parquet_uri=parquet.as_uri(), rows=rows,
                                                partition_key=partition_key, run_id=run_id)
    return RawOutcome(status="received", file_id=file_id, rows=rows, raw_uri=stored.as_uri(),
                      parquet_uri=parquet.as_uri(), detection=parsed.detection, columns=parsed.columns,
                      **base)
