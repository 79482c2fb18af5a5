"""`moga_results`: a Pareto front of day-ahead climate setpoints per zone, stored, plotted and summarised.

The horizon is one day: by default the day after the zone's latest data; `horizon_date` pins it.
Each zone's run replaces any earlier run for the same horizon (see `greenhouse_assets.moga.store`).

Per zone, never all-or-nothing: a zone is optimised when its energy model is `validated` or the
`literature` model of its cover type standing in for a rejected fit ("energy: literature model (fit
rejected: ...)" in every pick's `rests_on`, in moga.runs.model_statuses and in the materialization);
any other zone gets a `skipped` run row with the reason (its energy model's status, no weather, or
no setpoint meeting every constraint), and both lists are in the materialization. The bounds
come from the zone's crop profile and the cost objective's prices from the site (sites.yaml);
every recommended setpoint says which model statuses it rests on. Each zone runs `seeds` seeds:
the best front is stored, every seed's hypervolume and their spread go with the run.
"""

# No `from __future__ import annotations`: Dagster resolves the Config annotations at definition time.
import re
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
from pydantic import Field

from greenhouse_assets import catalog
from greenhouse_assets.defs.automation.policies import after_features
from greenhouse_assets.defs.moga.models import zone_verdicts
from greenhouse_assets.defs.platform import platform_asset
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.moga import data, plot, profiles, store
from greenhouse_assets.moga.calibration import persistence_forecast, status_summary


class MogaConfig(dg.Config):
    algorithm: str = Field(default="nsga2", description="nsga2 or nsga3.")
    pop_size: int = Field(default=100, description="Population size (NSGA-III: one reference direction each).")
    generations: int = Field(default=200, description="Generations per run.")
    seed: int = Field(default=42, description="First random seed: same seeds and data give the same front.")
    seeds: int = Field(
        default=5,
        ge=5,
        description="Seeds per zone (seed, seed+1, ...): the best front is stored, "
        "every seed's hypervolume and their spread go to moga.runs.",
    )
    horizon_date: str = Field(
        default="", description="ISO day to optimise; empty: the day after each zone's latest data."
    )
    sites: list[str] = Field(default=[], description="Only these sites; empty: all.")
    zones: list[str] = Field(default=[], description="Only these zones; empty: all.")


def model_statuses(models: dict[str, dict]) -> dict[str, dict]:
    """What a recommendation rests on: each model's status, skill, test days and reason."""
    return {
        objective: {
            "status": m["status"],
            "skill_vs_climatology": m["skill_vs_climatology"],
            "n_test_days": m["n_test_days"],
            "reason": m["reason"],
            "model_version": m["model_version"],
            "summary": status_summary(m["status"], m["skill_vs_climatology"], m["n_test_days"], m["reason"]),
        }
        for objective, m in sorted(models.items())
    }


def basis(statuses: dict[str, dict], growth_parameters: dict) -> str:
    """One line a grower can read, e.g. 'energy: validated, skill 0.42 on 38 test days; growth: literature ...'."""
    parts = [
        f"energy: {statuses['energy']['summary']}" if "energy" in statuses else "energy: no model",
        f"growth: {statuses['growth']['summary']}" if "growth" in statuses else "growth: no model",
    ]
    light = statuses.get("light")
    if light:
        used = "fitted transmission" if light["status"] == "validated" else "configured transmission"
        parts.append(
            f"light: {used} {growth_parameters.get('transmission', float('nan')):.2f} (light model {light['status']})"
        )
    return "; ".join(parts)


def _markdown(site: str, zone: str, horizon: date, table: list[dict], crop: profiles.CropProfile) -> str:
    ranked = (
        "ranked per day of development (cost and growth shown per calendar day; development d/d = days "
        f"of development per day, 1 at {crop.development_reference_c:g} °C)"
        if crop.development_base_c is not None
        else "ranked per calendar day"
    )
    lines = [
        f"**{site} / {zone}, {horizon}** — crop {crop.species} ({crop.name}, {crop.phase}): "
        f"T {crop.temperature_bounds[0]:g}–{crop.temperature_bounds[1]:g} °C, light period ≤ "
        f"{crop.max_light_period_h:g} h, DLI {crop.dli_min_mol_m2_d:g}–{crop.dli_max_mol_m2_d:g} mol/m²/day; "
        f"{ranked}",
        "",
        "| pick | T day/night °C | RH % | CO2 ppm | light µmol/m²/s | lamp h | vent % | cost EUR/m² "
        "| heat kWh/m² | lamps kWh/m² | CO2 kg/m² | growth g CH2O/m² | DLI mol/m² | development d/d | rests on |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(
            f"| {r['pick'].replace('_', ' ')} | {r['temperature_setpoint']}/{r['temperature_night_setpoint']} | "
            f"{r['humidity_setpoint']} | {r['co2_setpoint']} | {r['supplemental_light']} | {r['photoperiod']} | "
            f"{r['ventilation']} | {r['cost_eur_m2']} | {r['heat_kwh_m2']} | {r['electricity_kwh_m2']} | "
            f"{r['co2_kg_m2']} | {r['growth_g_ch2o_m2']} | {r['dli_mol_m2']} | {r['development_rate']} | "
            f"{r['rests_on']} |"
        )
    return "\n".join(lines)


def _skip(
    context: dg.AssetExecutionContext, conn, skipped: dict[str, str], record: dict, reason: str, recommendations: dict
) -> None:
    """Record a zone as skipped with its reason and no front, and note it in `skipped` (zone -> reason), so
    the summary can say why."""
    where = f"{record['site']}/{record['zone']}"
    context.log.warning(f"{where}: skipped: {reason}")
    skipped[where] = reason
    store.replace_run(
        conn,
        store.RunRecord(
            **record,
            evaluations=0,
            hypervolume=None,
            runtime_s=0.0,
            plot_uri=None,
            status="skipped",
            reason=reason,
            recommendations=recommendations,
        ),
        [],
    )


@platform_asset(
    catalog.MOGA_RESULTS,
    deps=[catalog.MOGA_OBJECTIVE_MODELS.asset_key],
    description=(
        "`moga.runs` + `moga.solutions`: NSGA-II (or NSGA-III) Pareto fronts of day-ahead setpoints (temperature, "
        "day/night temperature, humidity, CO2, supplemental light, photoperiod, ventilation) trading cost (heat, "
        "electricity and CO2 priced separately per site) against canopy growth, under VPD, DLI, overheating and "
        "humidity constraints; several seeds with their hypervolume spread; a PNG of each front and three picks."
    ),
    automation_condition=after_features(),
)
def moga_results(
    context: dg.AssetExecutionContext, config: MogaConfig, postgres: PostgresResource, lake: LakeResource
) -> dg.MaterializeResult:
    # pymoo (~0.7 s): imported by the run that optimises, not by every process that loads the code location.
    from greenhouse_assets.moga import optimise
    from greenhouse_assets.moga.recommend import NoFeasibleSetpoint, day_inputs, optimise_day

    if config.algorithm not in optimise.ALGORITHMS:
        raise dg.Failure(f"algorithm {config.algorithm!r} is not one of {optimise.ALGORITHMS}")
    summaries, images, plots, runs, skipped, spreads = [], [], {}, 0, {}, {}
    site_config = profiles.load_config()  # the crop numbers as copied, with citations (tests check them)
    with postgres.connection() as conn:
        daily = data.load_daily(conn)
        latest = store.latest_models(conn)
        verdicts = zone_verdicts(latest)
        for (site, zone), models in sorted(latest.items()):
            if (config.sites and site not in config.sites) or (config.zones and zone not in config.zones):
                continue
            days = daily.filter((daily["site"] == site) & (daily["zone"] == zone))
            horizon = (
                date.fromisoformat(config.horizon_date)
                if config.horizon_date
                else (days["day"].max() + timedelta(days=1) if days.height else None)
            )
            if horizon is None:
                context.log.warning(f"{site}/{zone}: no daily data for a horizon, nothing recorded")
                continue
            start = datetime.combine(horizon, time(), UTC)
            statuses = model_statuses(models)
            crop = profiles.zone_crop(site, zone, site_config)
            forecast = persistence_forecast(days, horizon)
            reason = verdicts[(site, zone)] or (
                None if forecast else "no outdoor temperature or radiation for a forecast"
            )
            if reason is None and {"energy", "growth"} - models.keys():
                reason = "no growth model"
            record = dict(
                site=site,
                zone=zone,
                horizon_start=start,
                horizon_end=start + timedelta(days=1),
                algorithm=config.algorithm,
                seed=config.seed,
                population=config.pop_size,
                generations=config.generations,
                reference_point={
                    "cost_eur_m2": optimise.REFERENCE_POINT[0],
                    "minus_growth_g_ch2o_m2": optimise.REFERENCE_POINT[1],
                },
                input_data_version=data.data_version(days),
                model_versions={k: m["model_version"] for k, m in models.items()},
                dagster_run_id=context.run_id,
                model_statuses=statuses,
            )

            unplanned = {"picks": [], "forecast": forecast, "crop": crop.as_dict()}

            if reason is not None:
                _skip(context, conn, skipped, record, reason, unplanned)
                continue
            site_prices = profiles.prices(site, site_config)
            day = day_inputs(
                horizon,
                forecast,
                models["energy"]["parameters"],
                models["growth"]["parameters"],
                crop,
                prices=site_prices,
                greenhouse=profiles.greenhouse(site, site_config),
            )
            try:
                front = optimise_day(
                    day,
                    algorithm=config.algorithm,
                    pop_size=config.pop_size,
                    generations=config.generations,
                    seed=config.seed,
                    seeds=config.seeds,
                )
            except NoFeasibleSetpoint as error:
                _skip(context, conn, skipped, record, str(error), {**unplanned, "day_inputs": day.as_dict()})
                continue
            rests_on = basis(statuses, models["growth"]["parameters"])
            table = [{**pick, "rests_on": rests_on} for pick in front.recommendation_table()]
            png = plot.pareto_png(
                front.cost,
                front.growth,
                front.ranks,
                front.picks,
                per_development_day=day.development_base_c is not None,
                title=f"{site} / {zone}, {horizon}: {config.algorithm.upper()} (best of {config.seeds} "
                f"seeds), HV {front.hypervolume:.2f}, spread {front.hypervolume_spread:.1%}",
            )
            plot_uri = plot.write_png(
                png, lake.store, f"moga/{re.sub(r'[^A-Za-z0-9_.-]+', '_', f'{site}_{zone}')}_{horizon}.png"
            )
            store.replace_run(
                conn,
                store.RunRecord(
                    **record,
                    evaluations=front.evaluations,
                    hypervolume=front.hypervolume,
                    runtime_s=front.runtime_s,
                    recommendations={
                        "picks": table,
                        "forecast": forecast,
                        "day_inputs": day.as_dict(),
                        "crop": crop.as_dict(),
                        "prices": site_prices.as_dict(),
                        "rests_on": rests_on,
                        "stored_seed": front.seed,
                    },
                    plot_uri=plot_uri,
                    status="optimised",
                    hypervolume_seeds={str(k): v for k, v in front.hypervolume_seeds.items()},
                    hypervolume_spread=front.hypervolume_spread,
                ),
                front.solutions,
            )
            runs += 1
            spreads[f"{site}/{zone}"] = round(front.hypervolume_spread, 6)
            plots[f"{site}/{zone}"] = plot_uri
            summaries.append(_markdown(site, zone, horizon, table, crop))
            images.append(plot.markdown_image(png))
        audit.record_write(
            conn,
            context,
            catalog.MOGA_RESULTS,
            rows=runs + len(skipped),
            operation="write",
            inputs=[
                lineage.table(t.table)
                for t in (catalog.MOGA_OBJECTIVE_MODELS, catalog.EXTRACTED_FEATURES, catalog.MEASUREMENTS)
            ],
            details={"plots": plots, "skipped": skipped},
        )
    skipped_md = "\n".join(f"- **{zone}** skipped: {reason}" for zone, reason in skipped.items())
    metadata = {
        "runs": runs,
        "zones_optimised": dg.MetadataValue.json(sorted(plots)),
        "zones_skipped": dg.MetadataValue.json(skipped),
        "plots": dg.MetadataValue.json(plots),
        "seeds": config.seeds,
        "hypervolume_spread": dg.MetadataValue.json(spreads),
        "recommendations": dg.MetadataValue.md(
            "\n\n".join(summaries + ([skipped_md] if skipped_md else [])) or "no zone had models"
        ),
        "pareto_front": dg.MetadataValue.md("\n\n".join(images) or "no plot"),
    }
    if len(plots) == 1:
        metadata["plot_uri"] = dg.MetadataValue.url(next(iter(plots.values())))
    return dg.MaterializeResult(metadata=metadata)
