"""Parameter uncertainty: the energy and light models refitted on weekly-block bootstrap resamples of the zone's days.

Days within a week share weather and crop state, so resampling single days would understate the
spread; whole ISO weeks are drawn with replacement (a moving-block bootstrap with the blocks the
cross-validation already uses). Each resample is fitted as `calibration.energy_model` fits: heat
demand (pipe degree-hours + lamp heat in pipe degree-hours) = a·degree-hours + b·(−radiation) + c by
least squares, then U = a·k_pipe, solar gain = b·k_pipe / 277.8, baseline = max(c, 0)·k_pipe / 1000;
and as `calibration.light_model` fits: DLI = transmission·outside PAR + PPFD·lamp hours·0.0036 (no
intercept, days with measured PAR when there are any).

Only validated models are bootstrapped: a rejected fit has no parameters worth a band, and the
literature or configured values it falls back to carry no sample to resample; the plan then says
its interval then rests on the weather error alone, or is not available, and says why.

`band` re-evaluates the plans of the front (no re-optimisation: the band shows how far the same plans'
cost and photosynthesis move) under draws that pair one parameter set with one past weather error per
variable (`weather_error`: forecast or persistence error, whichever the plan's weather is), giving a
band of fronts and the recommended plan's 5–95 % interval. Cost moves with the energy parameters and
the weather, photosynthesis with the transmission and the weather.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from greenhouse_assets.moga.hourly import HourlyDay, evaluate_plan
from greenhouse_assets.moga.physics import PAR_MOL_PER_MJ_GLOBAL
from greenhouse_assets.moga.weather_error import perturbed

W_M2_PER_MJ_DAY = 277.8  # 1 MJ m⁻² d⁻¹ of radiation as W m⁻²·h summed over the day / 3.6, as calibration uses
QUANTILES = (0.05, 0.95)


def parameter_resamples(
    days: pl.DataFrame,
    *,
    k_pipe_w_m2k: float,
    lamp_power_w_m2: float,
    energy: bool,
    light: bool,
    resamples: int,
    seed: int,
) -> list[dict]:
    """Bootstrap parameter sets over ISO-week blocks: {u_value_w_m2k, solar_gain_fraction, baseline_kwh_m2} when
    `energy`, {transmission} when `light`, both from the same drawn weeks; [] with fewer than two weeks."""
    frame = days.drop_nulls(["air_temperature_mean", "outdoor_temperature_mean", "radiation_sum_mj_m2"]).with_columns(
        (pl.col("day").dt.year() * 100 + pl.col("day").dt.week()).alias("block"),
        ((pl.col("air_temperature_mean") - pl.col("outdoor_temperature_mean")) * 24).alias("degree_hours"),
        (
            pl.col("heating_degree_hours") + pl.col("lamp_on_hours").fill_null(0.0) * lamp_power_w_m2 / k_pipe_w_m2k
        ).alias("heat_demand_kh"),
    )
    blocks = frame["block"].unique().sort().to_list()
    if len(blocks) < 2 or not (energy or light):
        return []
    by_block = {b: frame.filter(pl.col("block") == b) for b in blocks}
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(resamples):
        sample = pl.concat([by_block[b] for b in rng.choice(blocks, size=len(blocks), replace=True)])
        parameters = {}
        if energy:
            heat = sample.drop_nulls("heat_demand_kh")
            design = np.column_stack([heat["degree_hours"], -heat["radiation_sum_mj_m2"], np.ones(heat.height)])
            (a, b, c), *_ = np.linalg.lstsq(design, heat["heat_demand_kh"].to_numpy(), rcond=None)
            parameters |= {
                "u_value_w_m2k": float(a * k_pipe_w_m2k),
                "solar_gain_fraction": float(b * k_pipe_w_m2k / W_M2_PER_MJ_DAY),
                "baseline_kwh_m2": float(max(c, 0.0) * k_pipe_w_m2k / 1000.0),
            }
        if light:
            lit = sample.drop_nulls("dli_mol_m2")
            if "dli_from_par" in lit.columns and lit["dli_from_par"].any():
                lit = lit.filter(pl.col("dli_from_par"))
            design = np.column_stack(
                [lit["radiation_sum_mj_m2"] * PAR_MOL_PER_MJ_GLOBAL, lit["lamp_on_hours"].fill_null(0.0) * 0.0036]
            )
            (transmission, _), *_ = np.linalg.lstsq(design, lit["dli_mol_m2"].to_numpy(), rcond=None)
            parameters["transmission"] = float(transmission)
        sets.append(parameters)
    return sets


def band(
    front_x: np.ndarray,
    chosen: int,
    day: HourlyDay,
    parameter_sets: list[dict],
    weather_errors: dict[str, list[float]] | None = None,
    *,
    draws: int = 50,
    seed: int = 0,
) -> dict | None:
    """The front re-evaluated under each draw (a parameter set and a past error per weather variable), and the
    chosen plan's interval; None with neither parameter sets nor weather errors. With parameter sets there is
    one draw per set, so zero weather errors give exactly the parameter band."""
    weather_errors = {k: v for k, v in (weather_errors or {}).items() if v}
    if not parameter_sets and not weather_errors:
        return None
    rng = np.random.default_rng(seed)
    n = len(parameter_sets) if parameter_sets else draws
    if n == 0:
        return None
    costs, photosynthesis = [], []
    for i in range(n):
        drawn = replace(day, **(parameter_sets[i] if parameter_sets else {}))
        errors = {k: float(rng.choice(v)) for k, v in sorted(weather_errors.items())}
        drawn = perturbed(drawn, errors.get("outdoor_temperature", 0.0), errors.get("radiation", 0.0))
        evaluated = evaluate_plan(front_x, drawn)
        costs.append(evaluated["cost"])
        photosynthesis.append(evaluated["photosynthesis"])
    costs, photosynthesis = np.array(costs), np.array(photosynthesis)  # (draws, front)
    low, high = QUANTILES
    return {
        "resamples": len(parameter_sets),
        "draws": n,
        "weather_errors": sorted(weather_errors),
        "cost_interval": [float(np.quantile(costs[:, chosen], low)), float(np.quantile(costs[:, chosen], high))],
        "photosynthesis_interval": [
            float(np.quantile(photosynthesis[:, chosen], low)),
            float(np.quantile(photosynthesis[:, chosen], high)),
        ],
        "front_cost_low": np.quantile(costs, low, axis=0).round(5).tolist(),
        "front_cost_high": np.quantile(costs, high, axis=0).round(5).tolist(),
        "parameters": {
            k: [float(np.quantile([p[k] for p in parameter_sets], q)) for q in QUANTILES]
            for k in (parameter_sets[0] if parameter_sets else {})
        },
    }


def covered(
    energy: bool, light: bool, resamples: int, weather: dict[str, str], weather_errors: dict[str, list[float]]
) -> dict[str, list[str]]:
    """{"cost": [...], "photosynthesis": [...], "not covered": [...]}: the sources of uncertainty each interval
    covers (an empty list: no interval), and what is left out."""
    parameters = {
        "cost": f"energy parameters ({resamples} weekly-block resamples)" if energy and resamples else None,
        "photosynthesis": f"transmission ({resamples} weekly-block resamples)" if light and resamples else None,
    }
    errors = [weather[v] for v in sorted(weather_errors) if weather_errors[v]]
    result = {k: [*([v] if v else []), *errors] for k, v in parameters.items()}
    result["not covered"] = [
        *(["energy parameters (energy model not validated)"] if not energy else []),
        *(["transmission (light model not validated)"] if not light else []),
        *(text for v, text in sorted(weather.items()) if not weather_errors.get(v)),
        "the models' structure",
        "how closely the climate computer follows the plan",
    ]
    return result


def describe(sources: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v) if v else 'no interval'}" for k, v in sources.items())
