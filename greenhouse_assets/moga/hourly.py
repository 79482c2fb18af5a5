"""The day-ahead plan hour by hour: 29 decision variables → (cost, −photosynthesis), vectorised.

Decision variables (one plan per row of x):
    lamp_00 … lamp_23   lamp level per UTC hour, 0…1 of the installed PPFD; on/off lamps (HPS, the
                        default) burn when the level is ≥ 0.5, dimmable ones at the level
    heating_day, heating_night   heating setpoint in lit and in dark hours, °C (crop profile bounds)
    ventilation_limit   the largest vent opening the climate computer may use, %
    co2_lit, co2_dark   CO2 setpoint by light state, ppm

Photoperiod, including daylight: an hour is lit when natural light or lamps give at least
`LIT_PPFD` at the crop. A short-day crop (Kalanchoe: flower induction needs long unbroken nights)
gets a light window of `max_light_period_h` hours centred on solar noon: the blackout screen shuts
out daylight outside it and lamps outside it are switched off (a lamp hour in the night would
break the night and keep the crop vegetative), so its light period can never exceed the limit. A
long-day crop may have its lamps in any hour (so in the cheap night hours), and a constraint holds
its lit hours to the limit (or to the natural day length, when that is already longer).

Per hour, with the measured or forecast outdoor temperature and radiation of that hour, the same
physics as the daily problem (`greenhouse_assets.moga.problem`, whose docstring derives it): heat
balance with the calibrated U-value and solar gain, lamp electricity as heat counted once, the
vents shut until sun and lamps would warm the air past the heating setpoint + `VENT_OFFSET_C` and
then open just enough to hold that, up to the ventilation limit (`vent_opening`), transpiration
leaving by air exchange (latent heat) and by condensation at a held humidity of `HUMIDITY_PCT`,
CO2 dosed against the air exchange up to the dosing capacity, canopy gross photosynthesis
(`physics.canopy_gross_photosynthesis`, TOMGRO parameters with PGRED(T)).

The heating setpoint is a floor, not the temperature: in an hour whose sun and lamps bring more heat
than the house loses at the setpoint with the vents at the plan's opening, the air floats above it
(`floating_temperature`) and needs no heat; photosynthesis (PGRED) sees that temperature.

Objectives: cost, EUR m⁻² floor: Σ_h heat_h × heat price + lamp kWh_h × electricity price_h +
CO2 kg_h × CO2 price, the electricity price per hour (spot + grid tariff, or the flat price when no
spot price is known); and the day's gross canopy photosynthesis, g CH2O m⁻² (maximised, stored
negative; gross, as DynaLight's daily photosynthesis sum: maintenance respiration is not in the
hourly objective). Constraints (≤ 0): DLI within the crop's range (relaxed to what is reachable / natural),
lit hours ≤ the light period, and overheating: the warmest hour may float at most
`OVERHEAT_MARGIN_C` above the crop's highest day temperature (or, within `VENT_TOLERANCE_C`, as little above it as fully open
vents with the lamps off allow, on a day when even that is warmer), which is what the ventilation
limit is for.

`evaluate_climate` takes an hourly climate directly (lamp level, temperature, vent opening and
CO2 per hour), so the backtest scores what the grower actually ran with the same model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np

from greenhouse_assets.moga import physics
from greenhouse_assets.moga.problem import (
    ACH_VENT_MAX,
    CO2_CAPACITY_G_M2_H,
    CO2_G_M3_PER_PPM,
    CO2_OUTSIDE,
    CO2_PER_CH2O,
    HEIGHT_M,
    OUTDOOR_RH,
    TRANSPIRATION_SHARE,
)

HOURS = 24
HEAT_DAY, HEAT_NIGHT, VENT, CO2_LIT, CO2_DARK = range(HOURS, HOURS + 5)
VARIABLES = (
    *(f"lamp_{h:02d}" for h in range(HOURS)),
    "heating_day",
    "heating_night",
    "ventilation_limit",
    "co2_lit",
    "co2_dark",
)
CONSTRAINTS = ("dli_min", "dli_max", "photoperiod", "overheating")
LIT_PPFD = 1.0  # µmol m⁻² s⁻¹ at the crop: below it an hour counts as dark
HUMIDITY_PCT = 80.0  # held relative humidity (not a decision of the hourly plan)
CO2_MAX_PPM = 1000.0
LONGITUDE_DEG = 10.2  # Danish sites (Hinnerup 10.1 °E, Årslev 10.5 °E): solar noon ≈ 11:19 UTC
ON_OFF_THRESHOLD = 0.5
VENT_OFFSET_C = 2.0  # vents start to open this far above the heating setpoint (a usual climate-computer offset)
OVERHEAT_MARGIN_C = 3.0  # the warmest hour may float this far above the crop's highest day temperature
# On a day hotter than that even with the vents fully open, a plan whose vent limit is 99.9 % rather than
# 100 % would otherwise be infeasible by a few thousandths of a degree (the optimiser seldom draws the bound).
VENT_TOLERANCE_C = 0.05


def solar_noon_utc(longitude_deg: float = LONGITUDE_DEG) -> float:
    """Hour of solar noon in UTC (the equation of time, ±16 min, is ignored)."""
    return 12.0 - longitude_deg / 15.0


@dataclass(frozen=True)
class HourlyDay:
    """Everything one zone-day's hourly evaluation needs; arrays are the 24 UTC hours."""

    day: date
    outdoor_temperature_c: np.ndarray
    radiation_w_m2: np.ndarray
    electricity_eur_per_kwh: np.ndarray
    u_value_w_m2k: float
    solar_gain_fraction: float
    baseline_kwh_m2: float
    lamp_efficacy_umol_j: float
    installed_lamp_ppfd: float
    transmission: float
    heat_eur_per_kwh: float
    co2_eur_per_kg: float
    max_light_period_h: float
    short_day: bool
    dli_min_mol_m2: float
    dli_max_mol_m2: float
    heating_day_bounds: tuple[float, float]
    heating_night_bounds: tuple[float, float]
    infiltration_ach: float = 1.0
    lamp_dimmable: bool = False
    sources: dict = field(default_factory=dict)

    def natural_ppfd(self) -> np.ndarray:
        """(24,) daylight at the crop, µmol m⁻² s⁻¹ (PAR share of global radiation × transmission);
        a short-day crop's blackout screen shuts it out outside the light window."""
        natural = self.transmission * physics.PAR_MOL_PER_MJ_GLOBAL * np.maximum(self.radiation_w_m2, 0.0)
        return natural * self.lamp_window() if self.short_day else natural

    def lamp_window(self) -> np.ndarray:
        """(24,) bool: hours lamps may burn. Short-day: the light window centred on solar noon; else all."""
        if not self.short_day:
            return np.ones(HOURS, dtype=bool)
        return np.abs(np.arange(HOURS) + 0.5 - solar_noon_utc()) <= self.max_light_period_h / 2.0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lower = np.concatenate(
            [np.zeros(HOURS), [self.heating_day_bounds[0], self.heating_night_bounds[0], 0.0, CO2_OUTSIDE, CO2_OUTSIDE]]
        )
        upper = np.concatenate(
            [
                self.lamp_window().astype(float),
                [self.heating_day_bounds[1], self.heating_night_bounds[1], 100.0, CO2_MAX_PPM, CO2_MAX_PPM],
            ]
        )
        return lower, upper

    def as_dict(self) -> dict:
        values = asdict(self)
        return {
            k: (v.round(4).tolist() if isinstance(v, np.ndarray) else str(v) if isinstance(v, date) else v)
            for k, v in values.items()
        }


def lamp_levels(x: np.ndarray, day: HourlyDay) -> np.ndarray:
    """(n, 24) lamp level actually burnt: on/off lamps switch at 0.5; never outside the lamp window."""
    levels = np.clip(x[:, :HOURS], 0.0, 1.0)
    if not day.lamp_dimmable:
        levels = (levels >= ON_OFF_THRESHOLD).astype(float)
    return levels * day.lamp_window()[None, :]


def climate_of_plan(x: np.ndarray, day: HourlyDay) -> dict[str, np.ndarray]:
    """The hourly climate a plan asks for: lamp level, temperature, vent opening and CO2 per hour, (n, 24)."""
    x = np.atleast_2d(x)
    lamps = lamp_levels(x, day)
    lit = (day.natural_ppfd()[None, :] + lamps * day.installed_lamp_ppfd) >= LIT_PPFD
    setpoint = np.where(lit, x[:, HEAT_DAY, None], x[:, HEAT_NIGHT, None])
    gain = _gain(lamps, day)
    vent_pct = vent_opening(setpoint + VENT_OFFSET_C, gain, x[:, VENT, None], day)
    return {
        "lamps": lamps,
        "setpoint": setpoint,
        "temperature": floating_temperature(setpoint, gain, vent_pct, day),
        "vent_pct": vent_pct,
        "co2": np.where(lit, x[:, CO2_LIT, None], x[:, CO2_DARK, None]),
        "lit": lit,
    }


def vent_opening(vent_temperature: np.ndarray, gain: np.ndarray, limit, day: HourlyDay) -> np.ndarray:
    """Vent opening, %, as a climate computer sets it: shut until sun and lamps would warm the air past the
    ventilation temperature (heating setpoint + `VENT_OFFSET_C`), then just open enough to hold it, never
    beyond the plan's limit. Sensible heat only."""
    per_pct = physics.RHO_CP * HEIGHT_M * ACH_VENT_MAX / 100.0 / 3600.0  # W m⁻² K⁻¹ per %
    gap = vent_temperature - day.outdoor_temperature_c[None, :]
    needed = np.divide(gain - day.u_value_w_m2k * gap, per_pct * gap, out=np.full_like(gain, np.inf), where=gap > 0)
    return np.clip(needed, 0.0, limit)


def floating_temperature(setpoint: np.ndarray, gain: np.ndarray, vent_pct: np.ndarray, day: HourlyDay) -> np.ndarray:
    """The air temperature an hour reaches: the heating setpoint, or above it when sun and lamps bring more
    heat than the cover and the open vents lose at the setpoint (the house floats; no cooling but vents).
    Sensible heat only: the latent heat of vented water is left out of this estimate."""
    conductance = day.u_value_w_m2k + physics.RHO_CP * HEIGHT_M * ACH_VENT_MAX * vent_pct / 100.0 / 3600.0
    surplus = gain - conductance * (setpoint - day.outdoor_temperature_c[None, :])
    return setpoint + np.maximum(surplus, 0.0) / conductance


def _gain(lamps: np.ndarray, day: HourlyDay) -> np.ndarray:
    lamp_w = lamps * day.installed_lamp_ppfd / day.lamp_efficacy_umol_j
    return day.solar_gain_fraction * np.maximum(day.radiation_w_m2, 0.0)[None, :] + lamp_w


def evaluate_climate(
    lamps: np.ndarray, temperature: np.ndarray, vent_pct: np.ndarray, co2_setpoint: np.ndarray, day: HourlyDay
) -> dict[str, np.ndarray]:
    """Cost, photosynthesis and their parts for hourly climates, every argument (n, 24)."""
    natural = day.natural_ppfd()[None, :]
    ppfd = natural + lamps * day.installed_lamp_ppfd
    lit = ppfd >= LIT_PPFD
    outdoor = day.outdoor_temperature_c[None, :]
    lamp_w = lamps * day.installed_lamp_ppfd / day.lamp_efficacy_umol_j
    gain = _gain(lamps, day)
    vent_ach = ACH_VENT_MAX * np.clip(vent_pct, 0.0, 100.0) / 100.0
    exchange_ach = day.infiltration_ach + vent_ach

    transpiration = TRANSPIRATION_SHARE * (ppfd / physics.PAR_MOL_PER_MJ_GLOBAL) / physics.LATENT_J_PER_KG
    moisture_gap = np.maximum(
        physics.absolute_humidity_kg_m3(temperature, HUMIDITY_PCT)
        - physics.absolute_humidity_kg_m3(outdoor, OUTDOOR_RH),
        0.0,
    )
    by_air = exchange_ach / 3600.0 * HEIGHT_M * moisture_gap
    by_cover = physics.cover_condensation_kg_m2_s(temperature, HUMIDITY_PCT, outdoor)
    capacity = by_air + by_cover
    vented = np.minimum(transpiration, capacity) * np.divide(
        by_air, capacity, out=np.zeros_like(by_air), where=capacity > 0
    )
    loss = (day.u_value_w_m2k + physics.RHO_CP * HEIGHT_M * vent_ach / 3600.0) * (
        temperature - outdoor
    ) + physics.LATENT_J_PER_KG * vented
    net = loss - gain
    heat_kwh = np.maximum(net, 0.0) / 1000.0 + day.baseline_kwh_m2 / HOURS  # (n, 24)
    electricity_kwh = lamp_w / 1000.0

    flow = exchange_ach * HEIGHT_M * CO2_G_M3_PER_PPM
    held_excess = np.where(
        lit, np.minimum(np.maximum(co2_setpoint - CO2_OUTSIDE, 0.0), CO2_CAPACITY_G_M2_H / np.maximum(flow, 1e-9)), 0.0
    )
    gross = physics.canopy_gross_photosynthesis(ppfd, CO2_OUTSIDE + held_excess, temperature)
    gross_ambient = physics.canopy_gross_photosynthesis(ppfd, np.full_like(held_excess, CO2_OUTSIDE), temperature)
    co2_kg = (flow * held_excess + CO2_PER_CH2O * (gross - gross_ambient) * lit) / 1000.0
    hourly_cost = (
        heat_kwh * day.heat_eur_per_kwh
        + electricity_kwh * day.electricity_eur_per_kwh[None, :]
        + co2_kg * day.co2_eur_per_kg
    )
    return {
        "cost": hourly_cost.sum(axis=1),
        "photosynthesis": gross.sum(axis=1),
        "heat": heat_kwh.sum(axis=1),
        "electricity": electricity_kwh.sum(axis=1),
        "co2_kg": co2_kg.sum(axis=1),
        "dli": ppfd.sum(axis=1) * 3600e-6,
        "lit_hours": lit.sum(axis=1).astype(float),
        "lamp_hours": lamps.sum(axis=1),
        "ppfd": ppfd,
    }


def evaluate_plan(x: np.ndarray, day: HourlyDay) -> dict[str, np.ndarray]:
    """Objectives F (cost, −photosynthesis), constraints G and the diagnostics for plans x, (n, 29)."""
    climate = climate_of_plan(x, day)
    result = evaluate_climate(climate["lamps"], climate["temperature"], climate["vent_pct"], climate["co2"], day)
    natural = day.natural_ppfd()
    natural_dli = float(natural.sum() * 3600e-6)
    reachable = (
        natural_dli + day.installed_lamp_ppfd * min(float(day.lamp_window().sum()), day.max_light_period_h) * 3600e-6
    )
    natural_lit = float((natural >= LIT_PPFD).sum())
    # The coolest the warmest hour can be: vents fully open all day, lamps off, heating at its lowest.
    coolest = floating_temperature(
        np.full((1, HOURS), day.heating_night_bounds[0]),
        _gain(np.zeros((1, HOURS)), day),
        np.full((1, HOURS), 100.0),
        day,
    ).max()
    G = np.column_stack(
        [
            min(day.dli_min_mol_m2, reachable) - result["dli"],
            result["dli"] - max(day.dli_max_mol_m2, natural_dli),
            result["lit_hours"] - max(day.max_light_period_h, natural_lit),
            climate["temperature"].max(axis=1)
            - max(day.heating_day_bounds[1] + OVERHEAT_MARGIN_C, coolest + VENT_TOLERANCE_C),
        ]
    )
    return {**result, **climate, "F": np.column_stack([result["cost"], -result["photosynthesis"]]), "G": G}
