"""Backtest: what the grower ran against what the planner would have planned the day before.

For every past UTC day on which a zone's climate is complete (`plan_inputs.grower_climate`) and the
site's weather was measured for all 24 hours, both are scored by the same model
(`hourly.evaluate_climate`) on that day's measured weather and prices:

(a) the grower: the lamp status, air temperature, vent opening and CO2 that were logged;
(b) the plan: made with what was known the day before — the day's forecast series (day-ahead),
    else persistence of the last measured day before it, and the day-ahead spot prices (published
    the day before) — in target mode, the target being the grower's own day scored on that same
    forecast: "reach what the grower reached, at least cost". The plan is then run on the measured
    weather (lit hours, vent opening and CO2 follow the real light and heat load).

Savings are counted only on days the plan reached at least the grower's modelled photosynthesis
(within `EQUAL_TOLERANCE`): a cheaper plan that grows less is not a saving. DynaLight and DynaGrow
reported ≈ 20–25 % electricity savings at equal quality on these greenhouses; a median modelled
saving beyond `FAR_BEYOND_PCT` says the model is wrong somewhere (e.g. the grower's measured
temperatures include heat the model does not know of), not that the planner is brilliant.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from greenhouse_assets.moga.hourly import HourlyDay, evaluate_climate, evaluate_plan
from greenhouse_assets.moga.hourly_optimise import optimise_plan

EQUAL_TOLERANCE = 0.01   # plan photosynthesis ≥ (1 − 1 %) × the grower's counts as equal
PUBLISHED_PCT = (20.0, 25.0)
FAR_BEYOND_PCT = 40.0


def score_grower(climate: dict[str, np.ndarray], day: HourlyDay) -> dict[str, float]:
    result = evaluate_climate(*(np.asarray(climate[k], dtype=float)[None, :]
                                for k in ("lamps", "temperature", "vent_pct", "co2")), day)
    return {k: float(result[k][0]) for k in ("cost", "photosynthesis", "electricity", "lamp_hours")}


def backtest_day(climate: dict[str, np.ndarray], realised: HourlyDay, forecast: HourlyDay, *, pop_size: int,
                 generations: int, seed: int) -> dict[str, float]:
    """The grower's and the plan's modelled cost and photosynthesis on the realised day."""
    actual = score_grower(climate, realised)
    target = score_grower(climate, forecast)["photosynthesis"]
    front = optimise_plan(forecast, pop_size=pop_size, generations=generations, seed=seed)
    chosen, _ = front.pick("target", target)
    plan = evaluate_plan(front.x[chosen:chosen + 1], realised)
    return {"actual_cost_eur_m2": actual["cost"], "actual_photosynthesis_g_m2": actual["photosynthesis"],
            "actual_electricity_kwh_m2": actual["electricity"], "actual_lamp_hours": actual["lamp_hours"],
            "plan_cost_eur_m2": float(plan["cost"][0]), "plan_photosynthesis_g_m2": float(plan["photosynthesis"][0]),
            "plan_electricity_kwh_m2": float(plan["electricity"][0]), "plan_lamp_hours": float(plan["lamp_hours"][0])}


def realised_day(forecast: HourlyDay, weather: dict[str, np.ndarray]) -> HourlyDay:
    return replace(forecast, outdoor_temperature_c=np.asarray(weather["outdoor_temperature"], dtype=float),
                   radiation_w_m2=np.asarray(weather["radiation"], dtype=float))


def summarise(rows: list[dict]) -> dict:
    """The backtest's figures from its stored rows alone (the test recomputes them from moga.backtest)."""
    equal = [r for r in rows if r["plan_photosynthesis_g_m2"] >= (1 - EQUAL_TOLERANCE) * r["actual_photosynthesis_g_m2"]]
    savings = np.array([100.0 * (r["actual_cost_eur_m2"] - r["plan_cost_eur_m2"]) / r["actual_cost_eur_m2"]
                        for r in equal if r["actual_cost_eur_m2"] > 0])
    median = float(np.median(savings)) if len(savings) else None
    return {
        "days": len(rows), "days_equal_or_better": len(equal), "days_plan_short": len(rows) - len(equal),
        "savings_pct": savings.round(3).tolist(), "median_saving_pct": median,
        "likely_model_error": median is not None and median > FAR_BEYOND_PCT,
    }

