"""Staging layer: one TimescaleDB table per source, typed columns as received plus bookkeeping."""

import getpass
from pathlib import Path

import dagster as dg

from greenhouse_assets.defs.automation.policies import DB_RETRY
from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.ingest.raw import RAW_FILES
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance import lineage
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.ingest.staging import load_parquet, table_name


def staging_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", table_name(source)])


def _spec(source: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=staging_key(source),
        deps=[RAW_FILES],
        group_name="staging",
        kinds={"timescaledb", "python"},
        owners=["team:data-engineering"],
        skippable=True,
        description=(
            f"`staging.{table_name(source)}`: every loaded file version of source `{source}`, typed columns as "
            "received plus `_file_id`, `_row_number`, `_source_file`, `_ingested_at`, `_status`. Loaded "
            "all-or-nothing by binary COPY; new columns are added and conflicting types widened."
        ),
        metadata={"dagster/table_name": f"staging.{table_name(source)}"},
    )


SOURCES = [source.name for source in SourceRegistry.load().sources]


@dg.multi_asset(
    specs=[_spec(source) for source in SOURCES],
    partitions_def=file_versions,
    can_subset=True,
    name="staging_tables",
    retry_policy=DB_RETRY,
)
def staging_tables(context: dg.AssetExecutionContext, postgres: PostgresResource):
    """Load this partition's Parquet into its source's staging table; other sources' tables are skipped."""
    with postgres.connection() as conn:
        # In a sensor run the raw step just recorded what this arrival is; a staging-only re-run uses the partition.
        version = file_registry.for_run(conn, context.run_id) or file_registry.for_partition(conn, context.partition_key)
    if version is None or version.status not in ("received", "loaded", "deactivated"):
        status = version.status if version else "never received"
        context.log.info(f"partition {context.partition_key} is {status}: nothing to stage")
        return
    key = staging_key(version.source)
    if key not in context.selected_asset_keys:
        context.log.info(f"{version.path} belongs to {key.to_user_string()}, which is not selected")
        return
    load = load_parquet(
        postgres.url,
        file_id=version.file_id,
        source=version.source,
        source_file=version.path,
        parquet=Path(version.parquet_uri.removeprefix("file://")),
        run_id=context.run_id,
        actor=context.run.tags.get("user") or getpass.getuser(),
        partition_key=context.partition_key,
    )
    with postgres.connection() as conn:  # load_parquet wrote the audit row in its own transaction
        lineage.record(conn, context.run_id, [lineage.file_version(version.file_id)], [lineage.table(load.table)])
    yield dg.MaterializeResult(
        asset_key=key,
        metadata={
            "dagster/row_count": load.rows,
            "file_id": version.file_id,
            "path": version.path,
            "schema_changes": dg.MetadataValue.json(load.schema_changes),
            "deactivated_file_ids": dg.MetadataValue.json(load.deactivated),
        },
    )
