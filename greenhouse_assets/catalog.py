"""The catalog: every platform table and the asset that owns it, declared once.

Each entry names the asset key, the `schema.table` it writes (and any other table the same write
fills), which mechanism owns the table's DDL (`migration`: Alembic, `migrations/versions`; `dbt`: a
model in `dbt_project/`; `loader`: created and widened by the staging loader from the files), its
group, owners, kinds, what happens when the database goes away mid-write, and its freshness.
Asset keys, table names, the staging naming rule and these policies are read from here everywhere:
`defs/platform.py` turns an entry into an asset (retry, lost-database explanation, owners, kinds,
group, `dagster/table_name`), `governance.audit.record_write` takes the entry's key and table.

Keys keep the names users' history is recorded under: `moga_objective_models` and `moga_results`
are one-part keys from before the layer prefix was the rule; renaming one is one edit here (and a
note to users that its history starts again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import dagster as dg

Ddl = Literal["migration", "dbt", "loader"]
# "retry": the step is retried by `DB_RETRY` and a lost database is explained (defs/automation/policies.py);
# "fail": the step fails at once (a cheap recompute the next evaluation repeats).
OnLostDatabase = Literal["retry", "fail"]
# Freshness policies by name (governance/freshness.py); None: no freshness expectation.
Freshness = Literal["timeseries", "features"] | None

DATA_ENGINEERING = ("team:data-engineering",)
STAGING_SCHEMA = "staging"
STAGING_PREFIX = "raw_"  # migrations 0001/0003 (PL/pgSQL) and dbt's measurements_state macro spell it too


@dataclass(frozen=True)
class Table:
    """One platform table and the asset that owns it."""

    key: tuple[str, ...]
    table: str  # schema.table
    ddl: Ddl
    group: str
    kinds: frozenset[str] = frozenset()
    owners: tuple[str, ...] = DATA_ENGINEERING
    on_lost_database: OnLostDatabase = "retry"
    freshness: Freshness = None
    also_writes: tuple[str, ...] = ()  # further tables the same write fills (lineage outputs)

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(list(self.key))

    @property
    def name(self) -> str:
        """The asset as audit rows and lineage name it (`features/extracted_features`)."""
        return self.asset_key.to_user_string()

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the asset's write fills, the owned one first."""
        return (self.table, *self.also_writes)


def staging_table_name(source: str) -> str:
    """The staging naming rule, `raw_<source>`: the one place Python spells it."""
    return f"{STAGING_PREFIX}{source}"


def staging(source: str) -> Table:
    """`staging.raw_<source>`: one per registry source, created and widened by the loader."""
    name = staging_table_name(source)
    return Table(
        key=(STAGING_SCHEMA, name),
        table=f"{STAGING_SCHEMA}.{name}",
        ddl="loader",
        group="staging",
        kinds=frozenset({"timescaledb", "python"}),
    )


RAW_FILES = Table(
    key=("raw", "files"),
    table="metadata.files",
    ddl="migration",
    group="raw",
    kinds=frozenset({"python", "parquet"}),
    also_writes=("metadata.file_columns",),
)
# dbt models: kinds and descriptions come from dagster-dbt; the one `dbt build` step has MEASUREMENTS' policy.
MEASUREMENTS = Table(
    key=("timeseries", "measurements"),
    table="timeseries.measurements",
    ddl="dbt",
    group="timeseries",
    freshness="timeseries",
)
SITE_ELECTRICITY_PRICES = Table(
    key=("timeseries", "site_electricity_prices"),
    table="timeseries.site_electricity_prices",
    ddl="dbt",
    group="timeseries",
    freshness="timeseries",
)
EXTRACTED_FEATURES = Table(
    key=("features", "extracted_features"),
    table="features.extracted_features",
    ddl="migration",
    group="features",
    kinds=frozenset({"python", "tsfresh", "timescaledb"}),
    freshness="features",
    also_writes=("features.windows",),
)
FEATURE_IMPORTANCE = Table(
    key=("features", "feature_importance"),
    table="features.feature_importance",
    ddl="migration",
    group="features",
    kinds=frozenset({"python", "tsfresh", "timescaledb", "scikit-learn"}),
    freshness="features",
)
QUALITY_METRICS = Table(
    key=("quality", "quality_metrics"),
    table="metadata.quality_metrics",
    ddl="migration",
    group="quality",
    kinds=frozenset({"timescaledb", "python"}),
    on_lost_database="fail",
)  # as before the catalog: eager, recomputed on the next update
MOGA_OBJECTIVE_MODELS = Table(
    key=("moga_objective_models",),
    table="moga.objective_models",
    ddl="migration",
    group="moga",
    kinds=frozenset({"python", "scikit-learn"}),
)
MOGA_RESULTS = Table(
    key=("moga_results",),
    table="moga.runs",
    ddl="migration",
    group="moga",
    kinds=frozenset({"python", "pymoo"}),
    also_writes=("moga.solutions",),
)
MOGA_PLAN = Table(
    key=("moga", "plan"),
    table="moga.plans",
    ddl="migration",
    group="moga",
    kinds=frozenset({"python", "pymoo"}),
    also_writes=("moga.plan_days",),
)
MOGA_BACKTEST = Table(
    key=("moga", "backtest"), table="moga.backtest", ddl="migration", group="moga", kinds=frozenset({"python", "pymoo"})
)

# Every fixed entry (staging tables follow the source registry: `staging(source)`).
TABLES = (
    RAW_FILES,
    MEASUREMENTS,
    SITE_ELECTRICITY_PRICES,
    EXTRACTED_FEATURES,
    FEATURE_IMPORTANCE,
    QUALITY_METRICS,
    MOGA_OBJECTIVE_MODELS,
    MOGA_RESULTS,
    MOGA_PLAN,
    MOGA_BACKTEST,
)
