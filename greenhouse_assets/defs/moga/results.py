"""`moga_results`: a Pareto front of day-ahead climate setpoints per zone, stored, plotted and summarised.

The horizon is one day: by default the day after the zone's latest data; `horizon_date` pins it.
Each zone's run replaces any earlier run for the same horizon (see `greenhouse_assets.moga.store`).
"""

# No `from __future__ import annotations`: Dagster resolves the Config annotations at definition time.
import re
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
from pydantic import Field

from greenhouse_assets.defs.automation.policies import DB_RETRY, after_features, explain_lost_database
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.moga import data, optimise, plot, store
from greenhouse_assets.moga.calibration import persistence_forecast
from greenhouse_assets.moga.recommend import day_inputs, optimise_day


class MogaConfig(dg.Config):
    algorithm: str = Field(default="nsga2", description="nsga2 or nsga3.")
    pop_size: int = Field(default=100, description="Population size (NSGA-III: one reference direction each).")
    generations: int = Field(default=200, description="Generations per run.")
    seed: int = Field(default=42, description="Random seed: same seed and data give the same front.")
    horizon_date: str = Field(default="", description="ISO day to optimise; empty: the day after each zone's latest data.")
    sites: list[str] = Field(default=[], description="Only these sites; empty: all.")
    zones: list[str] = Field(default=[], description="Only these zones; empty: all.")


def _markdown(site: str, zone: str, horizon: date, table: list[dict]) -> str:
    lines = [f"**{site} / {zone}, {horizon}**", "",
             "| pick | T °C | RH % | CO2 ppm | light µmol/m²/s | photoperiod h | vent % | energy kWh/m² | growth g CH2O/m² |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['pick'].replace('_', ' ')} | {r['temperature_setpoint']} | {r['humidity_setpoint']} | "
                     f"{r['co2_setpoint']} | {r['supplemental_light']} | {r['photoperiod']} | {r['ventilation']} | "
                     f"{r['energy_kwh_m2']} | {r['growth_g_ch2o_m2']} |")
    return "\n".join(lines)


@dg.asset(
    group_name="moga",
    kinds={"python", "pymoo"},
    deps=[dg.AssetKey("moga_objective_models")],
    owners=["team:data-engineering"],
    description=(
        "`moga.runs` + `moga.solutions`: NSGA-II (or NSGA-III) Pareto fronts of day-ahead setpoints (temperature, "
        "humidity, CO2, supplemental light, photoperiod, ventilation) trading energy against canopy growth, under "
        "VPD ≤ 3 kPa and DLI ≤ 30 mol/m²/day; a PNG of each front in the lake and three recommended setpoints."
    ),
    metadata={"dagster/table_name": "moga.runs"},
    automation_condition=after_features(),
    retry_policy=DB_RETRY,
)
@explain_lost_database
def moga_results(context: dg.AssetExecutionContext, config: MogaConfig, postgres: PostgresResource,
                 lake: LakeResource) -> dg.MaterializeResult:
    if config.algorithm not in optimise.ALGORITHMS:
        raise dg.Failure(f"algorithm {config.algorithm!r} is not one of {optimise.ALGORITHMS}")
    summaries, images, plots, runs = [], [], {}, 0
    with postgres.connection() as conn:
        daily = data.load_daily(conn)
        for (site, zone), models in sorted(store.latest_models(conn).items()):
            if (config.sites and site not in config.sites) or (config.zones and zone not in config.zones):
                continue
            days = daily.filter((daily["site"] == site) & (daily["zone"] == zone))
            horizon = date.fromisoformat(config.horizon_date) if config.horizon_date else \
                (days["day"].max() + timedelta(days=1) if days.height else None)
            forecast = persistence_forecast(days, horizon) if horizon else None
            if forecast is None or {"energy", "growth"} - models.keys():
                context.log.warning(f"{site}/{zone}: no weather data or models for a forecast, skipped")
                continue
            day = day_inputs(horizon, forecast, models["energy"]["parameters"], models["growth"]["parameters"])
            front = optimise_day(day, algorithm=config.algorithm, pop_size=config.pop_size,
                                 generations=config.generations, seed=config.seed)
            table = front.recommendation_table()
            png = plot.pareto_png(front.energy, front.growth, front.ranks, front.picks,
                                  f"{site} / {zone}, {horizon}: {config.algorithm.upper()}, HV {front.hypervolume:.1f}")
            path = plot.write_png(png, lake.path / "moga" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', f'{site}_{zone}')}_{horizon}.png")
            start = datetime.combine(horizon, time(), UTC)
            store.replace_run(conn, store.RunRecord(
                site=site, zone=zone, horizon_start=start, horizon_end=start + timedelta(days=1),
                algorithm=config.algorithm, seed=config.seed, population=config.pop_size,
                generations=config.generations, evaluations=front.evaluations, hypervolume=front.hypervolume,
                reference_point={"energy_kwh_m2": optimise.REFERENCE_POINT[0],
                                 "minus_growth_g_ch2o_m2": optimise.REFERENCE_POINT[1]},
                runtime_s=front.runtime_s, input_data_version=data.data_version(days),
                model_versions={k: models[k]["model_version"] for k in ("energy", "growth")},
                recommendations={"picks": table, "forecast": forecast, "day_inputs": day.as_dict()},
                plot_uri=path.as_uri(), dagster_run_id=context.run_id,
            ), front.solutions)
            runs += 1
            plots[f"{site}/{zone}"] = str(path)
            summaries.append(_markdown(site, zone, horizon, table))
            images.append(plot.markdown_image(png))
        audit.record_write(conn, context, asset="moga_results", table="moga.runs", rows=runs, operation="write",
                           inputs=[lineage.table(t) for t in (
                               "moga.objective_models", "features.extracted_features", "timeseries.measurements")],
                           outputs=[lineage.table("moga.runs"), lineage.table("moga.solutions")],
                           details={"plots": plots})
    metadata = {"runs": runs, "plots": dg.MetadataValue.json(plots),
                "recommendations": dg.MetadataValue.md("\n\n".join(summaries) or "no zone had models and weather data"),
                "pareto_front": dg.MetadataValue.md("\n\n".join(images) or "no plot")}
    if len(plots) == 1:
        metadata["plot_path"] = dg.MetadataValue.path(next(iter(plots.values())))
    return dg.MaterializeResult(metadata=metadata)
