"""The catalog (greenhouse_assets/catalog.py) is what the loaded graph and the database really hold.

Every entry's asset exists with the entry's group, kinds, owners, `dagster/table_name` and freshness,
its step has `DB_RETRY` exactly when the entry says `retry`; every table a migration owns exists
after the migrations; no asset key is spelled outside the catalog.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from greenhouse_assets import catalog, settings
from greenhouse_assets.defs.automation.policies import DB_RETRY
from greenhouse_assets.defs.platform import freshness_policy
from greenhouse_assets.ingest.registry import SourceRegistry


def _entries() -> list[catalog.Table]:
    return [*catalog.TABLES, *(catalog.staging(s.name) for s in SourceRegistry.load().sources)]


@pytest.fixture(scope="module")
def defs():
    from greenhouse_assets.definitions import defs

    return defs


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e.name)
def test_each_entry_is_an_asset_with_the_catalogs_policies(defs, entry: catalog.Table):
    graph = defs.resolve_asset_graph()
    node = graph.get(entry.asset_key)
    assert node.group_name == entry.group
    assert node.freshness_policy == freshness_policy(entry)
    retry = defs.resolve_assets_def(entry.asset_key).op.retry_policy
    assert retry == (DB_RETRY if entry.on_lost_database == "retry" else None)
    if entry.ddl == "dbt":  # kinds, owners and table name come from dagster-dbt
        assert node.metadata["dagster/table_name"].endswith(f".{entry.table}")
        return
    assert set(node.kinds) == set(entry.kinds)
    assert list(node.owners) == list(entry.owners)
    assert node.metadata["dagster/table_name"] == entry.table


def test_the_staging_naming_rule_is_the_catalogs():
    source = SourceRegistry.load().sources[0]
    assert source.staging_table == catalog.staging(source.name).table == f"staging.raw_{source.name}"
    assert catalog.staging(source.name).key == ("staging", f"raw_{source.name}")


def test_every_table_a_migration_owns_exists(clean_platform):
    owned = [t for e in catalog.TABLES if e.ddl == "migration" for t in e.tables]
    with psycopg.connect(settings.libpq_url(clean_platform)) as conn:
        missing = [t for t in owned if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] is None]
    assert not missing


def test_no_asset_key_is_spelled_outside_the_catalog():
    """Keys come from catalog entries; only the dbt translator builds keys, from dbt's own names."""
    spelled = []
    for path in (settings.PROJECT_ROOT / "greenhouse_assets").rglob("*.py"):
        if path.name == "catalog.py" or path.parts[-3:] == ("defs", "transform", "dbt.py"):
            continue
        text = path.read_text(encoding="utf-8")
        spelled += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"AssetKey\(\s*[\[\"']", text)]
        spelled += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"\bkey=\[", text)]
    assert not spelled
