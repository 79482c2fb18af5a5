"""The physical model behind every sample file: regional weather and each compartment's climate.

One weather run drives both sites; one greenhouse run per compartment drives every file of that
compartment, so files that overlap in the real world carry the same values. All arrays live on
the 5-minute grid of `timeline.Grid`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greenhouse_dev.sample.timeline import STEP

LAT_DEG, LON_DEG = 55.4, 10.3


@dataclass(frozen=True)
class House:
    """Control settings of one compartment; the differences make the sites distinguishable."""

    heat_day: float
    heat_night: float
    vent_margin: float  # vents open this far above the heating setpoint
    lamps_on: float  # photoperiod on the compartment's own wall clock, hours
    lamps_off: float
    lamp_threshold: float  # outdoor W/m² below which the lamps run inside the photoperiod
    co2_day: float
    co2_night: float
    transpiration: float  # kPa the crop adds to the outdoor vapour pressure with vents closed
    pipe_min: tuple[float, float]
    solar_gain: float  # K of free-running excess temperature per W/m² reaching the crop


KNUDJEPSEN = House(20.5, 20.0, 2.0, 4, 20, 150, 800, 400, 1.1, (38, 28), 0.05)
CELLE = {
    5: House(21.0, 20.0, 3.0, 3, 22, 120, 800, 350, 0.65, (25, 22), 0.06),
    6: House(20.0, 18.0, 4.0, 5, 21, 150, 1000, 350, 0.7, (26, 24), 0.06),
}


@dataclass(frozen=True)
class Outdoor:
    """Regional weather on the grid, shared by both sites and the weather file."""

    clear: np.ndarray  # clear-sky global radiation, W/m²
    cloud_daily: np.ndarray  # slowly varying cloud cover 0..1 (what a forecast can know)
    radiation: np.ndarray  # measured global radiation, W/m²
    temperature: np.ndarray
    rh: np.ndarray
    rain: np.ndarray  # 0/1


@dataclass(frozen=True)
class Climate:
    """One compartment's measured and controlled values on the grid."""

    air: np.ndarray
    heat_sp: np.ndarray
    vent_lee: np.ndarray
    vent_wind: np.ndarray
    rh: np.ndarray
    vpd_hpa: np.ndarray
    deficit_gm3: np.ndarray
    co2: np.ndarray
    co2_sp: np.ndarray
    dosing: np.ndarray  # fraction of the interval the CO2 valve was open
    lamps: np.ndarray
    lamps2: np.ndarray
    curtain: np.ndarray  # energy screen, 100 = closed
    shade: np.ndarray  # screen that also shades at strong sun
    pipe1: np.ndarray
    pipe2: np.ndarray
    par: np.ndarray  # light at the crop incl. lamps, µmol/m²/s


def simulate_outdoor(t: np.ndarray, rng: np.random.Generator) -> Outdoor:
    """Regional weather: clear-sky sun at 55.4°N, day-to-day cloudiness, seasonal + diurnal temperature."""
    n = len(t)
    clear = _clear_sky(t)
    per_day = 86400 // STEP
    cloud_daily = _knots(rng.beta(0.8, 0.6, n // per_day + 3), n, per_day)
    cloud = np.clip(cloud_daily + smooth_noise(rng, n, 6, 0.15), 0, 1)
    radiation = clear * (1 - 0.75 * cloud**3.4)  # Kasten-Czeplak cloud attenuation

    doy = _day_of_year(t)
    solar_hour = (t % 86400) / 3600 + LON_DEG / 15
    seasonal = 8.3 - 7.8 * np.cos(2 * np.pi * (doy - 25) / 365)
    diurnal = (1.5 + 4.5 * (1 - cloud_daily)) * np.cos(2 * np.pi * (solar_hour - 15) / 24)
    temperature = seasonal + diurnal + smooth_noise(rng, n, 2 * per_day, 3.5) + smooth_noise(rng, n, 12, 0.4)
    rh = np.clip(80 + 12 * cloud - 20 * radiation / 900 + smooth_noise(rng, n, 12, 4), 35, 100)
    rain = ((cloud + smooth_noise(rng, n, 12, 0.15)) > 0.98).astype(float)
    return Outdoor(clear, cloud_daily, radiation, temperature, rh, rain)


def simulate_house(
    house: House, t: np.ndarray, offset: np.ndarray, outdoor: Outdoor, rng: np.random.Generator
) -> Climate:
    """Steady-state greenhouse response to the weather under the house's controller.

    `offset` is the seconds from UTC to the compartment's wall clock, which times the lamps.
    Air sits at the heating setpoint unless sun and lamps push the free-running temperature
    higher; above the vent setpoint the vents open and damp the excess. Humidity follows from
    crop transpiration over outdoor vapour, CO2 from dosing towards the setpoint against uptake,
    respiration and ventilation. Short causal moving averages stand in for thermal inertia.
    """
    n = len(t)
    hour = ((t + offset) % 86400) / 3600
    sun = _lag(outdoor.radiation, 6)  # the controller reacts to a 30-minute mean, not to gusts
    photo = (hour >= house.lamps_on) & (hour < house.lamps_off)
    daylight = sun > 5
    lamps = (photo & (sun < house.lamp_threshold)).astype(float)
    lamps2 = (photo & (sun < 0.8 * house.lamp_threshold)).astype(float)
    heat_sp = np.where(photo | daylight, house.heat_day, house.heat_night)
    curtain = 100 * np.clip((25 - sun) / 20, 0, 1)
    shade = np.where(sun > 550, 80.0, curtain)
    rad_in = outdoor.radiation * 0.65 * (1 - 0.3 * shade / 100)

    t_free = outdoor.temperature + 1.5 + 3 * curtain / 100 + house.solar_gain * rad_in + 2 * lamps
    vent_sp = heat_sp + house.vent_margin
    excess = np.maximum(t_free - vent_sp, 0)
    target = np.maximum(heat_sp, np.minimum(t_free, vent_sp) + 0.3 * excess)
    air = _lag(target, 4) + smooth_noise(rng, n, 6, 0.3) + rng.normal(0, 0.05, n)
    vent_lee = 100 * np.clip(_lag(excess, 3) / 8, 0, 1)
    vent_wind = 100 * np.clip((_lag(excess, 3) - 3) / 10, 0, 1)

    demand = np.maximum(heat_sp + 1 - t_free, 0)
    pipe1 = np.clip(_lag(house.pipe_min[0] + 1.6 * demand, 6) + smooth_noise(rng, n, 3, 0.8), 15, 90)
    pipe2 = np.clip(_lag(house.pipe_min[1] + 1.2 * demand, 9) + smooth_noise(rng, n, 3, 0.8), 15, 90)

    vent_open = vent_lee / 100
    e_out = outdoor.rh / 100 * _sat_vapour_kpa(outdoor.temperature)
    e_crop = (house.transpiration + 0.4 * rad_in / 500 + 0.1 * lamps) * (1 - 0.6 * vent_open)
    es_air = _sat_vapour_kpa(air)
    rh = np.clip(100 * (e_out + e_crop) / es_air + smooth_noise(rng, n, 6, 1.5), 25, 98)
    deficit_kpa = es_air * (1 - rh / 100)

    co2_sp = np.where(vent_lee > 5, 250.0, np.where(photo | daylight, house.co2_day, house.co2_night))
    uptake = 180 * np.clip(rad_in / 400 + 0.3 * lamps, 0, 1) * (1 - 0.5 * vent_open)
    respiration = np.where(daylight | (lamps > 0), 0, 150) * (1 - vent_open)
    natural = 410 - uptake + respiration
    dosing = np.clip((co2_sp - natural) / 250, 0, 1)
    co2 = np.maximum(natural + dosing * (co2_sp - natural) + smooth_noise(rng, n, 3, 30) + rng.normal(0, 8, n), 150)
    par = 2000 * lamps + 2.0 * rad_in
    return Climate(
        air,
        heat_sp,
        vent_lee,
        vent_wind,
        rh,
        10 * deficit_kpa,
        2166.7 * deficit_kpa / (air + 273.15),
        co2,
        co2_sp,
        dosing,
        lamps,
        lamps2,
        curtain,
        shade,
        pipe1,
        pipe2,
        par,
    )


def smooth_noise(rng: np.random.Generator, n: int, every: int, std: float) -> np.ndarray:
    """Correlated noise (random knots, linearly joined): vectorised stand-in for an AR process."""
    return _knots(rng.normal(0, std, n // every + 2), n, every)


def _clear_sky(t: np.ndarray) -> np.ndarray:
    """Haurwitz clear-sky global radiation from the solar elevation at the site."""
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + _day_of_year(t)) / 365)
    hour_angle = np.radians(15 * ((t % 86400) / 3600 + LON_DEG / 15 - 12))
    lat = np.radians(LAT_DEG)
    sin_el = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    safe = np.maximum(sin_el, 0.01)
    return np.where(sin_el > 0.01, 1098 * safe * np.exp(-0.057 / safe), 0.0)


def _day_of_year(t: np.ndarray) -> np.ndarray:
    """Fractional day of the year: drives the sun's declination and the seasonal temperature."""
    moment = t.astype("datetime64[s]")
    return (moment - moment.astype("datetime64[Y]")).astype(np.int64) / 86400


def _sat_vapour_kpa(temp_c: np.ndarray) -> np.ndarray:
    """Tetens saturation vapour pressure: RH, VPD and humidity deficit all derive from it."""
    return 0.6108 * np.exp(17.27 * temp_c / (temp_c + 237.3))


def _knots(values: np.ndarray, n: int, every: int) -> np.ndarray:
    """Linear interpolation between values placed every `every` grid points."""
    return np.interp(np.arange(n) / every, np.arange(len(values)), values)


def _lag(x: np.ndarray, width: int) -> np.ndarray:
    """Causal moving mean over `width` points: the sluggish response of air, water and valves."""
    padded = np.concatenate([np.full(width - 1, x[0]), x])
    return np.convolve(padded, np.ones(width) / width, mode="valid")
