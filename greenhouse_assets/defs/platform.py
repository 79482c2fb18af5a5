"""Catalog entries (greenhouse_assets/catalog.py) as Dagster assets: the policies applied in one place.

`platform_asset(entry, ...)` is `dg.asset` with the entry's key, group, kinds, owners, freshness and
`dagster/table_name`, and its lost-database policy: `DB_RETRY` plus `explain_lost_database` on the
body (`retry`), or neither (`fail`). `platform_op(entry, factory, ...)` applies only the policy, for
multi-assets built by another decorator (the ingest op, `@dbt_assets`); `platform_spec` builds an
`AssetSpec` from an entry. The asset body takes its connection from the `postgres` resource and
records its write with `audit.record_write(conn, context, entry, ...)` in that connection's transaction.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from greenhouse_assets.catalog import Table
from greenhouse_assets.defs.automation.policies import DB_RETRY, explain_lost_database
from greenhouse_assets.governance import freshness

_FRESHNESS = {"timeseries": freshness.TIMESERIES, "features": freshness.FEATURES}


def freshness_policy(entry: Table) -> dg.FreshnessPolicy | None:
    return _FRESHNESS[entry.freshness] if entry.freshness else None


def _attributes(entry: Table, metadata: dict | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "key": entry.asset_key,
        "group_name": entry.group,
        "kinds": set(entry.kinds),
        "metadata": {"dagster/table_name": entry.table, **(metadata or {})},
    }
    if entry.owners:
        attributes["owners"] = list(entry.owners)
    if entry.freshness:
        attributes["freshness_policy"] = freshness_policy(entry)
    return attributes


def platform_spec(entry: Table, *, metadata: dict | None = None, **spec) -> dg.AssetSpec:
    """An `AssetSpec` for `entry` (for multi-assets); `spec` adds deps, description, skippable..."""
    return dg.AssetSpec(**_attributes(entry, metadata), **spec)


def platform_op(entry: Table, factory: Callable[..., Callable], **kwargs) -> Callable[[Callable], Any]:
    """`factory(**kwargs)` (a multi-asset decorator) with `entry`'s lost-database policy."""

    def decorate(compute: Callable) -> Any:
        if entry.on_lost_database == "retry":
            return factory(retry_policy=DB_RETRY, **kwargs)(explain_lost_database(compute))
        return factory(**kwargs)(compute)

    return decorate


def platform_asset(entry: Table, *, metadata: dict | None = None, **asset) -> Callable[[Callable], dg.AssetsDefinition]:
    """`dg.asset` for `entry`; `asset` adds deps, description, partitions, automation condition..."""
    return platform_op(entry, dg.asset, **_attributes(entry, metadata), **asset)
