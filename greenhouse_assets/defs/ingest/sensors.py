"""Landing sensor: a run per file landing, keyed by source, content hash, path and the path's generation.

A given (path, content) landing is never run twice, and each content stays its own partition
(`<source>-<sha256[:16]>`): identical bytes at a second path run on the same partition and are
recorded as a duplicate; a path put back to content it held before is a new landing (the path's
next generation) and reactivates that version (`metadata.set_file_active`).
"""

import json
from pathlib import Path

import dagster as dg

from greenhouse_assets import settings
from greenhouse_assets.defs.ingest.jobs import ingest_file_job
from greenhouse_assets.defs.ingest.partitions import file_versions
from greenhouse_assets.defs.ingest.raw import RAW_FILES, raw_run_config
from greenhouse_assets.defs.ingest.staging import staging_key
from greenhouse_assets.defs.resources import LandingFolderResource
from greenhouse_assets.ingest.file_registry import partition_key_for
from greenhouse_assets.ingest.landing import Entry, ReadyFile, advance
from greenhouse_assets.ingest.registry import SourceRegistry

# Hashing is the only per-file cost of a tick; bounding it keeps a tick short however many files land at once.
MAX_FILES_PER_TICK = settings.sensor_max_files()
INTERVAL_SECONDS = settings.sensor_interval()


def run_key(source: str, file: ReadyFile) -> str:
    """`<source>:<sha256>:<generation>:<path>`: unique per landing of a content at a path."""
    return f"{source}:{file.sha256}:{file.generation}:{file.relative_path}"


@dg.sensor(
    name="landing_sensor",
    job=ingest_file_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the landing folder; starts a raw + staging run for each new, stable content of a path "
    "(a new version, a duplicate at another path, or a path restored to an older version).",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingFolderResource) -> dg.SensorResult:
    previous = {path: Entry.from_json(raw) for path, raw in json.loads(context.cursor or "{}").items()}
    ready, state = advance(landing.root, previous, MAX_FILES_PER_TICK)
    registry = SourceRegistry.load()
    requests: list[dg.RunRequest] = []
    for file in ready:
        source, _rule = registry.match(Path(file.relative_path))
        partition_key = partition_key_for(source.name, file.sha256)
        requests.append(
            dg.RunRequest(
                run_key=run_key(source.name, file),
                partition_key=partition_key,
                asset_selection=[RAW_FILES, staging_key(source.name)],
                run_config=raw_run_config(landing.root / file.relative_path, file.sha256),
                tags={"greenhouse/path": file.relative_path, "greenhouse/source": source.name},
            )
        )
    pending = sum(1 for entry in state.values() if entry.settling)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[
            file_versions.build_add_request(list(dict.fromkeys(r.partition_key for r in requests)))
        ]
        if requests
        else [],  # identical bytes: one key
        cursor=json.dumps({path: entry.to_json() for path, entry in state.items()}),
        skip_reason=None if requests else f"no new stable files ({pending} waiting to settle)",
    )
