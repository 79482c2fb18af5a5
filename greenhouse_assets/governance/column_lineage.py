"""`dagster/column_lineage` for the Python assets whose columns derive from upstream columns.

dbt assets get theirs from dagster-dbt (`fetch_column_metadata`); these are the hand-written
equivalents, shown in the asset's Lineage view in the UI.
"""

import dagster as dg

from greenhouse_assets import catalog

MEASUREMENTS = catalog.MEASUREMENTS.asset_key
EXTRACTED = catalog.EXTRACTED_FEATURES.asset_key


def _deps(key: dg.AssetKey, *columns: str) -> list[dg.TableColumnDep]:
    return [dg.TableColumnDep(asset_key=key, column_name=c) for c in columns]


EXTRACTED_FEATURES = dg.TableColumnLineage(
    deps_by_column={
        "window_start": _deps(MEASUREMENTS, "time"),
        "window_end": _deps(MEASUREMENTS, "time"),
        "site": _deps(MEASUREMENTS, "site"),
        "zone": _deps(MEASUREMENTS, "zone"),
        "variable": _deps(MEASUREMENTS, "variable"),
        "value": _deps(MEASUREMENTS, "time", "value", "variable"),
    }
)

FEATURE_IMPORTANCE = dg.TableColumnLineage(
    deps_by_column={
        "feature": _deps(EXTRACTED, "variable", "feature"),
        "site": _deps(EXTRACTED, "site"),
        "zone": _deps(EXTRACTED, "zone"),
        "p_value": _deps(EXTRACTED, "value"),
        "importance": _deps(EXTRACTED, "value"),
    }
)
