"""`moga_objective_models`: energy, light and growth models per zone, each with an honest status.

Statuses (see `greenhouse_assets.moga.calibration` / `.validation`): `validated` (blocked
cross-validation by weeks, ≥ 20 out-of-fold test days, skill against the monthly climatology ≥
the threshold, parameters inside their literature ranges), `rejected` (with the reason),
`derived` (the target is computed from its own regressors) and `literature` (published
parameters, not validated: the growth model).

MOGA is per zone: `moga_results` optimises every zone whose energy model is `validated` or, when its
fit was not validated, the `literature` heat balance of the site's documented cover type (the
default `literature_fallback`; its reason starts "fit rejected: ..." and every recommendation says
so), and records the others in `moga.runs` as `skipped` with the reason. The check
`objective_models_validated` reports rather than blocks: it passes when every zone's energy model is
validated and fails (WARN) naming each zone that is not, whether it runs on the literature model or
is skipped, and why (a real archive whose fitted U-value falls outside its literature range, say).
Blocking would stop `moga_results` from recording the skipped zones and their reasons.
"""

# No `from __future__ import annotations`: Dagster resolves the Config annotations at definition time.

import dagster as dg
from pydantic import Field

from greenhouse_assets import catalog
from greenhouse_assets.defs.automation.policies import after_complete_day
from greenhouse_assets.defs.platform import platform_asset
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.moga import data, profiles, store
from greenhouse_assets.moga.calibration import DEFAULT_SKILL_THRESHOLD, calibrate_zone, status_summary
from greenhouse_assets.moga.validation import CV_SCHEMES, MIN_TEST_DAYS


class ObjectiveModelsConfig(dg.Config):
    skill_threshold: float = Field(
        default=DEFAULT_SKILL_THRESHOLD,
        ge=0.0,
        le=1.0,
        description="Lowest skill against the monthly climatology a validated model may have.",
    )
    cv_scheme: str = Field(default="week", description="Blocks of the cross-validation: week (ISO weeks) or month.")
    literature_fallback: bool = Field(
        default=True,
        description="When a zone's energy fit is not validated, use the literature heat balance of the "
        "site's documented cover type (status literature, the rejected fit in the reason) "
        "instead of skipping the zone.",
    )


def _models_table(rows: list[dict]) -> str:
    lines = [
        "| site | zone | objective | kind | status | skill vs climatology | R² | MAE | test days | reason |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fmt = lambda v, f: "—" if v is None else format(v, f)  # noqa: E731
        lines.append(
            f"| {r['site']} | {r['zone']} | {r['objective']} | {r['kind']} | **{r['status']}** | "
            f"{fmt(r['skill_vs_climatology'], '.2f')} | {fmt(r['r2'], '.3f')} | {fmt(r['mae'], '.3g')} | "
            f"{r['n_test_days'] or 0} | {(r['reason'] or '').replace('|', '/')} |"
        )
    return "\n".join(lines)


def _row(m) -> dict:
    fit = m.fit
    return {
        "site": m.site,
        "zone": m.zone,
        "objective": m.objective,
        "kind": m.kind,
        "status": m.status,
        "reason": m.reason,
        "skill_vs_climatology": fit.skill if fit else None,
        "r2": fit.r2 if fit else None,
        "mae": fit.mae if fit else None,
        "n_test_days": fit.n_test if fit else None,
        "cv_scheme": fit.cv_scheme if fit else None,
        "model_version": m.model_version,
    }


def zone_verdicts(latest: dict[tuple[str, str], dict[str, dict]]) -> dict[tuple[str, str], str | None]:
    """Per zone: None when it can be optimised (energy model validated, or the literature model of its
    cover type standing in for a rejected fit), else the reason it is skipped."""
    verdicts = {}
    for key, models in latest.items():
        energy = models.get("energy")
        if energy is None:
            verdicts[key] = "no energy model"
        elif energy["status"] not in ("validated", "literature"):
            verdicts[key] = "energy model " + status_summary(
                energy["status"], energy["skill_vs_climatology"], energy["n_test_days"], energy["reason"]
            )
        else:
            verdicts[key] = None
    return verdicts


@platform_asset(
    catalog.MOGA_OBJECTIVE_MODELS,
    deps=[catalog.EXTRACTED_FEATURES.asset_key, catalog.MEASUREMENTS.asset_key],
    description=(
        "`moga.objective_models`: per site/zone, a heat-balance energy model calibrated on the heating-pipe proxy "
        "a PAR-transmission model on measured DLI and the literature TOMGRO growth model; each with a status "
        "(validated/rejected/derived/literature), the reason, blocked-CV skill vs monthly climatology and test days."
    ),
    automation_condition=after_complete_day(),
)
def moga_objective_models(
    context: dg.AssetExecutionContext, config: ObjectiveModelsConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    if config.cv_scheme not in CV_SCHEMES:
        raise dg.Failure(f"cv_scheme {config.cv_scheme!r} is not one of {CV_SCHEMES}")
    site_config = profiles.load_config()
    with postgres.connection() as conn:
        daily = data.load_daily(conn)
        models = []
        for (site, zone), days in daily.group_by("site", "zone", maintain_order=True):
            models += calibrate_zone(
                site,
                zone,
                days,
                data.data_version(days),
                greenhouse=profiles.greenhouse(site, site_config),
                skill_threshold=config.skill_threshold,
                scheme=config.cv_scheme,
                literature_fallback=config.literature_fallback,
            )
        store.save_models(conn, models)
        audit.record_write(
            conn,
            context,
            catalog.MOGA_OBJECTIVE_MODELS,
            rows=len(models),
            operation="write",
            inputs=[lineage.table(catalog.EXTRACTED_FEATURES.table), lineage.table(catalog.MEASUREMENTS.table)],
            details={"model_versions": [m.model_version for m in models]},
        )
    rows = [_row(m) for m in models]
    if not models:
        context.log.warning("no zone has daily climate features yet: no objective models")
    counts = {
        status: sum(m.status == status for m in models) for status in ("validated", "rejected", "derived", "literature")
    }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(models),
            "days": daily.height,
            **{f"models_{status}": n for status, n in counts.items()},
            "models": dg.MetadataValue.md(_models_table(rows) if rows else "none"),
            "validation": dg.MetadataValue.md(
                f"Blocked cross-validation ({config.cv_scheme}s), ≥ {MIN_TEST_DAYS} out-of-fold test days, skill vs "
                f"monthly climatology ≥ {config.skill_threshold:g}, parameters in literature ranges. The growth model "
                "is a literature model (TOMGRO), not validated: no crop data is logged."
            ),
            "model_versions": dg.MetadataValue.json([m.model_version for m in models]),
        }
    )


@dg.asset_check(
    asset=moga_objective_models,
    description="Which zones' energy models are validated; the others run on the literature model "
    "of their cover type or are skipped (WARN).",
)
def objective_models_validated(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.connection() as conn:
        latest = store.latest_models(conn)
    rows = [model for by_objective in latest.values() for model in by_objective.values()]
    verdicts = zone_verdicts(latest)
    passing = sorted(f"{s}/{z}" for (s, z), reason in verdicts.items() if reason is None)
    skipped = {f"{s}/{z}": reason for (s, z), reason in sorted(verdicts.items()) if reason is not None}
    # Zones optimised on the literature model of their cover type: a recommendation, but not a validated one.
    literature = {
        f"{s}/{z}": models["energy"]["reason"]
        for (s, z), models in sorted(latest.items())
        if verdicts[(s, z)] is None and models["energy"]["status"] == "literature"
    }
    metadata = {
        "zones_optimisable": dg.MetadataValue.json(passing),
        "zones_on_literature_energy_model": dg.MetadataValue.json(literature),
        "zones_skipped": dg.MetadataValue.json(skipped),
        "models": dg.MetadataValue.md(_models_table(rows)) if rows else "none",
    }
    if not latest:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata, description="no models yet"
        )
    if not skipped and not literature:
        return dg.AssetCheckResult(
            passed=True, metadata=metadata, description=f"all {len(passing)} zone(s) have a validated energy model"
        )
    listing = "; ".join(
        [f"{zone}: {reason}" for zone, reason in skipped.items()]
        + [f"{zone}: energy on the literature model ({reason})" for zone, reason in literature.items()]
    )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=f"{len(passing)} zone(s) optimisable ({len(literature)} of them on a "
        f"literature energy model), {len(skipped)} skipped: {listing}",
    )
