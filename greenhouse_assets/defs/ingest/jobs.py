"""The per-file ingestion job: raw + the file's staging table, for one file-version partition."""

import dagster as dg

from greenhouse_assets.defs.ingest.partitions import file_versions

ingest_file_job = dg.define_asset_job(
    name="ingest_file",
    selection=dg.AssetSelection.groups("raw", "staging"),
    partitions_def=file_versions,
    description="Receive one landed file version: keep and parse it (raw), then load it into its staging table.",
    tags={"greenhouse/layer": "ingest"},
)
