"""One file version's raw + staging work, shared by a one-partition run (assets.py) and a batch (batch.py)."""

from pathlib import Path

import dagster as dg

from greenhouse_assets.defs.ingest.staging import staging_key
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.governance import audit
from greenhouse_assets.governance.pseudonym import PseudonymKeyMissing
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.ingest.file_registry import FileVersion
from greenhouse_assets.ingest.lake import ContentChanged
from greenhouse_assets.ingest.lake_store import open_uri
from greenhouse_assets.ingest.pipeline import RawOutcome, landing_relative, receive_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.ingest.staging import StagingLoad, load_parquet


def receive(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    lake: LakeResource,
    path: Path,
    landing_root: Path,
    *,
    partition_key: str,
    sha256: str,
    reprocess: bool,
) -> RawOutcome:
    """Receive `path` as `partition_key` (and stage it if its staging asset is selected). Bad content is an
    outcome (quarantined); a missing pseudonym key or bytes changed under the run are a `dg.Failure` that no
    retry can help."""
    registry = SourceRegistry.load()
    source, _rule = registry.match(Path(landing_relative(path, landing_root)))
    stage = staging_key(source.name) in context.selected_asset_keys
    try:
        # receive_file audits each write in its own transaction: raw with the version's registration,
        # staging with the load.
        return receive_file(
            path,
            landing_root=landing_root,
            store=lake.store,
            database=postgres,
            registry=registry,
            run_id=context.run_id,
            expected_partition=partition_key,
            sha256=sha256 or None,
            reprocess=reprocess,
            stage_as=audit.actor(context) if stage else None,
            audit_as=audit.actor(context),
        )
    except (PseudonymKeyMissing, ContentChanged) as error:  # no retry can help, and the content is not bad
        raise dg.Failure(description=str(error), allow_retries=False) from error


def restage(
    context: dg.AssetExecutionContext, postgres: PostgresResource, partition_key: str
) -> tuple[FileVersion, StagingLoad] | None:
    """Staging alone: load the version's Parquet again (its rows replace the version's staged rows).
    None when there is nothing to stage here (never received, quarantined, a duplicate, or another
    source's staging table is the one selected)."""
    with postgres.connection() as conn:
        version = file_registry.for_partition(conn, partition_key)
    if version is None or version.status not in ("received", "loaded", "deactivated"):
        status = version.status if version else "never received"
        context.log.info(f"partition {partition_key} is {status}: nothing to stage")
        return None
    if staging_key(version.source) not in context.selected_asset_keys:
        context.log.info(
            f"{version.path} belongs to {staging_key(version.source).to_user_string()}, which is not selected"
        )
        return None
    with open_uri(version.parquet_uri) as parquet:
        load = load_parquet(
            postgres,
            file_id=version.file_id,
            source=version.source,
            source_file=version.path,
            parquet=parquet,
            run_id=context.run_id,
            actor=audit.actor(context),  # audited in the load's transaction
            partition_key=partition_key,
        )
    return version, load
