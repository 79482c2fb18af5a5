"""The day-ahead climate setpoint problem: six setpoints → (energy, −growth) under VPD and DLI limits.

Energy, kWh per m² floor per day (heat balance at daily resolution):
    sensible   = (U + ρc_p·H·ACH/3600) · (T_sp − T_out) · 24 h         cover + ventilation losses
    gains      = η_solar · R_out + lamp electricity (all lamp power ends as heat, counted here once:
                 the calibration adds the lamps' heat to the pipes' so U, η and the baseline do
                 not absorb it a second time)
    heating    = max(sensible − gains, 0) + baseline (minimum-pipe heat from the calibration)
    lamps      = PPFD_sup / efficacy · photoperiod                       = installed power × hours × intensity share
    latent     = min(transpiration, vented water) · 0.68 kWh/kg
with ACH = 20 h⁻¹ × ventilation/100, H = 4 m (air volume per floor area), transpiration =
0.6 × inside global radiation / λ (Stanghellini 1987), and vented water = ACH·H·(χ_in − χ_out)·24 h
from the humidity setpoint (χ_in) and an outdoor air of 85 % RH. Only water that leaves through
the vents takes its latent heat out of the house (water that condenses on the cover gives it
back), so only vented water is charged, never more than the crop transpires. Ventilation also
limits CO2: with dosing capacity 18 g m⁻² h⁻¹ (180 kg ha⁻¹ h⁻¹, Nederhoff 1994) the held excess
over the outside 400 ppm is at most capacity / (ACH·H·1.8e-3 g m⁻³ ppm⁻¹). So humidity and
ventilation trade heat loss against CO2, and CO2 itself costs no energy (pure CO2).

Growth: net assimilation, `physics.canopy_gross_photosynthesis` (× TOMGRO's PGRED) over 24 hourly
steps minus maintenance respiration at the setpoint (Q10 = 1.4) of the crop's standing dry
weight; natural light from the forecast DLI on a half-sine day, lamps filling the darkest hours
of the light window.

Crop profile (sites.yaml, `profiles.CropProfile`): the bounds of the temperature setpoint, the
lamp hours (0 … the crop's longest light period) and the DLI range come from the zone's crop.
The light period is a window centred on solar noon: for a short-day crop whose limit is shorter
than the natural day, the blackout screen closes outside it (natural light outside is lost) and
lamps burn only inside it. Supplemental light is bounded by the site's installed lamp PPFD.

Constraints (pymoo: feasible when ≤ 0):
    VPD(T_sp, RH_sp) − 3 kPa                    (Tetens; never active inside the default bounds,
                                                 where VPD ≤ 1.51 kPa, kept for wider bounds)
    DLI − max(DLI_max, DLI_nat)
    min(DLI_min, DLI_reachable) − DLI
The DLI_max limit uses max(DLI_max, DLI_nat): shading is not a decision variable, so on a day
whose natural light alone exceeds it the limit is that lamps add nothing; DLI_min is capped at
what natural light plus the lamps at full power for the whole window can reach, so a dark day
keeps a feasible front (the lamps at their maximum). moga.solutions stores the DLI constraint as
the larger of the two DLI terms.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pymoo.core.problem import Problem

from greenhouse_assets.moga import physics

VARIABLES = ("temperature_setpoint", "humidity_setpoint", "co2_setpoint", "supplemental_light", "photoperiod", "ventilation")
LOWER = np.array([18.0, 60.0, 400.0, 0.0, 0.0, 0.0])
UPPER = np.array([28.0, 85.0, 1000.0, 600.0, 18.0, 100.0])
VPD_LIMIT_KPA, DLI_LIMIT_MOL = 3.0, 30.0
HEIGHT_M, ACH_MAX, OUTDOOR_RH = 4.0, 20.0, 85.0
CO2_OUTSIDE, CO2_CAPACITY_G_M2_H, CO2_G_M3_PER_PPM = 400.0, 18.0, 1.8e-3
TRANSPIRATION_SHARE, LATENT_MJ_PER_KG = 0.6, 2.45
LATITUDE_DEG = 56.0  # Denmark (Aarslev 55.3 °N, Knudjepsen ≈ 56 °N)


@dataclass(frozen=True)
class DayInputs:
    """Everything one day's evaluation needs: the forecast and the calibrated parameters."""

    day_of_year: int
    outdoor_temperature_c: float
    radiation_sum_mj_m2: float
    natural_dli_mol_m2: float
    u_value_w_m2k: float
    solar_gain_fraction: float
    baseline_kwh_m2: float
    lamp_efficacy_umol_j: float
    lower: tuple[float, ...] = field(default=tuple(LOWER))
    upper: tuple[float, ...] = field(default=tuple(UPPER))
    dli_min_mol_m2: float = 0.0
    dli_max_mol_m2: float = DLI_LIMIT_MOL
    max_light_period_h: float = 24.0
    standing_dry_weight_g_m2: float = 150.0

    def as_dict(self) -> dict:
        return asdict(self)

    def natural_light(self) -> tuple[np.ndarray, np.ndarray]:
        """Hourly natural PPFD inside the light window (blackout outside), and the window."""
        natural = physics.natural_ppfd_profile(self.natural_dli_mol_m2,
                                               physics.day_length_hours(self.day_of_year, LATITUDE_DEG))
        window = physics.light_window(self.max_light_period_h)
        return natural * window, window


def evaluate(x: np.ndarray, day: DayInputs) -> dict[str, np.ndarray]:
    """Objectives, constraints and diagnostics for a population x of shape (n, 6)."""
    temperature, humidity, co2, light, photoperiod, ventilation = x.T
    ach = ACH_MAX * ventilation / 100.0
    lamp_kwh = light / day.lamp_efficacy_umol_j * photoperiod / 1000.0
    sensible = (day.u_value_w_m2k + physics.RHO_CP * HEIGHT_M * ach / 3600.0) * (temperature - day.outdoor_temperature_c) * 0.024
    gains = day.solar_gain_fraction * day.radiation_sum_mj_m2 / 3.6 + lamp_kwh
    heating = np.maximum(sensible - gains, 0.0) + day.baseline_kwh_m2

    natural, window = day.natural_light()
    natural_dli = float(natural.sum() * 3600e-6)
    lamp_dli = light * photoperiod * 3600e-6
    dli = natural_dli + lamp_dli
    transpiration = TRANSPIRATION_SHARE * dli / physics.PAR_MOL_PER_MJ_GLOBAL / LATENT_MJ_PER_KG
    moisture_gap = physics.absolute_humidity_kg_m3(temperature, humidity) - physics.absolute_humidity_kg_m3(
        day.outdoor_temperature_c, OUTDOOR_RH)
    vented = ach * HEIGHT_M * np.maximum(moisture_gap, 0.0) * 24.0
    latent = np.minimum(transpiration, vented) * physics.LATENT_KWH_PER_KG
    energy = heating + lamp_kwh + latent

    with np.errstate(divide="ignore"):
        co2_excess_max = CO2_CAPACITY_G_M2_H / (ach * HEIGHT_M * CO2_G_M3_PER_PPM)
    co2_held = CO2_OUTSIDE + np.minimum(co2 - CO2_OUTSIDE, co2_excess_max)
    ppfd = natural[None, :] + light[:, None] * physics.lamp_hour_fractions(natural, photoperiod, window)
    growth = (physics.canopy_gross_photosynthesis(ppfd, co2_held, temperature).sum(axis=1)
              - physics.maintenance_respiration(temperature, day.standing_dry_weight_g_m2))

    vpd = physics.vpd_kpa(temperature, humidity)
    reachable = natural_dli + day.upper[3] * min(day.upper[4], float(window.sum())) * 3600e-6
    g_dli_max = dli - max(day.dli_max_mol_m2, natural_dli)
    g_dli_min = min(day.dli_min_mol_m2, reachable) - dli
    return {
        "F": np.column_stack([energy, -growth]),
        "G": np.column_stack([vpd - VPD_LIMIT_KPA, g_dli_max, g_dli_min]),
        "G_stored": np.column_stack([vpd - VPD_LIMIT_KPA, np.maximum(g_dli_max, g_dli_min)]),
        "energy": energy, "growth": growth, "vpd": vpd, "dli": dli,
    }


class GreenhouseDayProblem(Problem):
    """Vectorised: `_evaluate` receives the whole population and does one numpy pass over it."""

    def __init__(self, day: DayInputs):
        super().__init__(n_var=len(VARIABLES), n_obj=2, n_ieq_constr=3, xl=np.array(day.lower), xu=np.array(day.upper))
        self.day = day

    def _evaluate(self, x, out, *args, **kwargs):
        result = evaluate(np.atleast_2d(x), self.day)
        out["F"], out["G"] = result["F"], result["G"]
