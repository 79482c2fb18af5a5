"""Which day-window features explain the MOGA layer's targets, per site and zone.

Targets (one value per day, from the domain features of the same day):
- `energy_use_proxy` = heating_degree_hours [K·h] + lamp_on_hours [h]. A ranking proxy, not
  kWh: both terms grow with the energy a day costs (pipe heat output ∝ pipe−air excess; lamp
  electricity ∝ burning hours). Either term is used alone where a zone lacks the other input.
- `growth_proxy` = dli_mol_m2 × 0.6 g dry matter per mol PAR (≈ 2.7 g/MJ PAR, the light-use
  efficiency range 2.5–3.0 g/MJ reported for greenhouse tomato, Heuvelink 1995; Marcelis et al.
  2006): potential daily dry-matter gain in g/m².
A target's own ingredients are not candidates for it (that would be circular).

Two methods, both written to `features.feature_importance`:
- `tsfresh_relevance_by`: tsfresh's `calculate_relevance_table` (Kendall τ test for a real
  target and feature, Benjamini–Yekutieli FDR control via `hypotheses_independent=False`):
  p_value and relevant.
- `random_forest_impurity`: scikit-learn RandomForestRegressor (200 trees, fixed seed) impurity
  importances, normalised to sum 1: a multivariate view the univariate tests miss.
Features with a missing value on any day are left out. With fewer days than `min_days` for a zone
nothing is computed for it (the asset reports which zones were skipped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LIGHT_USE_EFFICIENCY_G_PER_MOL = 0.6
TARGET_INGREDIENTS = {
    "energy_use_proxy": ("domain__heating_degree_hours", "domain__lamp_on_hours"),
    "growth_proxy": ("domain__dli_mol_m2",),
}


def day_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """Rows of (window_start, variable, feature, value) for one zone -> days × `variable__feature`."""
    named = features.assign(name=features["variable"] + "__" + features["feature"])
    return named.pivot_table(index="window_start", columns="name", values="value", aggfunc="first")


def targets(matrix: pd.DataFrame) -> dict[str, pd.Series]:
    out = {}
    energy = [c for c in TARGET_INGREDIENTS["energy_use_proxy"] if c in matrix]
    if energy:
        out["energy_use_proxy"] = matrix[energy].sum(axis=1, min_count=len(energy))
    if "domain__dli_mol_m2" in matrix:
        out["growth_proxy"] = matrix["domain__dli_mol_m2"] * LIGHT_USE_EFFICIENCY_G_PER_MOL
    return out


def rank(matrix: pd.DataFrame, min_days: int, fdr_level: float) -> tuple[list[dict], dict[str, str]]:
    """Importance rows (without site/zone/data_version) and, per target, why it was skipped."""
    from sklearn.ensemble import RandomForestRegressor
    from tsfresh.feature_selection.relevance import calculate_relevance_table

    rows, skipped = [], {}
    for target, y in targets(matrix).items():
        y = y.dropna()
        candidates = matrix.loc[y.index].drop(columns=list(TARGET_INGREDIENTS[target]), errors="ignore")
        candidates = candidates.dropna(axis=1, how="any")
        if len(y) < min_days or candidates.empty:
            skipped[target] = (
                f"{len(y)} days with a target value (need {min_days}), {candidates.shape[1]} complete features"
            )
            continue
        table = calculate_relevance_table(
            candidates, y, ml_task="regression", fdr_level=fdr_level, hypotheses_independent=False, n_jobs=0
        )
        rows += [
            {
                "target": target,
                "feature": name,
                "p_value": _float(r["p_value"]),
                "relevant": bool(r["relevant"]),
                "importance": None,
                "method": "tsfresh_relevance_by",
            }
            for name, r in table.iterrows()
        ]
        forest = RandomForestRegressor(n_estimators=200, random_state=0).fit(candidates.to_numpy(), y.to_numpy())
        rows += [
            {
                "target": target,
                "feature": name,
                "p_value": None,
                "relevant": None,
                "importance": float(value),
                "method": "random_forest_impurity",
            }
            for name, value in zip(candidates.columns, forest.feature_importances_)
        ]
    return rows, skipped


def _float(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
