"""A run over several file versions: the landing sensor's batch, one partition each, in one process.

Each run costs about a second and a half before and after its work (launch, load, step start), so a
run per file bounds how fast an archive is staged. A batch is a range of `file_versions` partitions
(the keys the sensor added together, contiguous in insertion order) with each key's file in the run
config (`RawFileConfig.batch`). Each file stays its own partition with its own outcome: a received
file is materialized for its partition only (an `AssetMaterialization` per partition, as an output of
a ranged run would be recorded for every key of the range); a bad file does not hold back the others,
and the step fails after the batch naming each bad file, so the run fails and the partitions it did
not materialize show as failed. Each staged version's checks are evaluated in this step (`_run_checks`).
A key of the range missing from the config (added meanwhile by another writer) is left alone.
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation

from greenhouse_assets.defs.ingest.raw import RAW_FILES, RawFileConfig, batch_members, raw_metadata
from greenhouse_assets.defs.ingest.receive import receive, restage
from greenhouse_assets.defs.ingest.staging import staging_key, staging_metadata
from greenhouse_assets.defs.quality.checks import partition_evaluations, staging_quality_checks
from greenhouse_assets.defs.resources import LakeResource, LandingFolderResource, PostgresResource
from greenhouse_assets.ingest import file_registry
from greenhouse_assets.ingest.pipeline import landing_relative


def members(context: dg.AssetExecutionContext, config: RawFileConfig) -> list[str]:
    """The range's keys this batch stands for, in range order."""
    keys = batch_members(context.partition_keys, config.batch)
    for key in (key for key in context.partition_keys if key not in keys):
        context.log.info(f"partition {key} is in the run's range but not its batch: left alone")
    return keys


def receive_batch(
    context: dg.AssetExecutionContext,
    config: RawFileConfig,
    postgres: PostgresResource,
    lake: LakeResource,
    landing: LandingFolderResource,
) -> Iterator[dg.AssetMaterialization | AssetCheckEvaluation]:
    if not config.batch:
        raise dg.Failure(
            "a range of file versions is received only from the landing sensor's batch config; "
            "re-run single partitions, or materialize staging alone",
            allow_retries=False,
        )
    failed: list[str] = []
    checks = _run_checks(context)
    for key in members(context, config):
        member = config.batch[key]
        if _already_loaded(postgres, key, landing_relative(Path(member.path), landing.root)):
            context.log.info(f"{member.path} (partition {key}) was loaded by an earlier attempt: not received again")
            continue
        try:
            outcome = receive(
                context,
                postgres,
                lake,
                Path(member.path),
                landing.root,
                partition_key=key,
                sha256=member.sha256,
                reprocess=False,
            )
        except dg.Failure as failure:
            failed.append(f"{member.path} (partition {key}): {failure.description}")
            continue
        if outcome.status == "quarantined":
            failed.append(f"{outcome.path} (partition {key}): quarantined: {outcome.error}")
            context.log.error(failed[-1])
            continue
        context.log.info(f"{outcome.path}: {outcome.status}, {outcome.rows} rows (file_id {outcome.file_id})")
        yield dg.AssetMaterialization(asset_key=RAW_FILES, partition=key, metadata=raw_metadata(outcome))
        if outcome.staged:
            yield dg.AssetMaterialization(
                asset_key=staging_key(outcome.source),
                partition=key,
                metadata=staging_metadata(outcome.staged, file_id=outcome.file_id, path=outcome.path),
            )
        yield from partition_evaluations(context.instance, postgres, [key], checks, context.run_id)
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} of the batch's files failed: " + "; ".join(failed),
            metadata={"failed": dg.MetadataValue.json(failed)},
            allow_retries=False,  # bad content and missing keys: a retry fails the same way
        )


def _already_loaded(postgres: PostgresResource, partition_key: str, path: str) -> bool:
    """This file, at this path, already loaded as this partition: the batch is re-executed (from failure,
    after a bad file). Receiving it again would record the file as a duplicate of itself."""
    with postgres.connection() as conn:
        version = file_registry.for_partition(conn, partition_key)
    return version is not None and version.path == path and version.status in ("loaded", "deactivated")


def _run_checks(context: dg.AssetExecutionContext) -> list[dg.AssetCheckKey]:
    """The staging checks the run selected (those of its staging tables). A ranged step yields no outputs (an
    output would stand for every key of the range), so the run's check step is skipped: each version is
    judged here, right after it is staged, with an evaluation for its own partition."""
    chosen = context.run.asset_check_selection
    return [
        key
        for key in staging_quality_checks.check_keys
        if key.asset_key in context.selected_asset_keys and (chosen is None or key in chosen)
    ]


def restage_batch(
    context: dg.AssetExecutionContext, config: RawFileConfig, postgres: PostgresResource
) -> Iterator[dg.AssetMaterialization | AssetCheckEvaluation]:
    """Staging alone over the range (a re-run from the UI): each version's Parquet loaded again."""
    checks = _run_checks(context)
    for key in members(context, config):
        restaged = restage(context, postgres, key)
        if restaged:
            version, load = restaged
            yield dg.AssetMaterialization(
                asset_key=staging_key(version.source),
                partition=key,
                metadata=staging_metadata(load, file_id=version.file_id, path=version.path),
            )
            yield from partition_evaluations(context.instance, postgres, [key], checks, context.run_id)
