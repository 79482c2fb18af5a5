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
its interval is not available and why. Cost moves with the energy parameters, photosynthesis with
the transmission: without a validated light model the photosynthesis interval is not available. The plans of the front are re-evaluated under every parameter set (no
re-optimisation: the band shows how far the same plans' cost and photosynthesis move), giving a band
of fronts and the recommended plan's 5–95 % interval.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from greenhouse_assets.moga.hourly import HourlyDay, evaluate_plan
from greenhouse_assets.moga.physics import PAR_MOL_PER_MJ_GLOBAL

W_M2_PER_MJ_DAY = 277.8  # 1 MJ m⁻² d⁻¹ of radiation as W m⁻²·h summed over the day / 3.6, as calibration uses
QUANTILES = (0.05, 0.95)


def parameter_resamples(days: pl.DataFrame, *, k_pipe_w_m2k: float, lamp_power_w_m2: float, energy: bool,
                        light: bool, resamples: int, seed: int) -> list[dict]:
    """Bootstrap parameter sets over ISO-week blocks: {u_value_w_m2k, solar_gain_fraction, baseline_kwh_m2} when
    `energy`, {transmission} when `light`, both from the same drawn weeks; [] with fewer than two weeks."""
    frame = days.drop_nulls(["air_temperature_mean", "outdoor_temperature_mean", "radiation_sum_mj_m2"]).with_columns(
        (pl.col("day").dt.year() * 100 + pl.col("day").dt.week()).alias("block"),
        ((pl.col("air_temperature_mean") - pl.col("outdoor_temperature_mean")) * 24).alias("degree_hours"),
        (pl.col("heating_degree_hours") + pl.col("lamp_on_hours").fill_null(0.0) * lamp_power_w_m2 / k_pipe_w_m2k)
        .alias("heat_demand_kh"))
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
            parameters |= {"u_value_w_m2k": float(a * k_pipe_w_m2k),
                           "solar_gain_fraction": float(b * k_pipe_w_m2k / W_M2_PER_MJ_DAY),
                           "baseline_kwh_m2": float(max(c, 0.0) * k_pipe_w_m2k / 1000.0)}
        if light:
            lit = sample.drop_nulls("dli_mol_m2")
            if "dli_from_par" in lit.columns and lit["dli_from_par"].any():
                lit = lit.filter(pl.col("dli_from_par"))
            design = np.column_stack([lit["radiation_sum_mj_m2"] * PAR_MOL_PER_MJ_GLOBAL,
                                      lit["lamp_on_hours"].fill_null(0.0) * 0.0036])
            (transmission, _), *_ = np.linalg.lstsq(design, lit["dli_mol_m2"].to_numpy(), rcond=None)
            parameters["transmission"] = float(transmission)
        sets.append(parameters)
    return sets


def band(front_x: np.ndarray, chosen: int, day: HourlyDay, parameter_sets: list[dict]) -> dict | None:
    """The front re-evaluated under each parameter set, and the chosen plan's interval; None without sets."""
    if not parameter_sets:
        return None
    costs, photosynthesis = [], []
    for parameters in parameter_sets:
        evaluated = evaluate_plan(front_x, replace(day, **parameters))
        costs.append(evaluated["cost"])
        photosynthesis.append(evaluated["photosynthesis"])
    costs, photosynthesis = np.array(costs), np.array(photosynthesis)              # (sets, front)
    low, high = QUANTILES
    return {
        "resamples": len(parameter_sets),
        "cost_interval": [float(np.quantile(costs[:, chosen], low)), float(np.quantile(costs[:, chosen], high))],
        "photosynthesis_interval": [float(np.quantile(photosynthesis[:, chosen], low)),
                                    float(np.quantile(photosynthesis[:, chosen], high))],
        "front_cost_low": np.quantile(costs, low, axis=0).round(5).tolist(),
        "front_cost_high": np.quantile(costs, high, axis=0).round(5).tolist(),
        "parameters": {k: [float(np.quantile([p[k] for p in parameter_sets], q)) for q in QUANTILES]
                       for k in parameter_sets[0]},
    }
