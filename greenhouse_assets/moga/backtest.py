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

Incremental: each row carries the fingerprint of everything it was computed from (`fingerprint`): the
day's forecast and measured weather, prices, the grower's climate, crop limits, the energy and light
parameters (rounded to `PARAMETER_DIGITS` significant digits, far inside their bootstrap band, so a
refit that barely moves them does not re-run the archive), the optimiser settings and the source of
the modules that score and optimise. A day whose fingerprint is unchanged is not optimised again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from greenhouse_assets.moga.hourly import HourlyDay, evaluate_climate, evaluate_plan
from greenhouse_assets.moga.hourly_optimise import optimise_plan

EQUAL_TOLERANCE = 0.01  # plan photosynthesis ≥ (1 − 1 %) × the grower's counts as equal
PUBLISHED_PCT = (20.0, 25.0)
FAR_BEYOND_PCT = 40.0
PARAMETER_DIGITS = 3
SCORING_MODULES = ("hourly", "hourly_optimise", "backtest", "physics", "problem", "optimise")


def code_digest() -> str:
    """sha256 of the modules that score and optimise a day: a change of the model re-runs the backtest."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in SCORING_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


def rounded_parameters(values: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{float(v):.{PARAMETER_DIGITS}g}") for k, v in values.items()}


def fingerprint(climate: dict, measured: dict[str, np.ndarray], forecast: HourlyDay, settings: dict, code: str) -> str:
    """sha256 of a backtest row's inputs (arrays rounded to 4 decimals, as `HourlyDay.as_dict`)."""

    def plain(value):
        if isinstance(value, np.ndarray):
            return value.round(4).tolist()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in sorted(value.items())}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    payload = {
        "forecast": forecast.as_dict(),
        "measured": plain(measured),
        "climate": plain(climate),
        "settings": plain(settings),
        "code": code,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def score_grower(climate: dict[str, np.ndarray], day: HourlyDay) -> dict[str, float]:
    result = evaluate_climate(
        *(np.asarray(climate[k], dtype=float)[None, :] for k in ("lamps", "temperature", "vent_pct", "co2")), day
    )
    return {k: float(result[k][0]) for k in ("cost", "photosynthesis", "electricity", "lamp_hours")}


def score_grower_row(climate: dict[str, np.ndarray], realised: HourlyDay) -> dict[str, float]:
    """The grower's columns of a backtest row (also on a day without a feasible plan)."""
    actual = score_grower(climate, realised)
    return {
        "actual_cost_eur_m2": actual["cost"],
        "actual_photosynthesis_g_m2": actual["photosynthesis"],
        "actual_electricity_kwh_m2": actual["electricity"],
        "actual_lamp_hours": actual["lamp_hours"],
    }


def backtest_day(
    climate: dict[str, np.ndarray],
    realised: HourlyDay,
    forecast: HourlyDay,
    *,
    pop_size: int,
    generations: int,
    seed: int,
) -> dict[str, float]:
    """The grower's and the plan's modelled cost and photosynthesis on the realised day."""
    target = score_grower(climate, forecast)["photosynthesis"]
    front = optimise_plan(forecast, pop_size=pop_size, generations=generations, seed=seed)
    chosen, _ = front.pick("target", target)
    plan = evaluate_plan(front.x[chosen : chosen + 1], realised)
    return {
        **score_grower_row(climate, realised),
        "plan_cost_eur_m2": float(plan["cost"][0]),
        "plan_photosynthesis_g_m2": float(plan["photosynthesis"][0]),
        "plan_electricity_kwh_m2": float(plan["electricity"][0]),
        "plan_lamp_hours": float(plan["lamp_hours"][0]),
    }


def realised_day(forecast: HourlyDay, weather: dict[str, np.ndarray]) -> HourlyDay:
    return replace(
        forecast,
        outdoor_temperature_c=np.asarray(weather["outdoor_temperature"], dtype=float),
        radiation_w_m2=np.asarray(weather["radiation"], dtype=float),
    )


def summarise(rows: list[dict]) -> dict:
    """The backtest's figures from its stored rows alone (the test recomputes them from moga.backtest). Rows
    without a plan (no feasible plan that day, `no_plan_reason`) are counted apart."""
    no_plan = [r for r in rows if r.get("plan_cost_eur_m2") is None]
    rows = [r for r in rows if r.get("plan_cost_eur_m2") is not None]
    equal = [
        r for r in rows if r["plan_photosynthesis_g_m2"] >= (1 - EQUAL_TOLERANCE) * r["actual_photosynthesis_g_m2"]
    ]
    savings = np.array(
        [
            100.0 * (r["actual_cost_eur_m2"] - r["plan_cost_eur_m2"]) / r["actual_cost_eur_m2"]
            for r in equal
            if r["actual_cost_eur_m2"] > 0
        ]
    )
    median = float(np.median(savings)) if len(savings) else None
    return {
        "days": len(rows),
        "days_no_plan": len(no_plan),
        "days_equal_or_better": len(equal),
        "days_plan_short": len(rows) - len(equal),
        "savings_pct": savings.round(3).tolist(),
        "median_saving_pct": median,
        "likely_model_error": median is not None and median > FAR_BEYOND_PCT,
    }
