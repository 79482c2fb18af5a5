"""Timeseries layer: the dbt project (`dbt_project/`) as Dagster assets, its tests as asset checks.

Models land in group `timeseries`; dbt sources are the staging assets (`staging/raw_<source>`)
and the file registry (`raw/files`), so the graph reads raw -> staging -> timeseries unbroken.
`measurements` discovers the staging tables it unpivots at run time, so its upstream staging assets
come from the source registry, not from dbt: a source added to `sources.yaml` is wired into the graph
(lineage, and the automation guard waiting on its checks) with no SQL or code change.
Error-severity dbt tests become blocking checks (downstream waits); warnings do not block.
A build that fails while its database stayed up (a failing error-severity test, an SQL error) fails
at once, naming the failing nodes: `DB_RETRY` is for a database that went away, and retrying a
data error three times would only delay the message by ~25 s and three more builds.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from greenhouse_assets import catalog, settings
from greenhouse_assets.defs.automation.policies import on_new_data
from greenhouse_assets.defs.ingest.staging import staging_key
from greenhouse_assets.defs.platform import platform_op
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance import dbt_audit, freshness
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.quality import exclusions
from greenhouse_assets.transform import partial_parse
from greenhouse_assets.transform.profile import export_dbt_env
from greenhouse_assets.transform.project import database_target, dbt_project

GROUP = catalog.MEASUREMENTS.group
MEASUREMENTS = catalog.MEASUREMENTS.asset_key
RAW_FILES = catalog.RAW_FILES.asset_key


class GreenhouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == catalog.STAGING_SCHEMA:  # its tables are named raw_<source>
                return dg.AssetKey([catalog.STAGING_SCHEMA, dbt_resource_props["name"]])
            # metadata.files and metadata.file_columns are both written by the raw asset.
            return RAW_FILES
        return dg.AssetKey([GROUP, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = dict(super().get_metadata(dbt_resource_props))
        if dbt_resource_props["name"] == "measurements":
            metadata["bookkeeping_table"] = "timeseries.measurement_file_state"
        return metadata

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return on_new_data()

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key == MEASUREMENTS:
            spec = spec.merge_attributes(deps=measured_sources())
        # Models must stay fresh; seeds change only with the registry.
        return dg.apply_freshness_policy(spec, freshness.TIMESERIES) if unique_id.startswith("model.") else spec


def measured_sources() -> list[dg.AssetKey]:
    """The staging asset of every registry source that maps a column to a variable: what `measurements`
    unpivots (a source mapping nothing, such as the spot prices, never reaches it)."""
    return [staging_key(source.name) for source in SourceRegistry.load().sources if source.mappings]


TRANSLATOR = GreenhouseTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_duplicate_source_asset_keys=True)
)


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False  # rebuild measurements in place (it stays a hypertable) instead of by file version


@platform_op(
    catalog.MEASUREMENTS,  # one `dbt build` step: the policy of the table every other model follows
    dbt_assets,
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=TRANSLATOR,
    name="timeseries_dbt",
)
def timeseries_dbt(
    context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource, postgres: PostgresResource
):
    """`dbt build` of the selected models, seeds and tests, with column schema and lineage metadata."""
    env = export_dbt_env(postgres.url)
    args = ["build", "--full-refresh"] if config.full_refresh else ["build"]
    server_started = _server_started_at(postgres)
    saved_parse = settings.DBT_PROJECT_DIR / database_target(env["GREENHOUSE_PG_DB"])
    with partial_parse.build_target(saved_parse) as target_path:  # dbt re-parses only changed files
        with dbt_audit.audit_settings(context):  # each model audits itself, in its own transaction
            invocation = dbt.cli(args, context=context, target_path=target_path)
        yield from _stream(context, postgres, invocation, server_started)
        context.log.info(partial_parse.summary(target_path))


def _stream(context: dg.AssetExecutionContext, postgres: PostgresResource, invocation, server_started):
    """The build's events; a failure with the database up fails the step at once, naming the failed nodes."""
    try:
        for event in invocation.stream().fetch_column_metadata():
            yield _with_exclusions(context, postgres, event)
    except DagsterDbtCliRuntimeError as error:
        failed = _failed_nodes(invocation)
        # Down now: _server_started_at raises DatabaseUnavailable, explained and retried by DB_RETRY.
        if _server_started_at(postgres) != server_started or any(_lost_connection(m) for m in failed.values()):
            raise
        raise dg.Failure(
            description="dbt build failed with the database up, so it is not retried: "
            + "; ".join(f"{node}: {message}" for node, message in failed.items()),
            metadata={"failed_nodes": sorted(failed)},
            allow_retries=False,
        ) from error


def _with_exclusions(context: dg.AssetExecutionContext, postgres: PostgresResource, event):
    """`measurements`' materialization names the file versions it leaves out because a blocking staging
    check failed for them (quality/exclusions.py): staged, loaded, active, and not in the time series."""
    if not isinstance(event, dg.Output) or context.asset_key_for_output(event.output_name) != MEASUREMENTS:
        return event
    with postgres.connection() as conn:
        excluded = exclusions.excluded(conn)
    return event.with_metadata(
        {
            **event.metadata,
            "excluded_file_versions": dg.MetadataValue.json(excluded),
            "excluded_file_ids": dg.MetadataValue.text(", ".join(str(v["file_id"]) for v in excluded) or "none"),
        }
    )


# libpq's words for a connection the server or network dropped (dbt-postgres reports them as a
# node's "Database Error"): a build that failed so is retried like any other lost database.
_LOST_CONNECTION = (
    "server closed the connection",
    "terminating connection",
    "connection to server",
    "could not connect",
    "connection already closed",
    "ssl syscall error",
)


def _lost_connection(message: str) -> bool:
    return any(words in message.lower() for words in _LOST_CONNECTION)


def _server_started_at(postgres: PostgresResource):
    """When the platform database's server last started: a change during the build means it restarted."""
    with postgres.connection() as conn:
        return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]


def _failed_nodes(invocation) -> dict[str, str]:
    """{dbt node name: first line of its message} for every node that errored or failed its test."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except FileNotFoundError:  # dbt stopped before running a node (e.g. a compilation error)
        results = []
    failed = {
        result["unique_id"].split(".")[2]: (result.get("message") or result["status"]).strip().splitlines()[0]
        for result in results
        if result["status"] in ("error", "fail")
    }
    return failed or {"dbt": "exited with an error before any node failed; see the step's dbt log"}
