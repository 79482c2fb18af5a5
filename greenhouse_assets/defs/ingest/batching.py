"""How the landing sensor groups a tick's ready files into runs.

Only versions new in this tick are batched: their keys are added together, in landing order, so a
batch's keys are contiguous in the dynamic partitions' order and the run is the range from its first
to its last key. A file whose key already exists (identical bytes at a second path, a path put back to
older content), or that repeats a key of this tick, runs alone as before. A batch of one is a plain
one-partition run. Two or more new files make at least two runs, so both run slots work.
"""

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from greenhouse_assets.defs.ingest.raw import RAW_FILES, batch_run_config
from greenhouse_assets.defs.ingest.staging import staging_key

RUN_SLOTS = 2  # dagster.yaml: max_concurrent_runs


@dataclass(frozen=True)
class Landing:
    """One ready file: its run key (unique per landing), partition, source, landing-relative path, hash."""

    run_key: str
    partition_key: str
    source: str
    path: str
    sha256: str


def plan(landings: list[Landing], known_keys: set[str], batch_files: int) -> tuple[list[str], list[list[Landing]]]:
    """The keys to add (in landing order) and the runs, each a list of files (one: a plain one-partition
    run), in the order their first file landed, so an original runs before its duplicate in the queue."""
    new: list[Landing] = []
    alone: list[Landing] = []
    seen = set(known_keys)
    for landing in landings:
        if landing.partition_key in seen:
            alone.append(landing)
        else:
            seen.add(landing.partition_key)
            new.append(landing)
    count = max(math.ceil(len(new) / max(batch_files, 1)), min(len(new), RUN_SLOTS))
    size = math.ceil(len(new) / count) if count else 1
    runs = [new[i : i + size] for i in range(0, len(new), size)] + [[landing] for landing in alone]
    order = {landing.run_key: i for i, landing in enumerate(landings)}
    return [landing.partition_key for landing in new], sorted(runs, key=lambda run: order[run[0].run_key])


def batch_run_key(batch: list[Landing]) -> str:
    """Deterministic from the members' run keys: a re-evaluated tick does not start the batch twice."""
    digest = hashlib.sha256("\n".join(landing.run_key for landing in batch).encode()).hexdigest()
    return f"batch:{len(batch)}:{digest}"


def batch_request(batch: list[Landing], root: Path) -> dg.RunRequest:
    sources = sorted({landing.source for landing in batch})
    return dg.RunRequest(
        run_key=batch_run_key(batch),
        asset_selection=[RAW_FILES, *(staging_key(source) for source in sources)],
        run_config=batch_run_config({b.partition_key: (root / b.path, b.sha256) for b in batch}),
        tags={
            ASSET_PARTITION_RANGE_START_TAG: batch[0].partition_key,
            ASSET_PARTITION_RANGE_END_TAG: batch[-1].partition_key,
            "greenhouse/files": str(len(batch)),
            "greenhouse/source": ",".join(sources),
        },
    )
