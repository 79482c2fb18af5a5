"""Fit the objective models' free parameters to a zone's own days, and validate on held-out days.

Two linear fits (scikit-learn, coefficients constrained ≥ 0 so they stay physical):

Heating, against the pipe proxy `heating_degree_hours` (HDH = Σ max(pipe − air, 0)·h). The heat
a pipe rail gives is k_pipe·HDH (Wh m⁻²) with k_pipe = 2 W m⁻² K⁻¹ (51 mm rail pipes, ~1.5 m
of pipe per m² floor — an assumption: no heat meter is logged). The balance
k_pipe·HDH = U·(T_air − T_out)·24 − η·R·10⁶/3600 + baseline gives
    HDH = a·DH − b·R + c,   U = a·k_pipe,   η = b·k_pipe/277.8,   baseline = c·k_pipe/1000 kWh m⁻².
The intercept is the minimum-pipe heat growers run for humidity control whatever the weather.

Light, against the measured inside DLI (`dli_mol_m2`, from PAR):
    DLI = τ·2.15·R + PPFD_lamp·lamp_on_hours·0.0036
giving the greenhouse's PAR transmission τ (which turns the radiation forecast into the
natural-DLI forecast the growth model needs) and the installed lamp PPFD, so the lamp electricity
(installed power = PPFD_lamp / efficacy) is anchored to the lamps actually logged. Lamp
efficacy itself is not measurable without power meters: 1.8 µmol J⁻¹ (HPS, as in 2014-era
Danish greenhouses).

Held-out days: every fourth day of the zone (by calendar day, never random rows), so training
and test both span the seasons in the data. R² and MAE are on those days. A zone with fewer
than `min_days` usable days keeps literature parameters and no score (reported, not hidden).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score

from greenhouse_assets.moga import physics

K_PIPE_W_M2K = 2.0
LAMP_EFFICACY_UMOL_J = 1.8
LITERATURE = {"u_value_w_m2k": 7.0, "solar_gain_fraction": 0.4, "baseline_kwh_m2": 0.0, "transmission": 0.65}
HOLDOUT_EVERY = 4


@dataclass(frozen=True)
class Fit:
    coefficients: tuple[float, ...]
    intercept: float
    r2: float | None
    mae: float | None
    n_train: int
    n_test: int


@dataclass(frozen=True)
class ObjectiveModel:
    """One row of moga.objective_models."""

    site: str
    zone: str
    objective: str
    kind: str
    parameters: dict
    fit: Fit | None
    data_version: str
    model_version: str = field(init=False)

    def __post_init__(self):
        digest = hashlib.sha256(json.dumps([self.kind, self.parameters, self.data_version], sort_keys=True).encode())
        object.__setattr__(self, "model_version", f"{self.objective}:{self.site}:{self.zone}:{digest.hexdigest()[:12]}")


def fit_by_day(days: pl.DataFrame, columns: list[str], target: str, *, intercept: bool, min_days: int) -> Fit | None:
    """Non-negative least squares on training days, scored on every HOLDOUT_EVERY-th day."""
    usable = days.drop_nulls([*columns, target]).sort("day")
    if usable.height < min_days:
        return None
    x, y = usable.select(columns).to_numpy(), usable[target].to_numpy()
    test = np.arange(usable.height) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    model = LinearRegression(positive=True, fit_intercept=intercept).fit(x[~test], y[~test])
    predicted = model.predict(x[test])
    return Fit(tuple(float(c) for c in model.coef_), float(model.intercept_), float(r2_score(y[test], predicted)),
               float(mean_absolute_error(y[test], predicted)), int((~test).sum()), int(test.sum()))


def calibrate_zone(site: str, zone: str, days: pl.DataFrame, data_version: str, *, min_days: int) -> list[ObjectiveModel]:
    """The energy and growth models of one zone, from that zone's days only."""
    days = days.with_columns(
        ((pl.col("air_temperature_mean") - pl.col("outdoor_temperature_mean")) * 24).alias("degree_hours"),
        (-pl.col("radiation_sum_mj_m2")).alias("minus_radiation"),
        (pl.col("radiation_sum_mj_m2") * physics.PAR_MOL_PER_MJ_GLOBAL).alias("outside_par_mol"),
        (pl.col("lamp_on_hours").fill_null(0.0) * 0.0036).alias("lamp_mol_per_ppfd"),
    )
    heating = fit_by_day(days, ["degree_hours", "minus_radiation"], "heating_degree_hours", intercept=True, min_days=min_days)
    light = fit_by_day(days, ["outside_par_mol", "lamp_mol_per_ppfd"], "dli_mol_m2", intercept=False, min_days=min_days)
    installed_ppfd = light.coefficients[1] if light and light.coefficients[1] > 0 else None
    energy = {
        **({"u_value_w_m2k": heating.coefficients[0] * K_PIPE_W_M2K,
            "solar_gain_fraction": heating.coefficients[1] * K_PIPE_W_M2K / 277.8,
            "baseline_kwh_m2": max(heating.intercept, 0.0) * K_PIPE_W_M2K / 1000,
            "hdh_intercept_kh": heating.intercept} if heating else
           {k: LITERATURE[k] for k in ("u_value_w_m2k", "solar_gain_fraction", "baseline_kwh_m2")}),
        "k_pipe_w_m2k": K_PIPE_W_M2K,
        "lamp_efficacy_umol_j": LAMP_EFFICACY_UMOL_J,
        "installed_lamp_ppfd": installed_ppfd,
        "installed_lamp_power_w_m2": installed_ppfd / LAMP_EFFICACY_UMOL_J if installed_ppfd else None,
        "calibrated": heating is not None,
        "target": "heating_degree_hours",
        "holdout": f"every {HOLDOUT_EVERY}th day",
    }
    growth = {
        "transmission": light.coefficients[0] if light else LITERATURE["transmission"],
        "tau": physics.TAU, "quantum_efficiency": physics.QE, "extinction": physics.K_EXT, "leaf_transmission": physics.M_LEAF,
        "lai": physics.LAI, "cardinal_temperatures_c": [physics.T_MIN, physics.T_OPT, physics.T_MAX],
        "calibrated": light is not None,
        "target": "dli_mol_m2",
        "holdout": f"every {HOLDOUT_EVERY}th day",
    }
    return [
        ObjectiveModel(site, zone, "energy", "heat-balance" if heating else "heat-balance/literature", energy, heating, data_version),
        ObjectiveModel(site, zone, "growth", "tomgro-canopy" if light else "tomgro-canopy/literature", growth, light, data_version),
    ]


def persistence_forecast(days: pl.DataFrame, horizon: object, window: int = 7) -> dict | None:
    """Outdoor temperature and radiation for the horizon day: mean of the last `window` days before it.

    Persistence of a week's mean is the honest baseline without a weather-forecast feed; the
    forecast values are stored with every run so a better feed can be compared later. None when
    the zone's site has no outdoor temperature or radiation at all.
    """
    recent = days.filter(pl.col("day") < horizon).drop_nulls(["outdoor_temperature_mean", "radiation_sum_mj_m2"])
    if recent.is_empty():
        recent = days.drop_nulls(["outdoor_temperature_mean", "radiation_sum_mj_m2"])
    if recent.is_empty():
        return None
    recent = recent.sort("day").tail(window)
    return {
        "outdoor_temperature_c": float(recent["outdoor_temperature_mean"].mean()),
        "radiation_sum_mj_m2": float(recent["radiation_sum_mj_m2"].mean()),
        "days": [str(d) for d in recent["day"]],
    }
