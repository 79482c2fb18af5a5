"""`moga/backtest`: the grower's past days against the plans the planner would have made the day before.

Per zone and complete past day (see `greenhouse_assets.moga.backtest`), one row of `moga.backtest` with
both days' modelled cost and photosynthesis; the materialization shows the distribution of modelled
savings on the days the plan reached at least the grower's photosynthesis, and flags a median saving
far beyond the published 20–25 % (DynaLight, DynaGrow) as a likely model error.

Incremental: a day is optimised only when it has no row yet or its inputs' fingerprint changed (new or
corrected measurements, prices, model parameters beyond their rounding, settings, model code); rows of
days no longer complete are removed. The figures are always those of every stored row, and the
materialization counts the days it optimised (`days_evaluated`) and those it kept (`days_unchanged`).
"""

# No `from __future__ import annotations`: Dagster resolves the Config annotations at definition time.
from dataclasses import replace
from datetime import timedelta

import dagster as dg
from pydantic import Field

from greenhouse_assets import catalog
from greenhouse_assets.defs.automation.policies import after_features
from greenhouse_assets.defs.platform import platform_asset
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.governance import audit, lineage
from greenhouse_assets.moga import plan_inputs, plan_store, profiles, store


class BacktestConfig(dg.Config):
    # Smaller than the plan's: the first materialization over an archive optimises every complete day
    # (a year of one zone ≈ 3 min); later ones only the days whose inputs changed.
    pop_size: int = Field(default=40, description="Population of each day's plan.")
    generations: int = Field(default=50, description="Generations of each day's plan.")
    seed: int = Field(default=42)


@platform_asset(
    catalog.MOGA_BACKTEST,
    deps=[catalog.MOGA_PLAN.asset_key],
    description=(
        "`moga.backtest`: per zone and complete past day, the modelled cost and photosynthesis of what the grower "
        "ran and of the plan made with the day before's forecast and prices, both on the measured day; "
        "distribution of savings at equal-or-better photosynthesis, flagged when far beyond the published 20–25 %."
    ),
    automation_condition=after_features(),
)
def moga_backtest(
    context: dg.AssetExecutionContext, config: BacktestConfig, postgres: PostgresResource, lake: LakeResource
) -> dg.MaterializeResult:
    from greenhouse_assets.moga import backtest, plan_plot, plot
    from greenhouse_assets.moga.hourly_optimise import NoFeasiblePlan

    site_config = profiles.load_config()
    settings = {"pop_size": config.pop_size, "generations": config.generations, "seed": config.seed}
    code = backtest.code_digest()
    rows, keep, incomplete, infeasible = [], set(), {}, {}
    with postgres.connection() as conn:
        models_by_zone = store.latest_models(conn)
        stored = plan_store.backtest_fingerprints(conn)
        span = conn.execute("SELECT min(time), max(time) FROM timeseries.measurements").fetchone()
        zones = sorted(plan_inputs.latest_zone_days(conn))
        archive = plan_inputs.HourlyArchive.load(conn, span[0], span[1] + timedelta(hours=1)) if span[0] else None
        for site, zone in zones:
            crop = profiles.zone_crop(site, zone, site_config)
            greenhouse = profiles.greenhouse(site, site_config)
            prices = profiles.prices(site, site_config)
            models = models_by_zone.get((site, zone), {})
            energy, energy_label = plan_inputs.energy_parameters(models)
            energy = backtest.rounded_parameters(energy)
            first, last = span[0].date(), span[1].date()
            complete = 0
            for offset in range((last - first).days + 1):
                day = first + timedelta(days=offset)
                climate = plan_inputs.grower_climate(archive, site, zone, day)
                measured = climate and plan_inputs.measured_weather(archive, site, day)
                known = measured and plan_inputs.weather_for(archive, site, day)
                if not known:
                    continue
                complete += 1
                electricity, price_source = plan_inputs.electricity_prices(conn, site, day, site_config)
                forecast = plan_inputs.hourly_day(
                    day,
                    known[0],
                    electricity,
                    models,
                    crop,
                    greenhouse,
                    prices,
                    {"weather": known[1], "electricity": price_source, "energy": energy_label},
                    energy=energy,
                )
                forecast = replace(forecast, **backtest.rounded_parameters({"transmission": forecast.transmission}))
                digest = backtest.fingerprint(climate, measured, forecast, settings, code)
                if stored.get((site, zone, day)) == digest:
                    keep.add((site, zone, day))
                    continue
                row = {
                    "site": site,
                    "zone": zone,
                    "day": day,
                    "price_source": price_source,
                    "weather_source": "; ".join(f"{k}: {v}" for k, v in known[1].items()),
                    "dagster_run_id": context.run_id,
                    "inputs_fingerprint": digest,
                }
                try:
                    row |= backtest.backtest_day(
                        climate,
                        backtest.realised_day(forecast, measured),
                        forecast,
                        pop_size=config.pop_size,
                        generations=config.generations,
                        seed=config.seed,
                    )
                except NoFeasiblePlan as error:
                    infeasible[f"{site}/{zone}/{day}"] = str(error)
                    row |= {
                        "no_plan_reason": str(error),
                        **backtest.score_grower_row(climate, backtest.realised_day(forecast, measured)),
                    }
                rows.append(row)
            if not complete:
                incomplete[f"{site}/{zone}"] = (
                    "no day with all 24 hours of air temperature and lamp status and of "
                    "the site's outdoor temperature and radiation"
                )
        removed = plan_store.update_backtest(conn, rows, keep)
        stored_rows = plan_store.load_backtest(conn)
        audit.record_write(
            conn,
            context,
            catalog.MOGA_BACKTEST,
            rows=len(rows),
            operation="write",
            inputs=[
                lineage.table(t.table)
                for t in (catalog.MOGA_OBJECTIVE_MODELS, catalog.MEASUREMENTS, catalog.SITE_ELECTRICITY_PRICES)
            ],
            details={
                "zones_without_complete_days": incomplete,
                "infeasible_days": infeasible,
                "days_evaluated": len(rows),
                "days_unchanged": len(keep),
                "rows_removed": removed,
            },
        )
    evaluated = len(rows)
    context.log.info(
        f"backtest: {evaluated} day(s) optimised (new or changed inputs), {len(keep)} unchanged, {removed} removed"
    )
    rows = stored_rows
    summary = backtest.summarise(rows)
    low, high = backtest.PUBLISHED_PCT
    median = summary["median_saving_pct"]
    if summary["likely_model_error"]:
        verdict = (
            f"**Likely model error**: a median modelled saving of {median:.0f} % is far beyond the "
            f"{low:g}–{high:g} % DynaLight and DynaGrow measured on these greenhouses; do not read it as a "
            "saving. Check the energy model's status and what heat the grower's temperatures contain."
        )
    elif median is None:
        verdict = "no day on which the plan reached the grower's photosynthesis: no saving to show"
    else:
        verdict = (
            f"median modelled saving {median:.1f} % on {summary['days_equal_or_better']} day(s) at equal or "
            f"better modelled photosynthesis (published: {low:g}–{high:g} %)"
        )
    metadata = {
        "dagster/row_count": len(rows),
        "days": summary["days"],
        "days_no_plan": summary["days_no_plan"],
        "days_evaluated": evaluated,
        "days_unchanged": len(keep),
        "rows_removed": removed,
        "days_equal_or_better": summary["days_equal_or_better"],
        "days_plan_short": summary["days_plan_short"],
        "median_saving_pct": median if median is not None else dg.MetadataValue.null(),
        "likely_model_error": summary["likely_model_error"],
        "verdict": dg.MetadataValue.md(verdict),
        "zones_without_complete_days": dg.MetadataValue.json(incomplete),
        "infeasible_days": dg.MetadataValue.json(infeasible),
    }
    if summary["savings_pct"]:
        png = plan_plot.savings_png(
            summary["savings_pct"], f"modelled savings on {len(summary['savings_pct'])} day(s); median {median:.1f} %"
        )
        plot_uri = plot.write_png(png, lake.store, "moga/backtest_savings.png")
        metadata["savings_chart"] = dg.MetadataValue.md(plot.markdown_image(png).replace("Pareto front", "savings"))
        metadata["plot_uri"] = dg.MetadataValue.url(plot_uri)
    if summary["likely_model_error"]:
        context.log.warning(verdict)
    return dg.MaterializeResult(metadata=metadata)
