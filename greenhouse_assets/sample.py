"""Deterministic sample files in the exact formats of the real exports (shared/data/real).

Why: the platform has to be exercised and benchmarked end to end on data that looks byte for byte
like the climate-computer exports, at any length, without shipping real data. One physical model
per greenhouse drives every file of that greenhouse, so files that overlap in the real world (an
Aarslev month CSV and its sMAP JSON, MortenSDU hourly data and celle 6) carry the same values.

Format facts copied from the real files, not from guesses:
- Knudjepsen: UTF-8, CRLF, `;`, three quoted header rows, quoted `dd-mm-yyyy HH:MM:SS`, bare values
  with decimal comma and at most two decimals, missing values `""` over whole rows, trailing rows
  whose values are all `""`; wall clock fixed at UTC+1 (no DST).
- Aarslev `output-*.csv`: bare `Date;Time`, every value quoted C `%g` (6 significant digits,
  three-digit exponents like `7.34011e-008`), empty fields bare; local time with DST.
- Aarslev `*.csv.json`: the sMAP epochs are the CSV wall clock read as UTC+1 all year (checked on
  the real March 2014 file: after the DST jump every reading sits at wall clock - 1 h, not at true
  UTC), so that quirk is reproduced; readings are unsorted and include the reset zeros and the
  `-2.14748e+008` sentinel, numbers printed exactly as in the CSV.
- MortenSDU: `,`, hourly `Start,End` (the last row ends at the next period's 00:00), one decimal.
- Weather: `;`, epoch-ms timestamps at whole UTC hours, three decimals, no newline after the last row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

TZ = "Europe/Copenhagen"
LAT_DEG, LON_DEG = 55.4, 10.3
STEP = 300  # seconds between points of the shared model grid (the Knudjepsen step)
AARSLEV_STEP = 600
CET = 3600  # UTC+1: the Knudjepsen wall clock and the sMAP epoch convention, all year
KNUD_TRAILING_ROWS = 12  # one hour of all-empty rows after the span, like the real file's tail
SENTINEL = -2.14748e8  # the logger's "no value" (-2^31 / 10) seen in the real Aarslev files
COMMA_MONTH_INDEX = 1  # the second month file of each cell uses decimal comma
DANISH_MONTHS = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
                 "september", "oktober", "november", "december"]
ENGLISH_ABBR = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

KNUD_COLUMNS = [  # (name, controller point, unit) exactly as in NO3_LAMPEGRP_1.csv
    ("mål temp afd  Mid", "NORRING:Afd 3", "°C"),
    ("udetemp", "NORRING:VEJRSTATION", "°C"),
    ("stråling", "NORRING:VEJRSTATION STRÅL.FØLER", "W/m²"),
    ("CO2 målt", "NORRING:Afd 3", "ppm"),
    ("mål gard 1", "NORRING:AFD 3 GARDIN REG. 1", "%"),
    ("mål gard 2", "NORRING:AFD 3 GARDIN REG. 2", "%"),
    ("målt status", "NORRING:BEL.SYSTEM 3 LAMPGRP 1", ""),
    ("mål FD", "NORRING:Afd 3", "g/m3"),
    ("mål rør 1", "NORRING:AFD 3 RØR 1", "°C"),
    ("mål rør 2", "NORRING:AFD 3 RØR 2", "°C"),
]

AARSLEV_COLUMNS = [  # (CSV name after "Celle N: ", sMAP stream or None if CSV-only, sMAP unit)
    ("Lufttemperatur", "air_temperature", "C"),
    ("Endelig fælles varme sætpunkt", "final_heat_setpoint", "C"),
    ("Vent. position 1", "vent_position_1", "%*100"),
    ("Vent. position 2", "vent_position_2", "%*100"),
    ("Luftfugtighed RH%", "humidity_relative", "%"),
    ("Luftfugtighed VPD", "humidity_vpd", "VPD"),
    ("CO2", "co2", "ppm"),
    ("CO2 krav", "co2_demand", "ppm"),
    ("CO2 dosering", "co2_dosing", "%"),
    ("", None, ""),  # lamp group 1 status: unnamed in the export, absent from the JSON
    ("", None, ""),  # lamp group 2 status
    ("Lys intensitet", "light_intensity", "W"),
    ("Gardin 1 position", "shader_position_1", "%*100"),
    ("Solindstråling", "sun_radiation", "W/cm^2"),
    ("Udetemperatur", "outside_temperature", "C"),
    ("Flow temperatur 1", "flow_temperature_1", "C"),
    ("Flow temperatur 2", "flow_temperature_2", "C"),
]
SMAP_ORDER = ["flow_temperature_2", "final_heat_setpoint", "humidity_vpd", "co2_dosing",
              "sun_radiation", "co2_demand", "shader_position_1", "air_temperature",
              "light_intensity", "humidity_relative", "outside_temperature", "vent_position_2",
              "flow_temperature_1", "vent_position_1", "co2"]
_SENTINEL_COLUMNS = [11, 14]  # Lys intensitet and Udetemperatur, as in the real reset block

MORTEN_FILES = {  # file name -> (column name, unit) of Celle 6, as in the real monthly trio
    "MortenSDUData.csv": [("RH Zone1", "RH%"), ("CO2", "ppm"), ("CO2 status", ""),
                          ("Luft temp", "°C"), ("Flow1", "°C")],
    "MortenSDUData2.csv": [("Flow2", "°C"), ("Vindue1", "%"), ("Vindue2", "%"),
                           ("Gardin1", "%"), ("Gardin3", "%")],
    "MortenSDUData3.csv": [("Gardin4", "%"), ("Lys", "μmol"), ("Regn", ""),
                           ("Udetemp", "°C"), ("Udelys", "W/m2")],
}


@dataclass(frozen=True)
class _House:
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


KNUDJEPSEN = _House(20.5, 20.0, 2.0, 4, 20, 150, 800, 400, 1.1, (38, 28), 0.05)
CELLE = {
    5: _House(21.0, 20.0, 3.0, 3, 22, 120, 800, 350, 0.65, (25, 22), 0.06),
    6: _House(20.0, 18.0, 4.0, 5, 21, 150, 1000, 350, 0.7, (26, 24), 0.06),
}


@dataclass(frozen=True)
class _Span:
    """The requested days as UTC instants, on each export's own clock."""

    first: date
    days: int

    @property
    def knud_start(self) -> int:
        """Midnight of the first day on the Knudjepsen clock (UTC+1 all year)."""
        midnight_utc = datetime(self.first.year, self.first.month, self.first.day, tzinfo=timezone.utc)
        return int(midnight_utc.timestamp()) - CET

    @property
    def knud_end(self) -> int:
        return self.knud_start + self.days * 86400

    @property
    def local_start(self) -> int:
        """Midnight of the first day on the Danish wall clock (Aarslev, with DST)."""
        return _local_midnight(self.first)

    @property
    def local_end(self) -> int:
        return _local_midnight(self.first + timedelta(days=self.days))


@dataclass(frozen=True)
class _Grid:
    """5-minute UTC instants covering every export, so all files sample one model run."""

    t: np.ndarray

    def index(self, start: int, end: int, step: int = STEP) -> np.ndarray:
        """Grid positions of the instants in [start, end), every `step` seconds."""
        first = (start - int(self.t[0])) // STEP
        return np.arange(first, first + (end - start) // STEP, step // STEP)


@dataclass(frozen=True)
class _Outdoor:
    """Regional weather on the grid, shared by both sites and the weather file."""

    clear: np.ndarray  # clear-sky global radiation, W/m²
    cloud_daily: np.ndarray  # slowly varying cloud cover 0..1 (what a forecast can know)
    radiation: np.ndarray  # measured global radiation, W/m²
    temperature: np.ndarray
    rh: np.ndarray
    rain: np.ndarray  # 0/1


@dataclass(frozen=True)
class _Climate:
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


def generate_sample(out: Path, days: int = 21, seed: int = 42, start: str = "2014-03-17") -> list[Path]:
    """Write Knudjepsen and Aarslev sample files under `out`; return the written paths, sorted."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    out = Path(out)
    span = _Span(date.fromisoformat(start), days)
    t0 = min(span.knud_start, span.local_start)
    t1 = max(span.knud_end + KNUD_TRAILING_ROWS * STEP, span.local_end)
    grid = _Grid(np.arange(t0, t1, STEP, dtype=np.int64))
    rng = dict(zip(["outdoor", "knudjepsen", "celle5", "celle6", "morten", "weather"],
                   np.random.default_rng(seed).spawn(6)))

    outdoor = _simulate_outdoor(grid.t, rng["outdoor"])
    knud = _simulate_house(KNUDJEPSEN, grid.t, np.full(grid.t.shape, CET), outdoor, rng["knudjepsen"])
    written = [_write_knudjepsen(out, span, grid, outdoor, knud, rng["knudjepsen"])]
    local_offset = _copenhagen_offset(grid.t)
    for cell, house in CELLE.items():
        climate = _simulate_house(house, grid.t, local_offset, outdoor, rng[f"celle{cell}"])
        written += _write_aarslev_cell(out, cell, span, grid, outdoor, climate, rng[f"celle{cell}"])
        if cell == 6:
            written += _write_morten(out, span, grid, outdoor, climate, rng["morten"])
    written.append(_write_weather(out, span, grid, outdoor, rng["weather"]))
    return sorted(written)


# --- physical model -------------------------------------------------------------------------

def _simulate_outdoor(t: np.ndarray, rng: np.random.Generator) -> _Outdoor:
    """Regional weather: clear-sky sun at 55.4°N, day-to-day cloudiness, seasonal + diurnal temperature."""
    n = len(t)
    clear = _clear_sky(t)
    per_day = 86400 // STEP
    cloud_daily = _knots(rng.beta(0.8, 0.6, n // per_day + 3), n, per_day)
    cloud = np.clip(cloud_daily + _smooth_noise(rng, n, 6, 0.15), 0, 1)
    radiation = clear * (1 - 0.75 * cloud**3.4)  # Kasten-Czeplak cloud attenuation

    doy = _day_of_year(t)
    solar_hour = (t % 86400) / 3600 + LON_DEG / 15
    seasonal = 8.3 - 7.8 * np.cos(2 * np.pi * (doy - 25) / 365)
    diurnal = (1.5 + 4.5 * (1 - cloud_daily)) * np.cos(2 * np.pi * (solar_hour - 15) / 24)
    temperature = (seasonal + diurnal + _smooth_noise(rng, n, 2 * per_day, 3.5)
                   + _smooth_noise(rng, n, 12, 0.4))
    rh = np.clip(80 + 12 * cloud - 20 * radiation / 900 + _smooth_noise(rng, n, 12, 4), 35, 100)
    rain = ((cloud + _smooth_noise(rng, n, 12, 0.15)) > 0.98).astype(float)
    return _Outdoor(clear, cloud_daily, radiation, temperature, rh, rain)


def _simulate_house(house: _House, t: np.ndarray, offset: np.ndarray, outdoor: _Outdoor,
                    rng: np.random.Generator) -> _Climate:
    """Steady-state greenhouse response to the weather under the house's controller.

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
    air = _lag(target, 4) + _smooth_noise(rng, n, 6, 0.3) + rng.normal(0, 0.05, n)
    vent_lee = 100 * np.clip(_lag(excess, 3) / 8, 0, 1)
    vent_wind = 100 * np.clip((_lag(excess, 3) - 3) / 10, 0, 1)

    demand = np.maximum(heat_sp + 1 - t_free, 0)
    pipe1 = np.clip(_lag(house.pipe_min[0] + 1.6 * demand, 6) + _smooth_noise(rng, n, 3, 0.8), 15, 90)
    pipe2 = np.clip(_lag(house.pipe_min[1] + 1.2 * demand, 9) + _smooth_noise(rng, n, 3, 0.8), 15, 90)

    vent_open = vent_lee / 100
    e_out = outdoor.rh / 100 * _sat_vapour_kpa(outdoor.temperature)
    e_crop = (house.transpiration + 0.4 * rad_in / 500 + 0.1 * lamps) * (1 - 0.6 * vent_open)
    es_air = _sat_vapour_kpa(air)
    rh = np.clip(100 * (e_out + e_crop) / es_air + _smooth_noise(rng, n, 6, 1.5), 25, 98)
    deficit_kpa = es_air * (1 - rh / 100)

    co2_sp = np.where(vent_lee > 5, 250.0, np.where(photo | daylight, house.co2_day, house.co2_night))
    uptake = 180 * np.clip(rad_in / 400 + 0.3 * lamps, 0, 1) * (1 - 0.5 * vent_open)
    respiration = np.where(daylight | (lamps > 0), 0, 150) * (1 - vent_open)
    natural = 410 - uptake + respiration
    dosing = np.clip((co2_sp - natural) / 250, 0, 1)
    co2 = np.maximum(natural + dosing * (co2_sp - natural) + _smooth_noise(rng, n, 3, 30)
                     + rng.normal(0, 8, n), 150)
    par = 2000 * lamps + 2.0 * rad_in
    return _Climate(air, heat_sp, vent_lee, vent_wind, rh, 10 * deficit_kpa,
                    2166.7 * deficit_kpa / (air + 273.15), co2, co2_sp, dosing, lamps, lamps2,
                    curtain, shade, pipe1, pipe2, par)


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


def _smooth_noise(rng: np.random.Generator, n: int, every: int, std: float) -> np.ndarray:
    """Correlated noise (random knots, linearly joined): vectorised stand-in for an AR process."""
    return _knots(rng.normal(0, std, n // every + 2), n, every)


def _lag(x: np.ndarray, width: int) -> np.ndarray:
    """Causal moving mean over `width` points: the sluggish response of air, water and valves."""
    padded = np.concatenate([np.full(width - 1, x[0]), x])
    return np.convolve(padded, np.ones(width) / width, mode="valid")


# --- time helpers -----------------------------------------------------------------------------

def _local_midnight(day: date) -> int:
    """UTC epoch of a Danish local midnight: Aarslev files and hours start there."""
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ)).timestamp())


def _copenhagen_offset(t: np.ndarray) -> np.ndarray:
    """Seconds from UTC to Danish wall time (3600 or 7200) for each instant, vectorised."""
    utc = pl.from_epoch(pl.Series(t), time_unit="s").dt.replace_time_zone("UTC")
    wall = utc.dt.convert_time_zone(TZ).dt.replace_time_zone(None)
    return wall.dt.epoch("s").to_numpy() - t


def _wall_strings(wall_epoch: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DDTHH:MM:SS` for wall-clock epochs (already shifted to local time)."""
    return np.datetime_as_string(wall_epoch.astype("datetime64[s]"))


def _danish_minutes(t: np.ndarray) -> list[str]:
    """`YYYY-MM-DD HH:MM` on the Danish wall clock, the MortenSDU Start/End spelling."""
    return [s[:16].replace("T", " ") for s in _wall_strings(t + _copenhagen_offset(t)).tolist()]


def _month_runs(keys: np.ndarray) -> list[tuple[str, slice]]:
    """Consecutive rows sharing a `YYYY-MM` key (rows are in time order, months never interleave)."""
    months, firsts = np.unique(keys, return_index=True)
    order = np.argsort(firsts)
    bounds = list(firsts[order]) + [len(keys)]
    return [(str(months[o]), slice(bounds[i], bounds[i + 1])) for i, o in enumerate(order)]


# --- defects --------------------------------------------------------------------------------

def _place_blocks(rng: np.random.Generator, n: int, lengths: list[int]) -> list[slice]:
    """One block per equal segment of [0, n), segments shuffled, so defects never overlap."""
    segment = n // len(lengths)
    slices = []
    for slot, length in zip(rng.permutation(len(lengths)), lengths):
        length = min(int(length), segment - 1)
        begin = int(slot) * segment + int(rng.integers(0, segment - length + 1))
        slices.append(slice(begin, begin + length))
    return slices


def _gap_lengths(rng: np.random.Generator, days: int, rows_per_hour: int, long_hours: float) -> list[int]:
    """A few gaps of 1-6 hours (one per week) plus, for longer samples, one long outage."""
    short = [int(rng.integers(1, 7) * rows_per_hour) for _ in range(max(1, days // 7))]
    return short + ([int(long_hours * rows_per_hour)] if days >= 4 else [])


# --- formatting -------------------------------------------------------------------------------

def _fmt_g(v: float) -> str:
    """C/Windows `%g`: six significant digits, three-digit exponent (`7.34011e-008`)."""
    text = "%g" % v
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:]):03d}"


def _fmt_comma2(v: float) -> str:
    """Knudjepsen: at most two decimals, no trailing zeros, decimal comma."""
    return f"{v:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def _text_columns(values: np.ndarray, fmt, digits: int | None = None) -> list[list[str]]:
    """Column-wise strings of a float matrix; NaN becomes '' so writers can choose its spelling."""
    if digits is not None:
        values = np.round(values, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [["" if v != v else fmt(v) for v in column.tolist()] for column in values.T]  # v != v: NaN


def _write(path: Path, lines: list[str], final_newline: bool = True) -> Path:
    """UTF-8 with CRLF, as every real export; the weather file alone lacks the final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + ("\r\n" if final_newline else "")).encode("utf-8"))
    return path


# --- Knudjepsen -------------------------------------------------------------------------------

def _write_knudjepsen(out: Path, span: _Span, grid: _Grid, outdoor: _Outdoor, climate: _Climate,
                      rng: np.random.Generator) -> Path:
    """NO3_LAMPEGRP_1.csv: 5-minute rows on a UTC+1 clock, gaps as whole empty rows, empty tail."""
    idx = grid.index(span.knud_start, span.knud_end)
    c = climate
    values = np.column_stack([
        c.air[idx], outdoor.temperature[idx], outdoor.radiation[idx], c.co2[idx], c.shade[idx],
        c.curtain[idx], c.lamps[idx], c.deficit_gm3[idx], c.pipe1[idx], c.pipe2[idx],
    ])
    gaps = _gap_lengths(rng, span.days, rows_per_hour=12, long_hours=24 + rng.uniform(-3, 3))
    for block in _place_blocks(rng, len(values), gaps):
        values[block] = np.nan
    values[rng.choice(len(values), 2, replace=False), 6] = np.nan  # lone lamp-status dropouts
    values = np.vstack([values, np.full((KNUD_TRAILING_ROWS, values.shape[1]), np.nan)])

    wall = _wall_strings(span.knud_start + CET + STEP * np.arange(len(values)))
    stamps = [f'"{s[8:10]}-{s[5:7]}-{s[:4]} {s[11:]}"' for s in wall.tolist()]
    cells = [[f or '""' for f in column] for column in _text_columns(values, _fmt_comma2, 2)]
    header = ['"";' + ";".join(f'"{col[i]}"' for col in KNUD_COLUMNS) for i in range(3)]
    rows = [";".join(parts) for parts in zip(stamps, *cells)]
    return _write(out / "knudjepsen" / "NO3_LAMPEGRP_1.csv", header + rows)


# --- Aarslev cells ----------------------------------------------------------------------------

def _write_aarslev_cell(out: Path, cell: int, span: _Span, grid: _Grid, outdoor: _Outdoor,
                        climate: _Climate, rng: np.random.Generator) -> list[Path]:
    """Monthly output-*.csv (local time with DST) and the sMAP JSON of the same values."""
    idx = grid.index(span.local_start, span.local_end, AARSLEV_STEP)
    values = _aarslev_values(outdoor, climate, idx, rng)
    _add_aarslev_defects(values, rng, span.days)
    t = grid.t[idx]
    wall_epoch = t + _copenhagen_offset(t)
    wall = _wall_strings(wall_epoch)
    text = _text_columns(values, _fmt_g)
    written = []
    for k, (month, rows) in enumerate(_month_runs(wall.astype("U7"))):
        base = out / "aarslev" / f"celle{cell}" / f"output-{month}-01-00-00.csv"
        columns = [col[rows] for col in text]
        written.append(_aarslev_csv(base, cell, wall[rows], columns, comma=k == COMMA_MONTH_INDEX))
        json_text = _smap_json(cell, (wall_epoch[rows] - CET) * 1000, columns, rng)
        base_json = base.with_name(base.name + ".json")
        base_json.write_bytes(json_text.encode("utf-8"))
        written.append(base_json)
    return written


def _aarslev_values(outdoor: _Outdoor, c: _Climate, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 17 value columns in export order; the sun sensor idles at a tiny per-night value."""
    radiation = outdoor.radiation[idx]
    night = radiation < 0.5
    night_number = np.cumsum(np.diff(night.astype(int), prepend=0) == 1)
    idle = 10 ** rng.uniform(-8.3, -6.9, night_number.max() + 1)
    sun = np.where(night, idle[night_number], radiation)
    light = np.where(night, 0.0, np.maximum(1.9 * radiation + rng.normal(0, 3, len(idx)), 0))
    return np.column_stack([
        c.air[idx], c.heat_sp[idx], c.vent_lee[idx], c.vent_wind[idx], c.rh[idx], c.vpd_hpa[idx],
        c.co2[idx], c.co2_sp[idx], c.dosing[idx], c.lamps[idx], c.lamps2[idx], light,
        c.curtain[idx], sun, outdoor.temperature[idx], c.pipe1[idx], c.pipe2[idx],
    ])


def _add_aarslev_defects(values: np.ndarray, rng: np.random.Generator, days: int) -> None:
    """Gaps, a few lone empty cells and a logger reset, shaped like the real March 2014 file.

    The reset: the 10-minute average straddling it is halved, then rows of "0" (two clean ones
    and one carrying the -2.14748e+008 sentinel in light intensity and outdoor temperature).
    """
    reset, *gaps = _place_blocks(rng, len(values), [4] + _gap_lengths(rng, days, 6, 12))
    for gap in gaps:
        values[gap] = np.nan
    first = reset.start
    values[first] *= 0.5
    values[first + 1:first + 4] = 0.0
    values[first + 2, _SENTINEL_COLUMNS] = SENTINEL
    rows = rng.choice(np.setdiff1d(np.arange(len(values)), np.arange(first, first + 4)), 3, replace=False)
    values[rows, rng.integers(0, values.shape[1], 3)] = np.nan


def _aarslev_csv(path: Path, cell: int, wall: np.ndarray, columns: list[list[str]], comma: bool) -> Path:
    """Bare Date;Time, quoted values, bare empty fields; `comma` for the decimal-comma month."""
    names = ";".join(f'"Celle {cell}: {name}"' for name, _, _ in AARSLEV_COLUMNS)
    quoted = [[(f'"{v.replace(".", ",")}"' if comma else f'"{v}"') if v else "" for v in col]
              for col in columns]
    stamps = [f"{s[:10]};{s[11:]}" for s in wall.tolist()]
    return _write(path, [f"Date;Time;{names}"] + [";".join(parts) for parts in zip(stamps, *quoted)])


def _smap_json(cell: int, epoch_ms: np.ndarray, columns: list[list[str]], rng: np.random.Generator) -> str:
    """sMAP export: one object per stream in the real key order, readings shuffled."""
    by_stream = {stream: (unit, col) for (_, stream, unit), col in zip(AARSLEV_COLUMNS, columns) if stream}
    epochs = epoch_ms.tolist()
    parts = []
    for stream in SMAP_ORDER:
        unit, col = by_stream[stream]
        readings = [f"[{ms},{v}]" for ms, v in zip(epochs, col) if v]
        shuffled = ",".join(readings[i] for i in rng.permutation(len(readings)))
        stream_id = uuid.uuid3(uuid.NAMESPACE_URL, f"aarslev/Cell{cell}/{stream}")
        parts.append(
            f'"\\/Cell{cell}\\/{stream}": {{"Readings": [{shuffled}],"uuid": "{stream_id}",'
            f'"Properties": {{\t"Timezone": "Europe\\/Copenhagen",\t"UnitofMeasure": "{unit}",'
            f'\t"ReadingType": "double"}},"Metadata": {{\t"SourceName": "Aarslev"}}}}'
        )
    return "{" + ",".join(parts) + "}"


# --- MortenSDU (celle 6, hourly) --------------------------------------------------------------

def _write_morten(out: Path, span: _Span, grid: _Grid, outdoor: _Outdoor, c: _Climate,
                  rng: np.random.Generator) -> list[Path]:
    """Per local month: two hourly files and one file holding a single whole-period mean row."""
    idx = grid.index(span.local_start, span.local_end)

    def hourly(x: np.ndarray) -> np.ndarray:
        return x[idx].reshape(-1, 3600 // STEP).mean(axis=1)

    series = {
        "MortenSDUData.csv": [c.rh, c.co2, c.dosing, c.air, c.pipe1],
        "MortenSDUData2.csv": [c.pipe2, c.vent_lee, c.vent_wind, c.curtain, c.shade],
        "MortenSDUData3.csv": [c.curtain, c.par, outdoor.rain, outdoor.temperature, outdoor.radiation],
    }
    hours = np.column_stack([hourly(x) for name in MORTEN_FILES for x in series[name]])
    starts = span.local_start + 3600 * np.arange(len(hours))
    labels = np.array(_danish_minutes(starts))
    end_labels = _danish_minutes(starts + 3600)

    written = []
    for month, rows in _month_runs(labels.astype("U7")):
        year, number = month.split("-")
        folder = out / "aarslev" / f"{DANISH_MONTHS[int(number) - 1]}{year}"
        block = hours[rows]
        start_col = labels[rows].tolist()
        end_col = [f"{s[:14]}59" for s in start_col[:-1]] + [end_labels[rows.stop - 1]]
        for k, (name, columns) in enumerate(MORTEN_FILES.items()):
            header = "Start,End," + ",".join(f"Celle 6.{col} (Celle 6) [{unit}]" for col, unit in columns)
            part = block[:, 5 * k:5 * k + 5].copy()
            if name == "MortenSDUData2.csv":
                mean = ",".join("%g" % v for v in np.round(part.mean(axis=0), 1) + 0.0)
                lines = [header, f"{start_col[0]},{end_col[-1]},{mean}"]
            else:
                lines = [header] + _morten_rows(name, start_col, end_col, part, rng)
            written.append(_write(folder / name, lines))
    return written


def _morten_rows(name: str, starts: list[str], ends: list[str], part: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
    """Hourly rows with the export's defects: a garbage float and empty cells, or an all-zero hour."""
    cells = _text_columns(part, lambda v: f"{v:.1f}", 1)
    if name == "MortenSDUData.csv":
        garbage, *empty = rng.choice(part.size, 3, replace=False)
        cells[garbage % 5][garbage // 5] = "5.3e+36"
        for flat in empty:
            cells[flat % 5][flat // 5] = ""
    else:
        zero_row = int(rng.integers(0, len(starts)))
        for column in cells:
            column[zero_row] = "0.0"
    return [",".join(parts) for parts in zip(starts, ends, *cells)]


# --- weather / forecast -----------------------------------------------------------------------

def _write_weather(out: Path, span: _Span, grid: _Grid, outdoor: _Outdoor, rng: np.random.Generator) -> Path:
    """Hourly measured weather beside a forecast whose errors drift slowly, like data_jan_feb_2014.csv."""
    idx = grid.index(span.local_start, span.local_end)
    per_hour = 3600 // STEP
    n = len(idx)
    cloud_forecast = np.clip(outdoor.cloud_daily[idx] + _smooth_noise(rng, n, 36, 0.2), 0, 1)
    radiation_forecast = outdoor.clear[idx] * (1 - 0.75 * cloud_forecast**3.4)
    temperature = outdoor.temperature[idx][::per_hour]
    values = np.column_stack([
        temperature + _smooth_noise(rng, len(temperature), 6, 1.0),
        radiation_forecast.reshape(-1, per_hour).mean(axis=1),
        outdoor.radiation[idx].reshape(-1, per_hour).mean(axis=1),
        temperature,
    ])
    epoch_ms = (grid.t[idx][::per_hour] * 1000).tolist()
    cells = _text_columns(values, lambda v: f"{v:.3f}", 3)
    lines = ["timestamp;temperature_forecast;sun_radiation_forecast;sun_radiation;temperature"]
    lines += [";".join(parts) for parts in zip(map(str, epoch_ms), *cells)]
    return _write(out / "aarslev" / _weather_name(span), lines, final_newline=False)


def _weather_name(span: _Span) -> str:
    """`data_jan_feb_2014.csv` style: first and last month of the span, year(s) at the end."""
    first, last = span.first, span.first + timedelta(days=span.days - 1)
    if (first.year, first.month) == (last.year, last.month):
        parts = [ENGLISH_ABBR[first.month - 1], str(first.year)]
    elif first.year == last.year:
        parts = [ENGLISH_ABBR[first.month - 1], ENGLISH_ABBR[last.month - 1], str(first.year)]
    else:
        parts = [ENGLISH_ABBR[first.month - 1], str(first.year), ENGLISH_ABBR[last.month - 1], str(last.year)]
    return "data_" + "_".join(parts) + ".csv"
