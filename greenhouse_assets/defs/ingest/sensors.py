"""Landing sensor: a run per file landing, keyed by source, content hash, path and the path's generation,
with the new versions that are ready in one tick batched several to a run (batching.py).

A given (path, content) landing is never run twice, and each content stays its own partition
(`<source>-<sha256[:16]>`): identical bytes at a second path run on the same partition and are
recorded as a duplicate; a path put back to content it held before is a new landing (the path's
next generation) and reactivates that version (`metadata.set_file_active`).
"""

import json
from pathlib import Path

import dagster as dg

from greenhouse_assets import settings
from greenhouse_assets.defs.ingest.batching import Landing, batch_request, plan
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
BATCH_FILES = settings.sensor_batch_files()


def run_key(source: str, file: ReadyFile) -> str:
    """`<source>:<sha256>:<generation>:<path>`: unique per landing of a content at a path."""
    return f"{source}:{file.sha256}:{file.generation}:{file.relative_path}"


def single_request(landing: Landing, root: Path) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=landing.run_key,
        partition_key=landing.partition_key,
        asset_selection=[RAW_FILES, staging_key(landing.source)],
        run_config=raw_run_config(root / landing.path, landing.sha256),
        tags={"greenhouse/path": landing.path, "greenhouse/source": landing.source},
    )


@dg.sensor(
    name="landing_sensor",
    job=ingest_file_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the landing folder; starts raw + staging runs for each new, stable content of a path "
    "(a new version, a duplicate at another path, or a path restored to an older version): new versions "
    f"ready in one tick go up to {BATCH_FILES} to a run, one partition each.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingFolderResource) -> dg.SensorResult:
    previous = {path: Entry.from_json(raw) for path, raw in json.loads(context.cursor or "{}").items()}
    ready, state = advance(landing.root, previous, MAX_FILES_PER_TICK)
    registry = SourceRegistry.load()
    landings = []
    for file in ready:
        source, _rule = registry.match(Path(file.relative_path))
        landings.append(
            Landing(
                run_key=run_key(source.name, file),
                partition_key=partition_key_for(source.name, file.sha256),
                source=source.name,
                path=file.relative_path,
                sha256=file.sha256,
            )
        )
    known = set(context.instance.get_dynamic_partitions(file_versions.name)) if landings else set()
    new_keys, runs = plan(landings, known, BATCH_FILES)
    requests = [
        batch_request(run, landing.root) if len(run) > 1 else single_request(run[0], landing.root) for run in runs
    ]
    pending = sum(1 for entry in state.values() if entry.settling)
    return dg.SensorResult(
        run_requests=requests,
        # In landing order: a batch's keys are contiguous in the partitions' order, so a range.
        dynamic_partitions_requests=[file_versions.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps({path: entry.to_json() for path, entry in state.items()}),
        skip_reason=None if requests else f"no new stable files ({pending} waiting to settle)",
    )
