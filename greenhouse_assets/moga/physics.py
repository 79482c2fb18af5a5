"""Greenhouse physics for one day, vectorised over a whole population of setpoint vectors.

Every function takes numpy arrays of shape (n,) (or broadcastable) so pymoo can evaluate a
population in one call. Units: °C, %, ppm, µmol/m²/s, hours; energy in kWh per m² floor per day;
growth in g CH2O per m² floor per day.

Growth: canopy gross photosynthesis of Acock et al. (1978), "The contribution of leaves from
different levels within a tomato crop to canopy net photosynthesis", J. Appl. Ecol. 15:185-199,
in the form and with the parameters of the reduced TOMGRO model, Jones et al. (1999),
"Reduced state-variable tomato growth model", Trans. ASAE 42(1):255-265:

    Pg = D · (τ·C / K) · ln[((1 − m)·τ·C + Qe·K·I) / ((1 − m)·τ·C + Qe·K·I·exp(−K·LAI))]

with τ = 0.0693 µmol CO2 m⁻² s⁻¹ ppm⁻¹ (CO2 use efficiency), Qe = 0.0645 (leaf quantum
efficiency), K = 0.58 (light extinction), m = 0.1 (leaf transmission) and D = 0.108 g CH2O per
(µmol m⁻² s⁻¹ · h), integrated hour by hour, and multiplied by TOMGRO's temperature factor on
gross photosynthesis, PGRED(T): the table of TOMGRO (Jones et al. 1991, "A dynamic tomato growth
and yield model (TOMGRO)", Trans. ASAE 34(2):663-672), piecewise linear 0 at 0 °C, 0.67 at 9 °C,
1 from 12 to 28 °C, 0 at 35 °C and above, as reproduced by two independent public implementations
(an earlier version had "1 from 12 to 35 °C, 0 at 50 °C", which neither shows; the Jones et al.
1999 spreadsheet is reported to use a logistic form instead, not adopted: not seen first hand).
Inside the setpoint bounds (18-28 °C) PGRED is 1: in this model warmth does not raise
gross photosynthesis (an earlier version used a Yan & Hunt beta function on p_max instead,
which rewarded 25 °C without a source for this crop).

Maintenance respiration, as in the reduced TOMGRO: Rm = Q10^((T − 20)/10) · rm · W per day with
Q10 = 1.4 and rm = 0.016 g CH2O g⁻¹ DW d⁻¹ (Jones et al. 1999), W the standing crop dry weight per
m² floor (crop profile; not measured, so a documented assumption). The growth objective is net
assimilation Σ Pg − Rm at a fixed LAI of 3: warmth now costs respiration as well as heat.

Development (`development_rate`): a crop's progress toward a saleable (flowering) plant as a linear
thermal-time rate, (T − T_base)/(T_ref − T_base), 1 at the reference temperature of the crop's
published cycle. Growth per day is not what a pot-plant grower sells: a warmer day brings the crop
closer to sale, so the optimiser compares cost and growth per day of development (`problem`).

Humidity: Tetens (1930) saturation vapour pressure, as FAO-56 eq. 11.
"""

from __future__ import annotations

import numpy as np

# Reduced TOMGRO (Jones et al. 1999) canopy parameters.
TAU, QE, K_EXT, M_LEAF, D_HOUR, LAI = 0.0693, 0.0645, 0.58, 0.1, 0.108, 3.0
PGRED_POINTS = ((0.0, 9.0, 12.0, 28.0, 35.0), (0.0, 0.67, 1.0, 1.0, 0.0))  # (°C, factor), Jones et al. 1991
Q10, RM_G_PER_G_DAY, RM_REFERENCE_C = 1.4, 0.016, 20.0
RHO_CP = 1200.0  # J m⁻³ K⁻¹, volumetric heat capacity of air
LATENT_KWH_PER_KG = 2.45e6 / 3.6e6  # evaporating / removing 1 kg water by heat-and-vent
PAR_MOL_PER_MJ_GLOBAL = 2.15  # 0.47 PAR fraction × 4.57 µmol/J
LATENT_J_PER_KG = 2.45e6
COVER_TEMPERATURE_SHARE, COVER_MASS_TRANSFER_M_S, COVER_PER_FLOOR = 0.3, 3.0 / RHO_CP, 1.2


def saturation_vapour_pressure_kpa(temperature_c):
    """Tetens: es = 0.6108·exp(17.27·T / (T + 237.3)) kPa."""
    return 0.6108 * np.exp(17.27 * temperature_c / (temperature_c + 237.3))


def vpd_kpa(temperature_c, humidity_pct):
    return saturation_vapour_pressure_kpa(temperature_c) * (1.0 - humidity_pct / 100.0)


def absolute_humidity_kg_m3(temperature_c, humidity_pct):
    """Water vapour density from the ideal gas law (R_v = 461.5 J kg⁻¹ K⁻¹)."""
    vapour_pa = saturation_vapour_pressure_kpa(temperature_c) * 1000.0 * humidity_pct / 100.0
    return vapour_pa / (461.5 * (temperature_c + 273.15))


def day_length_hours(day_of_year: int, latitude_deg: float) -> float:
    """Astronomical day length (Cooper's declination), clipped for polar day/night."""
    declination = np.radians(23.44) * np.sin(2 * np.pi * (284 + day_of_year) / 365)
    cos_hour_angle = -np.tan(np.radians(latitude_deg)) * np.tan(declination)
    return float(24.0 / np.pi * np.arccos(np.clip(cos_hour_angle, -1.0, 1.0)))


def natural_ppfd_profile(dli_mol_m2: float, day_length_h: float) -> np.ndarray:
    """Hourly mean PPFD (24 values) of a half-sine sun centred on solar noon carrying the day's DLI."""
    hours = np.arange(24) + 0.5
    sunrise = 12.0 - day_length_h / 2
    phase = np.clip((hours - sunrise) / max(day_length_h, 1e-6), 0.0, 1.0)
    shape = np.sin(np.pi * phase)
    total = shape.sum() * 3600e-6
    return shape * (dli_mol_m2 / total if total > 0 else 0.0)


def light_window(max_light_period_h: float) -> np.ndarray:
    """(24,) bool: the hours of the allowed light period, centred on solar noon.

    For a short-day crop the blackout screen closes outside it (natural light is cut) and lamps
    may only burn inside it; whole hours whose centre lies within ±period/2 of noon count.
    """
    hours = np.arange(24) + 0.5
    return np.abs(hours - 12.0) <= max_light_period_h / 2.0


def lamp_hour_fractions(natural_ppfd: np.ndarray, photoperiod_h, window: np.ndarray | None = None) -> np.ndarray:
    """Share of each hour the lamps burn, (n, 24): the darkest hours of the light window first, as a
    light-sum controller does; never outside the window."""
    ranked = np.where(window, natural_ppfd, np.inf) if window is not None else natural_ppfd
    darkness_rank = np.argsort(np.argsort(ranked, kind="stable"), kind="stable")
    fractions = np.clip(np.asarray(photoperiod_h)[:, None] - darkness_rank[None, :], 0.0, 1.0)
    return fractions if window is None else fractions * window[None, :]


def temperature_factor(temperature_c):
    """TOMGRO's PGRED(T) on gross photosynthesis: 0 at 0 °C, 0.67 at 9, 1 from 12 to 28 °C, 0 from 35 °C."""
    return np.interp(temperature_c, *PGRED_POINTS)


def development_rate(mean_temperature_c, base_c: float, reference_c: float):
    """Days of development per calendar day at a 24-h mean temperature: (T − T_base)/(T_ref − T_base).

    1 at the reference temperature (the crop's published cycle length applies); never below 0.05
    so a cold day's cost per day of development stays finite.
    """
    return np.maximum((np.asarray(mean_temperature_c, dtype=float) - base_c) / (reference_c - base_c), 0.05)


def maintenance_respiration(temperature_c, dry_weight_g_m2: float):
    """g CH2O m⁻² d⁻¹: Q10^((T − 20)/10) · rm · W (reduced TOMGRO)."""
    return Q10 ** ((np.asarray(temperature_c) - RM_REFERENCE_C) / 10.0) * RM_G_PER_G_DAY * dry_weight_g_m2


def canopy_gross_photosynthesis(ppfd, co2_ppm, temperature_c):
    """Acock/TOMGRO canopy gross assimilation × PGRED(T), g CH2O m⁻² per hour.

    ppfd is (n, 24); co2_ppm and temperature_c are (n,) (one value for the day) or (n, 24) (hourly).
    """

    def hourly(values):
        values = np.asarray(values, dtype=float)
        return values[:, None] if values.ndim == 1 else values

    p_max = TAU * hourly(co2_ppm)
    light = QE * K_EXT * ppfd
    top = (1 - M_LEAF) * p_max + light
    bottom = (1 - M_LEAF) * p_max + light * np.exp(-K_EXT * LAI)
    gross = D_HOUR * p_max / K_EXT * np.log(top / np.maximum(bottom, 1e-12))
    return gross * temperature_factor(hourly(temperature_c))


def cover_condensation_kg_m2_s(air_c, humidity_pct, outdoor_c):
    """Vapour condensing on the cover, kg m⁻² floor s⁻¹ (assumption-level, single glass).

    The cover sits at T_cov = T_out + COVER_TEMPERATURE_SHARE·(T_air − T_out) (inside and outside
    heat-transfer coefficients of about 5 and 12 W m⁻² K⁻¹); vapour moves to it with the convective
    coefficient h ≈ 3 W m⁻² K⁻¹ turned into a mass-transfer velocity by the Lewis analogy,
    h / (ρ·c_p) (Stanghellini & de Zwart; Bot 1983), on COVER_PER_FLOOR m² cover per m² floor.
    """
    cover_c = outdoor_c + COVER_TEMPERATURE_SHARE * (air_c - outdoor_c)
    gap = absolute_humidity_kg_m3(air_c, humidity_pct) - absolute_humidity_kg_m3(cover_c, 100.0)
    return COVER_MASS_TRANSFER_M_S * COVER_PER_FLOOR * np.maximum(gap, 0.0)
