"""Parameter uncertainty: the energy model refitted on weekly-block bootstrap resamples of the zone's days.

Days within a week share weather and crop state, so resampling single days would understate the
spread; whole ISO weeks are drawn with replacement (a moving-block bootstrap with the blocks the
cross-validation already uses). Each resample is fitted as `calibration.energy_model` fits: heat
demand (pipe degree-hours + lamp heat in pipe degree-hours) = a·degree-hours + b·(−radiation) + c by
least squares, then U = a·k_pipe, solar gain = b·k_pipe / 277.8, baseline = max(c, 0)·k_pipe / 1000.

Only a validated energy model is bootstrapped: a rejected fit has no parameters worth a band, and
the literature values it falls back to carry no sample to resample; the plan then says its interval
is not available and why. The plans of the front are re-evaluated under every parameter set (no
re-optimisation: the band shows how far the same plans' cost and photosynthesis move), giving a band
of fronts and the recommended plan's 5–95 % interval.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from greenhouse_assets.moga.hourly import HourlyDay, evaluate_plan

W_M2_PER_MJ_DAY = 277.8  # 1 MJ m⁻² d⁻¹ of radiation as W m⁻²·h summed over the day / 3.6, as calibration uses
QUANTILES = (0.05, 0.95)


def energy_resamples(days: pl.DataFrame, *, k_pipe_w_m2k: float, lamp_power_w_m2: float, resamples: int,
                     seed: int) -> list[dict]:
    """Bootstrap parameter sets {u_value_w_m2k, solar_gain_fraction, baseline_kwh_m2} over ISO-week blocks."""
    frame = days.drop_nulls(["heating_degree_hours", "air_temperature_mean", "outdoor_temperature_mean",
                             "radiation_sum_mj_m2"]).with_columns(
        (pl.col("day").dt.year() * 100 + pl.col("day").dt.week()).alias("block"),
        ((pl.col("air_temperature_mean") - pl.col("outdoor_temperature_mean")) * 24).alias("degree_hours"),
        (pl.col("heating_degree_hours") + pl.col("lamp_on_hours").fill_null(0.0) * lamp_power_w_m2 / k_pipe_w_m2k)
        .alias("heat_demand_kh"))
    blocks = frame["block"].unique().sort().to_list()
    if len(blocks) < 2:
        return []
    by_block = {b: frame.filter(pl.col("block") == b) for b in blocks}
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(resamples):
        sample = pl.concat([by_block[b] for b in rng.choice(blocks, size=len(blocks), replace=True)])
        design = np.column_stack([sample["degree_hours"], -sample["radiation_sum_mj_m2"], np.ones(sample.height)])
        (a, b, c), *_ = np.linalg.lstsq(design, sample["heat_demand_kh"].to_numpy(), rcond=None)
        sets.append({"u_value_w_m2k": float(a * k_pipe_w_m2k),
                     "solar_gain_fraction": float(b * k_pipe_w_m2k / W_M2_PER_MJ_DAY),
                     "baseline_kwh_m2": float(max(c, 0.0) * k_pipe_w_m2k / 1000.0)})
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
