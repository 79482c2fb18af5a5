"""`rollback_file`: put a path back to an earlier file version (or another one) from the UI or the CLI.

Launchpad config: `file` (a file id or a path, as `greenhouse files` lists them), optionally
`to_version` and `reason`. The op changes which version is active and audits it with the run's
actor in one transaction (governance/rollback.py), then reports each changed version's staging
partition as materialized: its staged rows changed state, and that is what the dbt models'
`on_new_data` condition waits for. From there the usual automation recomputes measurements, the day
features of the affected days (features_sensor) and MOGA, with no further launch.
"""

import dagster as dg
from pydantic import Field

from greenhouse_assets.defs.ingest.staging import staging_key
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance import audit, rollback


class RollbackConfig(dg.Config):
    file: str = Field(
        description="The file version to roll back (its file id), or its path: the path's active "
        "version is rolled back. `greenhouse files` lists both."
    )
    to_version: int | None = Field(
        default=None,
        description="Make this version of the path the active one instead of the one before the active version.",
    )
    reason: str = Field(default="", description="Why, for the audit log.")


@dg.op(name="set_active_file_version", tags={"greenhouse/layer": "governance"})
def set_active_file_version(context: dg.OpExecutionContext, config: RollbackConfig, postgres: PostgresResource) -> None:
    with postgres.connection() as conn:
        try:
            done = rollback.apply(
                conn,
                config.file,
                config.to_version,
                actor=audit.actor(context),
                run_id=context.run_id,
                reason=config.reason,
            )
        except rollback.RollbackError as error:  # a wrong target: retrying cannot help
            raise dg.Failure(description=str(error), allow_retries=False) from error
    context.log.info(done.summary())
    changed = [(v, False) for v in done.deactivated] + ([(done.activated, True)] if done.activated else [])
    for version, active in changed:
        context.log_event(
            dg.AssetMaterialization(
                asset_key=staging_key(done.source),
                partition=version.partition_key,
                description=f"rollback: version {version.version} of {done.path} "
                f"{'activated' if active else 'deactivated'}",
                metadata={
                    "file_id": version.file_id,
                    "path": done.path,
                    "version": version.version,
                    "active": active,
                    "operation": "rollback",
                },
            )
        )


@dg.job(
    name="rollback_file",
    tags={"greenhouse/layer": "governance"},
    description="Roll a path back to an earlier file version (or make any staged version of it active); "
    "measurements, day features and MOGA then recompute by themselves.",
)
def rollback_file() -> None:
    set_active_file_version()
