"""`moga_objective_models`: energy and growth models per zone, calibrated and scored on held-out days.

The blocking check `objective_models_validated` stands between these models and the optimiser:
a calibrated model whose held-out R² is under the threshold fails it with severity ERROR, so
`moga_results` does not run on a model that cannot explain its target. Models that kept
literature parameters (too few days to calibrate) are a WARN, shown but not blocking.
"""

# No `from __future__ import annotations`: Dagster resolves the Config annotations at definition time.

import dagster as dg
from pydantic import Field

from greenhouse_assets.defs.automation.policies import DB_RETRY, after_features, explain_lost_database
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.moga import data, store
from greenhouse_assets.moga.calibration import calibrate_zone

FEATURES = dg.AssetKey(["features", "extracted_features"])
MEASUREMENTS = dg.AssetKey(["timeseries", "measurements"])


class ObjectiveModelsConfig(dg.Config):
    min_days: int = Field(default=10, description="Fewest usable days a fit needs; fewer keeps literature parameters.")


class ValidationConfig(dg.Config):
    r2_threshold: float = Field(default=0.7, description="Lowest held-out R² a calibrated model may have.")


def _models_table(rows: list[dict]) -> str:
    lines = ["| site | zone | objective | kind | R² | MAE | train/test days |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        score = "—" if r["r2"] is None else f"{r['r2']:.3f}"
        mae = "—" if r["mae"] is None else f"{r['mae']:.3g}"
        lines.append(f"| {r['site']} | {r['zone']} | {r['objective']} | {r['kind']} | {score} | {mae} | "
                     f"{r['n_train'] or 0}/{r['n_test'] or 0} |")
    return "\n".join(lines)


@dg.asset(
    group_name="moga",
    kinds={"python", "scikit-learn"},
    deps=[FEATURES, MEASUREMENTS],
    owners=["team:data-engineering"],
    description=(
        "`moga.objective_models`: per site/zone, a heat-balance energy model calibrated on the heating-pipe proxy "
        "and a TOMGRO canopy growth model whose light input is calibrated on measured DLI; R² and MAE on held-out days."
    ),
    metadata={"dagster/table_name": "moga.objective_models"},
    automation_condition=after_features(),
    retry_policy=DB_RETRY,
)
@explain_lost_database
def moga_objective_models(context: dg.AssetExecutionContext, config: ObjectiveModelsConfig,
                          postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.connection() as conn:
        daily = data.load_daily(conn)
        models = []
        for (site, zone), days in daily.group_by("site", "zone", maintain_order=True):
            models += calibrate_zone(site, zone, days, data.data_version(days), min_days=config.min_days)
        store.save_models(conn, models)
        audit.record_write(conn, context, asset="moga_objective_models", table="moga.objective_models",
                           rows=len(models), operation="write",
                           inputs=[lineage.table("features.extracted_features"),
                                   lineage.table("timeseries.measurements")],
                           details={"model_versions": [m.model_version for m in models]})
    rows = [{"site": m.site, "zone": m.zone, "objective": m.objective, "kind": m.kind,
             "r2": m.fit.r2 if m.fit else None, "mae": m.fit.mae if m.fit else None,
             "n_train": m.fit.n_train if m.fit else None, "n_test": m.fit.n_test if m.fit else None} for m in models]
    if not models:
        context.log.warning("no zone has daily climate features yet: no objective models")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(models),
        "days": daily.height,
        "models": dg.MetadataValue.md(_models_table(rows)),
        "model_versions": dg.MetadataValue.json([m.model_version for m in models]),
    })


@dg.asset_check(asset=moga_objective_models, blocking=True,
                description="Every calibrated objective model explains its target on held-out days (R² ≥ threshold).")
def objective_models_validated(config: ValidationConfig, postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connection() as conn:
        latest = [model for by_objective in store.latest_models(conn).values() for model in by_objective.values()]
    failing = [m for m in latest if m["r2"] is not None and m["r2"] < config.r2_threshold]
    uncalibrated = [m for m in latest if m["r2"] is None]
    metadata = {
        "r2_threshold": config.r2_threshold,
        "models": dg.MetadataValue.md(_models_table(latest)) if latest else "none",
        "failing": dg.MetadataValue.json([m["model_version"] for m in failing]),
        "uncalibrated": dg.MetadataValue.json([m["model_version"] for m in uncalibrated]),
    }
    if failing:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                   description=f"{len(failing)} model(s) below R² {config.r2_threshold} on held-out days")
    if uncalibrated or not latest:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
                                   description="no models yet" if not latest else
                                   f"{len(uncalibrated)} model(s) run on literature parameters (too few days to fit)")
    return dg.AssetCheckResult(passed=True, metadata=metadata)
