"""The day-ahead climate setpoint problem: seven setpoints → (cost, −growth) under five constraints.

Hour by hour (24 steps, vectorised over the population as (n, 24) arrays); the day is split into
**day** (lit hours: natural light inside the light window, or lamps on) and **night** (dark hours),
each with its own temperature setpoint.

Decision variables: day temperature, night temperature, humidity (the maximum RH the climate
computer holds), CO2 (held during lit hours), supplemental light (PPFD), lamp hours and
ventilation, the vent opening at the hour of the highest heat load: the climate computer opens
the vents in proportion to the hour's heat load (sun + lamps), so the opening in hour h is
ventilation × load_h / max(load).

Air exchange N_h = N_inf + N_vent·ventilation_h/100 (h⁻¹), with a minimum infiltration N_inf from
sites.yaml (leakage, always there) and N_vent = 20 h⁻¹ with the vents fully open. The calibrated
U-value already contains the infiltration's sensible heat (the heating data were measured with
that leakage), so only the vents' extra air carries sensible heat on top of U.

Heat balance per hour, W m⁻² floor:
    loss_h  = (U + ρc_p·H·N_vent,h/3600)·(T_h − T_out) + λ·vented water_h
    gain_h  = η·R_h + lamp power_h         (all lamp electricity ends as heat, counted once)
    heat_h  = max(loss_h − gain_h, 0);  heat = Σ heat_h + baseline (minimum-pipe heat)
with R_h the forecast radiation sum spread over the day as a half sine. Water: the crop
transpires E_h = 0.6·(PPFD_h/2.15)/λ (Stanghellini 1987's radiation term, lamps included); it
leaves by air exchange, N_h·H·(χ_in − χ_out), and by condensation on the cover
(`physics.cover_condensation_kg_m2_s`), in proportion to the two capacities. Only water that leaves
by air exchange takes its latent heat out of the house (condensate gives it to the cover, which
the calibrated U already contains), so a drier setpoint costs heat twice: more air exchange
(sensible) and more vented water (latent).

CO2 is dosed during lit hours to hold the setpoint. The air exchange carries it out,
N_h·H·1.8e-3 g m⁻³ ppm⁻¹·(C − 400), and the crop takes up more CO2 than at 400 ppm; a dosing
capacity of 18 g m⁻² h⁻¹ (180 kg ha⁻¹ h⁻¹, Nederhoff 1994) limits what an open house holds. Dosed
CO2 = vent/leak loss + the extra uptake, in kg m⁻² per day.

Objective 1 is the day's **cost**, EUR m⁻² floor (per day of development, see below): heat (boiler
heat, kWh) × heat price + lamp electricity (kWh) × electricity price + dosed CO2 (kg) × CO2 price,
the prices per site from sites.yaml. Heat and electricity are priced separately, so lamp light is never free: a lamp kWh
that replaces a boiler kWh still costs the price difference. Objective 2 is growth, net
assimilation: `physics.canopy_gross_photosynthesis` (× TOMGRO's PGRED) over the 24 hours at the
held CO2, minus maintenance respiration (Q10 = 1.4) at the hourly temperatures.

Constraints (pymoo: feasible when ≤ 0):
    VPD(T_day, RH) − 3 kPa and VPD(T_night, RH) − 3 kPa (the larger)
    DLI − max(DLI_max, DLI_nat);  min(DLI_min, DLI_reachable) − DLI
    overheating: max_h T_air,h − T_max ≤ 0 K. The setpoints are heating setpoints: in an hour whose
        sun and lamps bring more heat than the house loses at the setpoint, the air floats above it
        to T_air,h = T_h + (gain_h − loss_h)/(U + ρc_p·H·N_vent,h/3600), where the chosen vent
        opening carries the surplus away; it may not exceed the crop's warmest day temperature
        T_max (the upper day-temperature bound). Growth, respiration and development use T_air,h;
        condensation, transpiration and CO2 use the setpoint (a documented simplification).
        With the vents at their maximum this is the physical limit: no cooling other than
        ventilation and the shade screen.
    humidity: E − (vented + condensed water) ≤ 0 kg m⁻² per day: the air exchange and the cover
        must remove what the crop transpires at the humidity setpoint (a daily balance: the
        air and the crop buffer within the day)
The DLI limits use max(DLI_max, DLI_nat) and min(DLI_min, reachable) as before, so a dark day
keeps a feasible front.

Shade screen (sites.yaml `shade_screen_fraction`, `shade_screen_above_w_m2`): configured, not a
decision: the climate computer closes it in every hour whose outside radiation exceeds its set
point, and it then takes that fraction of the sun, both its heat (solar gain) and its light
(natural PPFD). A set point of 0 W/m² describes whitewash (on all day, all season). Without it a
single-glass house holds a pot-plant temperature on a bright summer day only with the vents nearly
fully open (the front collapses to almost one point), and warmer days become infeasible.

Objectives per day of development. For a crop with a development model (crop profile
`development_base_c`, `development_reference_c`: a linear thermal-time rate, 1 at the reference
temperature of its published cycle), both objectives are divided by the day's development rate
r = (T_mean − T_base)/(T_ref − T_base): cost per day of crop development and net growth per day of
crop development, i.e. the cost and the dry matter of the whole cycle if every day were like this
one. Warmth then has two real effects: it shortens the cycle (fewer days of lamps and heat per
plant sold) and it leaves less dry matter per plant (fewer days of assimilation, more respiration);
the front trades them. Without a development model r = 1 (per calendar day, as before). The
diagnostics `cost` and `growth` (and moga.solutions' cost_eur_m2 and growth) stay per calendar day;
`development` is r.

Crop profile (sites.yaml): day and night temperature bounds, lamp hours (0 … the longest light
period), DLI range; the light window is centred on solar noon (for a short-day crop the
blackout screen closes outside it); supplemental light is bounded by the installed lamp PPFD.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pymoo.core.problem import Problem

from greenhouse_assets.moga import physics

VARIABLES = (
    "temperature_setpoint",
    "temperature_night_setpoint",
    "humidity_setpoint",
    "co2_setpoint",
    "supplemental_light",
    "photoperiod",
    "ventilation",
)
LOWER = np.array([18.0, 18.0, 60.0, 400.0, 0.0, 0.0, 0.0])
UPPER = np.array([28.0, 28.0, 85.0, 1000.0, 600.0, 18.0, 100.0])
T_DAY, T_NIGHT, RH, CO2, LIGHT, HOURS, VENT = range(len(VARIABLES))
CONSTRAINTS = ("vpd", "dli", "overheating", "humidity")
VPD_LIMIT_KPA, DLI_LIMIT_MOL = 3.0, 30.0
HEIGHT_M, ACH_VENT_MAX, OUTDOOR_RH = 4.0, 20.0, 85.0
CO2_OUTSIDE, CO2_CAPACITY_G_M2_H, CO2_G_M3_PER_PPM, CO2_PER_CH2O = 400.0, 18.0, 1.8e-3, 44.0 / 30.0
TRANSPIRATION_SHARE = 0.6
LATITUDE_DEG = 56.0  # Denmark (Aarslev 55.3 °N, Knudjepsen ≈ 56 °N)
# Defaults for a site without configured prices (sites.yaml documents each site's own).
DEFAULT_PRICES = {"heat_eur_per_kwh": 0.045, "electricity_eur_per_kwh": 0.09, "co2_eur_per_kg": 0.12}
DEFAULT_INFILTRATION_ACH = 1.0


@dataclass(frozen=True)
class DayInputs:
    """Everything one day's evaluation needs: the forecast, the calibrated parameters, prices, crop."""

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
    heat_eur_per_kwh: float = DEFAULT_PRICES["heat_eur_per_kwh"]
    electricity_eur_per_kwh: float = DEFAULT_PRICES["electricity_eur_per_kwh"]
    co2_eur_per_kg: float = DEFAULT_PRICES["co2_eur_per_kg"]
    infiltration_ach: float = DEFAULT_INFILTRATION_ACH
    shade_fraction: float = 0.0
    shade_above_w_m2: float = 0.0
    development_base_c: float | None = None
    development_reference_c: float = 20.0

    def as_dict(self) -> dict:
        return asdict(self)

    def shade_factor(self) -> np.ndarray:
        """(24,) share of the sun that passes the shade screen: 1 − shade_fraction in the hours whose
        outside radiation exceeds the screen's set point (0 W/m²: whitewash, on all day), else 1."""
        closed = self.radiation_w_m2() > self.shade_above_w_m2
        return np.where(closed & (self.shade_fraction > 0), 1.0 - self.shade_fraction, 1.0)

    def day_length_h(self) -> float:
        return physics.day_length_hours(self.day_of_year, LATITUDE_DEG)

    def natural_light(self) -> tuple[np.ndarray, np.ndarray]:
        """Hourly natural PPFD inside the light window (blackout outside), and the window."""
        natural = physics.natural_ppfd_profile(self.natural_dli_mol_m2, self.day_length_h()) * self.shade_factor()
        window = physics.light_window(self.max_light_period_h)
        return natural * window, window

    def radiation_w_m2(self) -> np.ndarray:
        """(24,) outside global radiation, W m⁻², the forecast sum on the same half-sine day."""
        shape = physics.natural_ppfd_profile(1.0, self.day_length_h())
        total = shape.sum()
        return self.radiation_sum_mj_m2 * 1e6 / 3600.0 * (shape / total if total > 0 else shape)


# A fixed February day (9 February, mild overcast, Aarslev-like cover and lamps): the one example day the
# benchmark times and the tests optimise, so both measure the same problem.
WINTER_DAY = DayInputs(
    day_of_year=40,
    outdoor_temperature_c=2.0,
    radiation_sum_mj_m2=3.0,
    natural_dli_mol_m2=4.2,
    u_value_w_m2k=7.0,
    solar_gain_fraction=0.4,
    baseline_kwh_m2=0.3,
    lamp_efficacy_umol_j=1.8,
)


def evaluate(x: np.ndarray, day: DayInputs) -> dict[str, np.ndarray]:
    """Objectives, constraints and diagnostics for a population x of shape (n, 7)."""
    x = np.atleast_2d(x)
    t_day, t_night, humidity, co2, light, photoperiod, ventilation = x.T
    natural, window = day.natural_light()
    lamp_fraction = physics.lamp_hour_fractions(natural, photoperiod, window)  # (n, 24)
    ppfd = natural[None, :] + light[:, None] * lamp_fraction
    lit = ppfd > 0
    temperature = np.where(lit, t_day[:, None], t_night[:, None])  # (n, 24)
    delta_t = temperature - day.outdoor_temperature_c

    lamp_w = (light / day.lamp_efficacy_umol_j)[:, None] * lamp_fraction
    gain = day.solar_gain_fraction * (day.radiation_w_m2() * day.shade_factor())[None, :] + lamp_w
    peak = gain.max(axis=1, keepdims=True)
    load_share = np.divide(gain, peak, out=np.zeros_like(gain), where=peak > 0)
    vent_ach = ACH_VENT_MAX * (ventilation / 100.0)[:, None] * load_share
    exchange_ach = day.infiltration_ach + vent_ach

    # Water: transpiration leaves by air exchange and by condensation, in proportion to their capacities.
    transpiration = TRANSPIRATION_SHARE * (ppfd / physics.PAR_MOL_PER_MJ_GLOBAL) / physics.LATENT_J_PER_KG
    moisture_gap = np.maximum(
        physics.absolute_humidity_kg_m3(temperature, humidity[:, None])
        - physics.absolute_humidity_kg_m3(day.outdoor_temperature_c, OUTDOOR_RH),
        0.0,
    )
    by_air = exchange_ach / 3600.0 * HEIGHT_M * moisture_gap
    by_cover = physics.cover_condensation_kg_m2_s(temperature, humidity[:, None], day.outdoor_temperature_c)
    capacity = by_air + by_cover
    removed = np.minimum(transpiration, capacity)
    vented = removed * np.divide(by_air, capacity, out=np.zeros_like(by_air), where=capacity > 0)

    conductance = day.u_value_w_m2k + physics.RHO_CP * HEIGHT_M * vent_ach / 3600.0  # W m⁻² K⁻¹
    loss = conductance * delta_t + physics.LATENT_J_PER_KG * vented
    net = loss - gain
    # Where the sun and lamps bring more than the house loses at the setpoint, the air floats above
    # it until the vents and cover carry the surplus away (the latent term held at the setpoint's).
    air = temperature + np.maximum(-net, 0.0) / conductance  # (n, 24), °C
    heat_kwh = np.maximum(net, 0.0).sum(axis=1) / 1000.0 + day.baseline_kwh_m2
    electricity_kwh = lamp_w.sum(axis=1) / 1000.0

    # CO2 held during lit hours, limited by the dosing capacity against the air exchange.
    flow = exchange_ach * HEIGHT_M * CO2_G_M3_PER_PPM  # g m⁻² h⁻¹ ppm⁻¹
    held_excess = np.where(
        lit, np.minimum((co2 - CO2_OUTSIDE)[:, None], CO2_CAPACITY_G_M2_H / np.maximum(flow, 1e-9)), 0.0
    )
    co2_held = CO2_OUTSIDE + held_excess
    gross = physics.canopy_gross_photosynthesis(ppfd, co2_held, air)  # g CH2O m⁻² h⁻¹
    gross_ambient = physics.canopy_gross_photosynthesis(ppfd, np.full_like(co2_held, CO2_OUTSIDE), air)
    co2_kg = (flow * held_excess + CO2_PER_CH2O * (gross - gross_ambient) * lit).sum(axis=1) / 1000.0
    respiration = (physics.maintenance_respiration(air, day.standing_dry_weight_g_m2)).mean(axis=1)
    growth = gross.sum(axis=1) - respiration

    cost = heat_kwh * day.heat_eur_per_kwh + electricity_kwh * day.electricity_eur_per_kwh + co2_kg * day.co2_eur_per_kg
    development = (
        np.ones(len(x))
        if day.development_base_c is None
        else physics.development_rate(air.mean(axis=1), day.development_base_c, day.development_reference_c)
    )

    vpd = np.maximum(physics.vpd_kpa(t_day, humidity), physics.vpd_kpa(t_night, humidity))
    natural_dli = float(natural.sum() * 3600e-6)
    dli = ppfd.sum(axis=1) * 3600e-6
    reachable = natural_dli + day.upper[LIGHT] * min(day.upper[HOURS], float(window.sum())) * 3600e-6
    g_dli_max = dli - max(day.dli_max_mol_m2, natural_dli)
    g_dli_min = min(day.dli_min_mol_m2, reachable) - dli
    g_overheating = (air - day.upper[T_DAY]).max(axis=1)
    g_humidity = (transpiration - capacity).sum(axis=1) * 3600.0
    return {
        "F": np.column_stack([cost / development, -growth / development]),
        "G": np.column_stack([vpd - VPD_LIMIT_KPA, g_dli_max, g_dli_min, g_overheating, g_humidity]),
        "G_stored": np.column_stack([vpd - VPD_LIMIT_KPA, np.maximum(g_dli_max, g_dli_min), g_overheating, g_humidity]),
        "cost": cost,
        "heat": heat_kwh,
        "electricity": electricity_kwh,
        "co2_kg": co2_kg,
        "energy": heat_kwh + electricity_kwh,
        "growth": growth,
        "vpd": vpd,
        "dli": dli,
        "vented_water": vented.sum(axis=1) * 3600.0,
        "transpiration": transpiration.sum(axis=1) * 3600.0,
        "vent_air_changes": vent_ach.sum(axis=1),
        "development": development,
        "air_max": air.max(axis=1),
    }


class GreenhouseDayProblem(Problem):
    """Vectorised: `_evaluate` receives the whole population and does one numpy pass over it."""

    def __init__(self, day: DayInputs):
        super().__init__(n_var=len(VARIABLES), n_obj=2, n_ieq_constr=5, xl=np.array(day.lower), xu=np.array(day.upper))
        self.day = day

    def _evaluate(self, x, out, *args, **kwargs):
        result = evaluate(np.atleast_2d(x), self.day)
        out["F"], out["G"] = result["F"], result["G"]
