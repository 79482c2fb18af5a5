"""Raw layer: the landed bytes, kept immutable in the lake, parsed to Parquet and registered."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from greenhouse_assets.defs.automation.policies import DB_RETRY
from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.resources import LakeResource, LandingFolderResource, PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.governance.pseudonym import PseudonymKeyMissing
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.ingest.pipeline import LakePaths, RawOutcome, receive_file
from greenhouse_assets.ingest.registry import SourceRegistry

RAW_FILES = dg.AssetKey(["raw", "files"])


class RawFileConfig(dg.Config):
    """Which landed file this partition stands for; the landing sensor fills it in."""

    path: str = Field(default="", description="File to ingest. Empty: this partition's landed file, or its copy in the lake.")


def raw_run_config(path: Path) -> dg.RunConfig:
    return dg.RunConfig(ops={"raw__files": RawFileConfig(path=str(path))})


def _file_for_partition(postgres: PostgresResource, landing: LandingFolderResource, partition_key: str) -> Path:
    """A re-run from the UI has no path: use the landed file if still there, else the lake's copy."""
    with postgres.connection() as conn:
        version = file_registry.for_partition(conn, partition_key)
    if version is None:
        raise dg.Failure(f"partition {partition_key} has never been received: drop the file in the landing folder")
    landed = landing.root / version.path
    if landed.exists():
        return landed
    return Path(version.raw_uri.removeprefix("file://"))


def outcome_metadata(outcome: RawOutcome) -> dict:
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
    if outcome.columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[
                dg.TableColumn(c.staged_name, "double precision",
                               description=f"{c.original_name!r} → {c.variable or 'unmapped'} ({c.zone})")
                for c in outcome.columns
            ]
        )
    if outcome.duplicate_of:
        metadata["duplicate_of_file_id"] = outcome.duplicate_of
    return metadata


@dg.asset(
    key=RAW_FILES,
    partitions_def=file_versions,
    group_name="raw",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    description=__doc__,
    retry_policy=DB_RETRY,
)
def raw_files(
    context: dg.AssetExecutionContext,
    config: RawFileConfig,
    postgres: PostgresResource,
    lake: LakeResource,
    landing: LandingFolderResource,
) -> dg.MaterializeResult:
    """Landed file versions: original bytes in `<lake>/raw/<source>/<yyyy>/<mm>/<sha256>.<ext>`, a Parquet of
    the parsed columns with row numbers, and a row in `metadata.files`. Identical content is recorded as a
    duplicate; unreadable files are quarantined with the file, row, column and what was expected."""
    path = Path(config.path) if config.path else _file_for_partition(postgres, landing, context.partition_key)
    try:
        outcome = receive_file(
            path,
            landing_root=landing.root,
            lake_paths=LakePaths(lake.raw_dir(), lake.parquet_dir(), lake.quarantine_dir()),
            url=postgres.url,
            registry=SourceRegistry.load(),
            run_id=context.run_id,
            expected_partition=context.partition_key,
            reprocess=not config.path,
        )
    except PseudonymKeyMissing as missing:  # configuration, not content: no retry, no quarantine
        raise dg.Failure(description=str(missing), allow_retries=False) from missing
    with postgres.connection() as conn:
        audit.record_write(conn, context, asset="raw/files", table="metadata.files", rows=outcome.rows,
                           operation=outcome.status, partition_key=context.partition_key,
                           input_file_ids=[outcome.file_id],
                           outputs=[lineage.parquet(outcome.parquet_uri)] if outcome.parquet_uri else [],
                           details={"path": outcome.path, "sha256": outcome.sha256})
    metadata = outcome_metadata(outcome)
    if outcome.status == "quarantined":
        raise dg.Failure(
            description=f"quarantined: {outcome.error}",
            metadata={**metadata, "error": dg.MetadataValue.json(outcome.error.as_dict())},
            allow_retries=False,
        )
    context.log.info(f"{outcome.path}: {outcome.status}, {outcome.rows} rows (file_id {outcome.file_id})")
    return dg.MaterializeResult(metadata=metadata)
