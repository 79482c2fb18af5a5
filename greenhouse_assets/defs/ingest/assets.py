"""Raw and staging for one file version, in one step.

One op materializes `raw/files` and the file's `staging/raw_<source>`: the rows are copied into
staging while the file is parsed and its Parquet written, so loading keeps pace with parsing
instead of waiting for it. Each asset still owns its own tables and can be materialized alone:
raw alone parses and registers; staging alone re-loads the version's Parquet (a re-run from the UI).
A run over a range of partitions is the landing sensor's batch of files (batch.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from greenhouse_assets import catalog
from greenhouse_assets.defs.ingest.batch import receive_batch, restage_batch
from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.ingest.raw import OP_NAME, RAW_FILES, RawFileConfig, raw_metadata, raw_spec
from greenhouse_assets.defs.ingest.receive import receive, restage
from greenhouse_assets.defs.ingest.staging import SOURCES, staging_result, staging_spec
from greenhouse_assets.defs.platform import platform_op
from greenhouse_assets.defs.resources import LakeResource, LandingFolderResource, PostgresResource
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.ingest.lake_store import local_copy


@platform_op(
    catalog.RAW_FILES,
    dg.multi_asset,
    specs=[raw_spec(), *(staging_spec(source) for source in SOURCES)],
    partitions_def=file_versions,
    can_subset=True,
    name=OP_NAME,
)
def ingest_file_version(
    context: dg.AssetExecutionContext,
    config: RawFileConfig,
    postgres: PostgresResource,
    lake: LakeResource,
    landing: LandingFolderResource,
):
    """Receive this partition's file (raw) and stage it in its source's table, in one pass."""
    if not context.has_partition_key:  # a range: the landing sensor's batch
        if RAW_FILES in context.selected_asset_keys:
            yield from receive_batch(context, config, postgres, lake, landing)
        else:
            yield from restage_batch(context, config, postgres)
    elif RAW_FILES in context.selected_asset_keys:
        yield from _receive(context, config, postgres, lake, landing)
    else:
        restaged = restage(context, postgres, context.partition_key)
        if restaged:
            version, load = restaged
            yield staging_result(version.source, load, file_id=version.file_id, path=version.path)


def _receive(
    context: dg.AssetExecutionContext,
    config: RawFileConfig,
    postgres: PostgresResource,
    lake: LakeResource,
    landing: LandingFolderResource,
):
    if config.path:
        yield from _receive_path(context, config, postgres, lake, Path(config.path), landing.root)
        return
    with _file_for_partition(postgres, landing, context.partition_key) as (path, root):
        yield from _receive_path(context, config, postgres, lake, path, root)


def _receive_path(
    context: dg.AssetExecutionContext,
    config: RawFileConfig,
    postgres: PostgresResource,
    lake: LakeResource,
    path: Path,
    landing_root: Path,
):
    outcome = receive(
        context,
        postgres,
        lake,
        path,
        landing_root,
        partition_key=context.partition_key,
        sha256=config.sha256,
        reprocess=not config.path,
    )
    metadata = raw_metadata(outcome)
    if outcome.status == "quarantined":
        raise dg.Failure(
            description=f"quarantined: {outcome.error}",
            metadata={**metadata, "error": dg.MetadataValue.json(outcome.error.as_dict())},
            allow_retries=False,
        )
    context.log.info(f"{outcome.path}: {outcome.status}, {outcome.rows} rows (file_id {outcome.file_id})")
    yield dg.MaterializeResult(asset_key=RAW_FILES, metadata=metadata)
    if outcome.staged:
        yield staging_result(outcome.source, outcome.staged, file_id=outcome.file_id, path=outcome.path)


@contextmanager
def _file_for_partition(
    postgres: PostgresResource, landing: LandingFolderResource, partition_key: str
) -> Iterator[tuple[Path, Path]]:
    """A re-run from the UI has no path: the landed file if still there, else the lake's copy, put at the
    version's landing path under a scratch folder while the run reads it (its path picks its source
    rule, and is the path the version is known by). Yields the file and the folder it is relative to."""
    with postgres.connection() as conn:
        version = file_registry.for_partition(conn, partition_key)
    if version is None:
        raise dg.Failure(f"partition {partition_key} has never been received: drop the file in the landing folder")
    landed = landing.root / version.path
    if landed.exists():
        yield landed, landing.root
        return
    relative = version.path.lstrip("/")  # a file ingested from outside the landing folder is known by its absolute path
    with local_copy(version.raw_uri, relative) as folder:
        yield folder / relative, folder
