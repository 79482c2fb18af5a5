"""Staging layer: one TimescaleDB table per source, typed columns as received plus bookkeeping."""

import dagster as dg

from greenhouse_assets import catalog
from greenhouse_assets.defs.ingest.raw import RAW_FILES
from greenhouse_assets.defs.platform import platform_spec
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.ingest.staging import StagingLoad


def staging_key(source: str) -> dg.AssetKey:
    return catalog.staging(source).asset_key


def staging_spec(source: str) -> dg.AssetSpec:
    entry = catalog.staging(source)
    return platform_spec(
        entry,
        deps=[RAW_FILES],
        skippable=True,
        description=(
            f"`{entry.table}`: every loaded file version of source `{source}`, typed columns as "
            "received plus `_file_id`, `_row_number`, `_source_file`, `_ingested_at`, `_status`. Loaded "
            "all-or-nothing by binary COPY while the file is parsed; new columns are added and conflicting "
            "types widened."
        ),
    )


SOURCES = [source.name for source in SourceRegistry.load().sources]


def staging_metadata(load: StagingLoad, *, file_id: int, path: str) -> dict:
    return {
        "dagster/row_count": load.rows,
        "file_id": file_id,
        "path": path,
        "schema_changes": dg.MetadataValue.json(load.schema_changes),
        "deactivated_file_ids": dg.MetadataValue.json(load.deactivated),
    }


def staging_result(source: str, load: StagingLoad, *, file_id: int, path: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=staging_key(source), metadata=staging_metadata(load, file_id=file_id, path=path)
    )
