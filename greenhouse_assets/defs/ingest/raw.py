"""Raw layer: the landed bytes, kept immutable in the lake, parsed to Parquet and registered."""

from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
from pydantic import Field

from greenhouse_assets import catalog
from greenhouse_assets.defs.platform import platform_spec
from greenhouse_assets.ingest.pipeline import RawOutcome

RAW_FILES = catalog.RAW_FILES.asset_key
OP_NAME = "ingest_file_version"  # the op that materializes raw and staging (assets.py)


def raw_spec() -> dg.AssetSpec:
    """A function, not a module constant: the defs loader would take a module-level spec for an asset."""
    return platform_spec(
        catalog.RAW_FILES,
        skippable=True,
        description=(
            "Landed file versions: original bytes in `<lake>/raw/<source>/<yyyy>/<mm>/<sha256>.<ext>`, a Parquet "
            "of the parsed columns with row numbers, and a row in `metadata.files`. Identical content is recorded "
            "as a duplicate; unreadable files are quarantined with the file, row, column and what was expected."
        ),
    )


class LandedFile(dg.Config):
    """One member of a batch run: the landed file a partition stands for."""

    path: str = Field(description="File to ingest.")
    sha256: str = Field(default="", description="The file's SHA-256 as the sensor found it.")


class RawFileConfig(dg.Config):
    """Which landed file(s) the run's partition(s) stand for; the landing sensor fills it in."""

    path: str = Field(
        default="", description="File to ingest. Empty: this partition's landed file, or its copy in the lake."
    )
    sha256: str = Field(
        default="",
        description="The file's SHA-256 as the sensor found it (the run checks the "
        "content against it while copying it into the lake). Empty: hashed by the run.",
    )
    batch: dict[str, LandedFile] = Field(
        default={},
        description="A run over a range of partitions (the landing sensor's batch): partition key -> its landed "
        "file. A key of the range not named here is left alone; `path` and `sha256` are then unused.",
    )


def raw_run_config(path: Path, sha256: str = "") -> dg.RunConfig:
    return dg.RunConfig(ops={OP_NAME: RawFileConfig(path=str(path), sha256=sha256)})


def batch_run_config(files: dict[str, tuple[Path, str]]) -> dg.RunConfig:
    """Partition key -> (path, sha256) for each file of a batch run."""
    batch = {key: LandedFile(path=str(path), sha256=sha256) for key, (path, sha256) in files.items()}
    return dg.RunConfig(ops={OP_NAME: RawFileConfig(batch=batch)})


def batch_members(partition_keys: Sequence[str], batch: Mapping) -> list[str]:
    """The keys of a run's range that its batch config names, in range order; every key for a range
    without one (started from the UI)."""
    return [key for key in partition_keys if not batch or key in batch]


def raw_metadata(outcome: RawOutcome) -> dict:
    metadata = {
        "status": outcome.status,
        "file_id": outcome.file_id,
        "source": outcome.source,
        "path": outcome.path,
        "sha256": outcome.sha256,
        "bytes": outcome.bytes,
        "dagster/row_count": outcome.rows,
    }
    if outcome.parquet_uri:
        metadata["dagster/uri"] = outcome.parquet_uri
    if outcome.raw_uri:
        metadata["original_uri"] = outcome.raw_uri
    if outcome.detection:
        metadata["detection"] = dg.MetadataValue.json(outcome.detection)
        # Streams the registry does not map (staged, variable null) and unit conversions, at a glance.
        for key in ("unmapped_uuids", "unit_conversions"):
            if outcome.detection.get(key):
                metadata[key] = dg.MetadataValue.json(outcome.detection[key])
    if outcome.resolutions:  # local times / decimal marks read by a registry rule (metadata.files.resolutions)
        metadata["resolutions"] = dg.MetadataValue.json(outcome.resolutions)
    if outcome.columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[
                dg.TableColumn(
                    c.staged_name,
                    "double precision",
                    description=f"{c.original_name!r} → {c.variable or 'unmapped'} ({c.zone})"
                    + (f"; point {c.point!r}" if c.point else "")
                    + (f"; unit {c.unit_note}" if c.unit_note else ""),
                )
                for c in outcome.columns
            ]
        )
    if outcome.duplicate_of:
        metadata["duplicate_of_file_id"] = outcome.duplicate_of
    return metadata
