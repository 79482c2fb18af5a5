"""Greenhouse domain features, one value per window and zone (`variable = 'domain'`).

They are computed from the gap-filled grids of the window's input variables, and only when every
input they need passed the coverage threshold. Integrals use the rectangle rule on the grid
(each sample stands for one sampling step). Where two variables have different sampling steps,
the coarser one is interpolated linearly onto the finer one's grid. The MOGA layer reads these
names; do not rename them.

Constants and their sources:
- PAR from global radiation: PAR ≈ 0.5 of global shortwave radiation (Monteith & Unsworth,
  *Principles of Environmental Physics*) and 4.57 µmol/J for sunlight PAR (Thimijan & Heins 1983,
  HortScience 18:818). `radiation` in this platform is the *outdoor* pyranometer, so a greenhouse
  transmission of 0.7 (typical for single glass) is applied to estimate the DLI at the crop.
  A measured `par` (inside the cell) wins over radiation and needs no transmission.
- VPD (kPa) from air temperature T (°C) and relative humidity RH (%) with Tetens' equation:
  es = 0.6108 · exp(17.27 T / (T + 237.3)), VPD = es · (1 − RH/100); a measured `vpd` is used
  only when T or RH is missing.
- Growing degree days, base 10 °C, integrated: Σ max(T − 10, 0) · Δt / 86 400 s.
- Heating degree-hours: Σ over pipe circuits Σ max(pipe − air, 0) · Δt / 3 600 s (each circuit
  emits heat in proportion to its excess temperature, so both circuits count).
- CO2 enrichment hours: time with co2 > 450 ppm or co2_dosing ≥ 0.5.
- Lamp-on hours: time with lamp_status ≥ 0.5.
- Day/night temperature difference: mean air temperature while outdoor radiation > 10 W/m²
  (else par > 20 µmol/m²/s) minus the mean while below; absent without a light signal or
  when the window has no day or no night samples.
"""

from __future__ import annotations

import numpy as np

PAR_FRACTION = 0.5
UMOL_PER_JOULE = 4.57
GREENHOUSE_TRANSMISSION = 0.7
GDD_BASE_C = 10.0
CO2_ENRICHED_PPM = 450.0
DAYLIGHT_RADIATION_W_M2 = 10.0
DAYLIGHT_PAR_UMOL = 20.0

DOMAIN_FEATURES = (
    "dli_mol_m2",
    "growing_degree_days_base10",
    "vpd_mean_kpa",
    "vpd_max_kpa",
    "lamp_on_hours",
    "heating_degree_hours",
    "co2_enrichment_hours",
    "day_night_temperature_difference",
    "air_temperature_mean",
    "outdoor_temperature_mean",
    "radiation_sum_mj_m2",
)

Grid = tuple[np.ndarray, int]  # gap-filled samples, step in seconds


def tetens_vpd_kpa(temperature_c: np.ndarray, relative_humidity: np.ndarray) -> np.ndarray:
    saturation = 0.6108 * np.exp(17.27 * temperature_c / (temperature_c + 237.3))
    return saturation * (1.0 - relative_humidity / 100.0)


def _aligned(*grids: Grid) -> tuple[list[np.ndarray], int]:
    """Put grids of one window on the finest step among them."""
    step = min(s for _, s in grids)
    n = len(next(v for v, s in grids if s == step))
    t = np.arange(n) * step
    return [v if s == step else np.interp(t, np.arange(len(v)) * s, v) for v, s in grids], step


def _hours(mask: np.ndarray, step: int) -> float:
    return float(mask.sum() * step / 3600.0)


def compute(grids: dict[str, Grid]) -> tuple[dict[str, float], list[str]]:
    """Domain features of one window, and the input variables they used."""
    out: dict[str, float] = {}
    used: set[str] = set()

    def take(*names: str) -> list[Grid] | None:
        if all(n in grids for n in names):
            used.update(names)
            return [grids[n] for n in names]
        return None

    if light := take("par"):
        ((par, step),) = light
        out["dli_mol_m2"] = float(par.sum() * step / 1e6)
    elif light := take("radiation"):
        ((rad, step),) = light
        out["dli_mol_m2"] = float(rad.sum() * step * PAR_FRACTION * UMOL_PER_JOULE * GREENHOUSE_TRANSMISSION / 1e6)
    if air := take("air_temperature"):
        ((temp, step),) = air
        out["air_temperature_mean"] = float(temp.mean())
        out["growing_degree_days_base10"] = float(np.maximum(temp - GDD_BASE_C, 0).sum() * step / 86400.0)
    if outdoor := take("outdoor_temperature"):
        out["outdoor_temperature_mean"] = float(outdoor[0][0].mean())
    if rad := take("radiation"):
        out["radiation_sum_mj_m2"] = float(rad[0][0].sum() * rad[0][1] / 1e6)
    if pair := take("air_temperature", "relative_humidity"):
        (temp, rh), _ = _aligned(*pair)
        vpd = tetens_vpd_kpa(temp, rh)
    elif measured := take("vpd"):
        vpd = measured[0][0]
    else:
        vpd = None
    if vpd is not None:
        out["vpd_mean_kpa"], out["vpd_max_kpa"] = float(vpd.mean()), float(vpd.max())
    if lamp := take("lamp_status"):
        out["lamp_on_hours"] = _hours(lamp[0][0] >= 0.5, lamp[0][1])
    pipes = sorted(v for v in grids if v.startswith("pipe_temperature"))
    if pipes and (air := take("air_temperature", *pipes)):
        (temp, *pipe_values), step = _aligned(*air)
        out["heating_degree_hours"] = float(sum(np.maximum(p - temp, 0).sum() for p in pipe_values) * step / 3600.0)
    co2 = [g for g in (take("co2"), take("co2_dosing")) if g]
    if co2:
        signals, step = _aligned(*(g[0] for g in co2))
        names = [n for n in ("co2", "co2_dosing") if n in grids]
        enriched = np.zeros(len(signals[0]), dtype=bool)
        for name, signal in zip(names, signals):
            enriched |= signal > CO2_ENRICHED_PPM if name == "co2" else signal >= 0.5
        out["co2_enrichment_hours"] = _hours(enriched, step)
    light = take("air_temperature", "radiation") or take("air_temperature", "par")
    if light:
        (temp, signal), _ = _aligned(*light)
        threshold = DAYLIGHT_RADIATION_W_M2 if "radiation" in grids else DAYLIGHT_PAR_UMOL
        day = signal > threshold
        if day.any() and (~day).any():
            out["day_night_temperature_difference"] = float(temp[day].mean() - temp[~day].mean())
    return out, sorted(used)
