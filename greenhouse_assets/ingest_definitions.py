"""The `ingest_file` job alone, for `greenhouse ingest`: its op, its checks, resources and executor.

Why not the code location (definitions.py): loading it imports dagster-dbt, parses the dbt
manifest and imports every layer's code, seconds before a one-second file even starts. The
per-file run needs none of it: the same op (raw + staging in one step) and the same blocking
quality checks, with the same resources, so the runs, their records, audit rows, exclusions and
quarantines are those the sensor's runs write. tests/test_definitions.py holds this job equal to
the code location's and tests/test_definitions.py holds the command path free of dagster_dbt.
"""

import dagster as dg

from greenhouse_assets import settings
from greenhouse_assets.defs.automation.executor import executor
from greenhouse_assets.defs.ingest.assets import ingest_file_version
from greenhouse_assets.defs.ingest.jobs import ingest_file_job
from greenhouse_assets.defs.quality.checks import staging_quality_checks
from greenhouse_assets.defs.resources import resources

settings.apply_defaults()  # as definitions.py: the resources' env vars resolve when a run starts

defs = dg.Definitions.merge(
    resources(),
    executor(),
    dg.Definitions(assets=[ingest_file_version], asset_checks=[staging_quality_checks], jobs=[ingest_file_job]),
)
