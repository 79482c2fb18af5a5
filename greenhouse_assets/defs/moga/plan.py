"""`moga/plan`: tomorrow's 24-hour climate plan per zone, priced hour by hour, in moga.plans.

Tomorrow is the UTC day after the zone's last air-temperature measurement (`plan_date` pins a
day). Per zone: weather from the forecast series, else persistence; electricity from the site's
spot prices plus the grid tariff, else the flat sites.yaml price; energy parameters from the zone's
validated energy model, else literature values; every source is stated in the plan and in the
materialization. The front is optimised with NSGA-II (`greenhouse_assets.moga.hourly`), the plan
picked by `mode` (the knee, or DynaLight's cheapest plan reaching the photosynthesis target), its
cost and photosynthesis intervals from the weekly-block bootstrap of the validated energy and light
models combined with the past error of the weather source the plan used (forecast errors of dbt's
`timeseries.forecast_errors`, or persistence errors; `greenhouse_assets.moga.bootstrap`,
`greenhouse_assets.moga.weather_error`); `moga.plan_days.interval_sources` says what each covers.
A zone without weather or without a feasible plan is listed with the reason and gets no plan.

The automation condition (`after_prices_or_forecast`) also counts new measurements: a forecast
file lands there, and a price file lands in `timeseries/electricity_prices`, so either re-plans.
"""

# No `from __future__ import annotations`: Dagster resolves the Config annotations at definition time.
import re
from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from greenhouse_assets import catalog
from greenhouse_assets.defs.automation.policies import after_prices_or_forecast
from greenhouse_assets.defs.moga.results import model_statuses
from greenhouse_assets.defs.platform import platform_asset
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.moga import data, plan_inputs, plan_store, profiles, store, weather_error


class PlanConfig(dg.Config):
    mode: str = Field(
        default="target",
        description="target: cheapest plan reaching the photosynthesis target "
        "(DynaLight); pareto: the knee of the cost/photosynthesis front.",
    )
    photosynthesis_target_g_m2: float = Field(
        default=0.0,
        ge=0.0,
        description="Daily gross photosynthesis target, g CH2O/m²; 0: target_share of the front's highest.",
    )
    target_share: float = Field(
        default=0.9, gt=0.0, le=1.0, description="Target as a share of the highest photosynthesis on the front."
    )
    pop_size: int = Field(default=100)
    generations: int = Field(default=150)
    seed: int = Field(default=42)
    seeds: int = Field(default=3, ge=1, description="Seeds whose feasible final populations are pooled.")
    bootstrap_resamples: int = Field(
        default=50,
        ge=0,
        description="Weekly-block resamples of the energy and light "
        "models; also the weather-error draws when no model is resampled (0: no interval).",
    )
    plan_date: str = Field(default="", description="ISO UTC day to plan; empty: the day after each zone's data.")


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(parts))


def _interval(values: list[float] | None, digits: int) -> str:
    return f" ({values[0]:.{digits}f}–{values[1]:.{digits}f})" if values else " (no interval)"


@platform_asset(
    catalog.MOGA_PLAN,
    deps=[t.asset_key for t in (catalog.MOGA_OBJECTIVE_MODELS, catalog.SITE_ELECTRICITY_PRICES, catalog.MEASUREMENTS)],
    description=(
        "`moga.plans` + `moga.plan_days`: tomorrow's 24-hour plan per zone (lamps per hour, heating setpoint by "
        "light state, ventilation limit, CO2 by light state) within the crop's photoperiod, DLI and temperatures, "
        "costed with hourly spot prices; expected cost and photosynthesis with bootstrap intervals; chart and CSV."
    ),
    automation_condition=after_prices_or_forecast(),
)
def moga_plan(
    context: dg.AssetExecutionContext, config: PlanConfig, postgres: PostgresResource, lake: LakeResource
) -> dg.MaterializeResult:
    # pymoo and matplotlib: imported by the run that plans, never when the code location loads.
    from greenhouse_assets.moga import bootstrap, plan_plot, plot
    from greenhouse_assets.moga.hourly import HEAT_DAY, HEAT_NIGHT, VENT, evaluate_plan
    from greenhouse_assets.moga.hourly_optimise import MODES, NoFeasiblePlan, optimise_plan

    if config.mode not in MODES:
        raise dg.Failure(f"mode {config.mode!r} is not one of {MODES}")
    site_config = profiles.load_config()
    planned, skipped, sections, images, csvs = [], {}, [], [], {}
    with postgres.connection() as conn:
        models_by_zone = store.latest_models(conn)
        latest = plan_inputs.latest_zone_days(conn)
        daily = data.load_daily(conn)
        for (site, zone), last in sorted(latest.items()):
            day = date.fromisoformat(config.plan_date) if config.plan_date else last + timedelta(days=1)
            start = plan_inputs.day_start(day)
            archive = plan_inputs.HourlyArchive.load(conn, start - timedelta(days=8), start + timedelta(days=1))
            models = models_by_zone.get((site, zone), {})
            weather = plan_inputs.weather_for(archive, site, day)
            if weather is None:
                skipped[f"{site}/{zone}"] = (
                    f"no forecast and no measured day with ≥ {plan_inputs.MIN_HOURS} hours "
                    f"of outdoor temperature and radiation before {day}"
                )
                continue
            values, weather_sources = weather
            electricity, price_source = plan_inputs.electricity_prices(conn, site, day, site_config)
            crop = profiles.zone_crop(site, zone, site_config)
            greenhouse = profiles.greenhouse(site, site_config)
            hourly = plan_inputs.hourly_day(
                day,
                values,
                electricity,
                models,
                crop,
                greenhouse,
                profiles.prices(site, site_config),
                {"weather": weather_sources, "electricity": price_source},
            )
            try:
                front = optimise_plan(
                    hourly,
                    pop_size=config.pop_size,
                    generations=config.generations,
                    seed=config.seed,
                    seeds=config.seeds,
                )
            except NoFeasiblePlan as error:
                skipped[f"{site}/{zone}"] = str(error)
                continue
            chosen, target = front.pick(config.mode, config.photosynthesis_target_g_m2 or None, config.target_share)
            plan = {k: v[0] for k, v in evaluate_plan(front.x[chosen : chosen + 1], hourly).items()}
            plan["ventilation_limit"] = float(front.x[chosen, VENT])
            hours = plan_store.plan_hours(plan, hourly)

            validated = {name: (models.get(name) or {}).get("status") == "validated" for name in ("energy", "light")}
            days = daily.filter((daily["site"] == site) & (daily["zone"] == zone) & (daily["day"] < day))
            sets = bootstrap.parameter_resamples(
                days,
                k_pipe_w_m2k=greenhouse.k_pipe_w_m2k,
                lamp_power_w_m2=greenhouse.installed_lamp_ppfd / greenhouse.lamp_efficacy_umol_j,
                energy=validated["energy"],
                light=validated["light"],
                resamples=config.bootstrap_resamples,
                seed=config.seed,
            )
            weather_archive = plan_inputs.HourlyArchive.load(
                conn, start - timedelta(days=weather_error.ERROR_DAYS + 1), start, variables=tuple(plan_inputs.WEATHER)
            )
            errors, error_text = weather_error.errors_for(conn, weather_archive, site, day, weather_sources)
            uncertainty = bootstrap.band(
                front.x, chosen, hourly, sets, errors, draws=config.bootstrap_resamples, seed=config.seed
            )
            sources = bootstrap.covered(
                validated["energy"], validated["light"], len(sets), error_text, errors if uncertainty else {}
            )
            if not uncertainty:
                sources["cost"] = sources["photosynthesis"] = []
            cost_interval = uncertainty["cost_interval"] if sources["cost"] else None
            photo_interval = uncertainty["photosynthesis_interval"] if sources["photosynthesis"] else None
            interval_text = bootstrap.describe(sources)

            statuses = model_statuses(models) if models else {}
            slug = _slug(site, zone, str(day))
            csv_uri = plan_store.write_csv(lake.store, f"moga/plan_{slug}.csv", site, zone, hours)
            cost_text = f"{plan['cost']:.3f}{_interval(cost_interval, 3)}"
            photo_text = f"{plan['photosynthesis']:.1f}{_interval(photo_interval, 1)}"
            png = plan_plot.plan_png(
                hours,
                f"{site} / {zone}, plan for {day} ({config.mode}): cost {cost_text} "
                f"EUR/m², photosynthesis {photo_text} g CH2O/m²",
            )
            png_uri = plot.write_png(png, lake.store, f"moga/plan_{slug}.png")
            plan_store.replace_plan(
                conn,
                {
                    "site": site,
                    "zone": zone,
                    "day": day,
                    "mode": config.mode,
                    "crop": crop.name,
                    "cost_eur_m2": float(plan["cost"]),
                    "cost_low_eur_m2": cost_interval and cost_interval[0],
                    "cost_high_eur_m2": cost_interval and cost_interval[1],
                    "photosynthesis_g_m2": float(plan["photosynthesis"]),
                    "photosynthesis_low_g_m2": photo_interval and photo_interval[0],
                    "photosynthesis_high_g_m2": photo_interval and photo_interval[1],
                    "photosynthesis_target_g_m2": target,
                    "heat_kwh_m2": float(plan["heat"]),
                    "electricity_kwh_m2": float(plan["electricity"]),
                    "co2_kg_m2": float(plan["co2_kg"]),
                    "dli_mol_m2": float(plan["dli"]),
                    "lit_hours": float(plan["lit_hours"]),
                    "weather_source": "; ".join(f"{k}: {v}" for k, v in weather_sources.items()),
                    "price_source": price_source,
                    "model_statuses": {
                        "models": {k: v["summary"] for k, v in statuses.items()},
                        "energy_parameters": hourly.sources["energy"],
                    },
                    "bootstrap": uncertainty or {"reason": interval_text},
                    "interval_sources": interval_text,
                    "csv_uri": csv_uri,
                    "plot_uri": png_uri,
                    "dagster_run_id": context.run_id,
                },
                hours,
            )
            planned.append(f"{site}/{zone}")
            csvs[f"{site}/{zone}"] = csv_uri
            lamp_hours = [r["hour"] for r in hours if r["lamp_level"] > 0]
            sections.append(
                "\n".join(
                    [
                        f"**{site} / {zone}, {day}** — crop {crop.species} ({crop.phase}, light period ≤ "
                        f"{crop.max_light_period_h:g} h, DLI {crop.dli_min_mol_m2_d:g}–{crop.dli_max_mol_m2_d:g}), mode "
                        f"{config.mode}" + (f", target {target:.1f} g CH2O/m²" if target is not None else ""),
                        f"- expected cost **{cost_text} EUR/m²**, photosynthesis **{photo_text} g CH2O/m²**"
                        + f" (5–95 %; {interval_text})",
                        f"- lamps on in UTC hours {lamp_hours or 'none'}; lit {plan['lit_hours']:.0f} h; DLI "
                        f"{plan['dli']:.1f} mol/m²; heating {front.x[chosen, HEAT_DAY]:.1f} °C lit / "
                        f"{front.x[chosen, HEAT_NIGHT]:.1f} °C dark; vents ≤ {plan['ventilation_limit']:.0f} %",
                        f"- weather: {'; '.join(f'{k} {v}' for k, v in weather_sources.items())}",
                        f"- electricity: {price_source}",
                        f"- energy parameters: {hourly.sources['energy']}",
                        "- models: " + ("; ".join(f"{k}: {v['summary']}" for k, v in statuses.items()) or "none"),
                    ]
                )
            )
            images.append(plot.markdown_image(png).replace("Pareto front", f"plan {site}/{zone}"))
        audit.record_write(
            conn,
            context,
            catalog.MOGA_PLAN,
            rows=24 * len(planned),
            operation="write",
            inputs=[
                lineage.table(t.table)
                for t in (catalog.MOGA_OBJECTIVE_MODELS, catalog.MEASUREMENTS, catalog.SITE_ELECTRICITY_PRICES)
            ],
            details={"csv": csvs, "skipped": skipped},
        )
    for zone, reason in skipped.items():
        context.log.warning(f"{zone}: no plan: {reason}")
    skipped_md = "\n".join(f"- **{zone}** no plan: {reason}" for zone, reason in skipped.items())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": 24 * len(planned),
            "zones_planned": dg.MetadataValue.json(planned),
            "zones_skipped": dg.MetadataValue.json(skipped),
            "csv": dg.MetadataValue.json(csvs),
            "plans": dg.MetadataValue.md("\n\n".join(sections + ([skipped_md] if skipped_md else [])) or "no zone"),
            "charts": dg.MetadataValue.md("\n\n".join(images) or "no plan"),
        }
    )
