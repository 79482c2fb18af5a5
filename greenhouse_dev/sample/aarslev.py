"""Aarslev cells 5 and 6: monthly `output-*.csv` and the sMAP `*.csv.json` of the same values.

- CSV: bare `Date;Time`, every value quoted C `%g` (6 significant digits, three-digit exponents
  like `7.34011e-008`), empty fields bare; Danish local time with DST; the second month file of
  each cell uses decimal comma.
- JSON: the sMAP epochs are the CSV wall clock read as UTC+1 all year (checked on the real March
  2014 file: after the DST jump every reading sits at wall clock - 1 h, not at true UTC), so that
  quirk is reproduced; readings are unsorted and include the reset zeros and the `-2.14748e+008`
  sentinel, numbers printed exactly as in the CSV. In the repeated autumn hour both passes of the
  wall clock give the same epochs, and sMAP keeps one reading per stream and time, the one written
  last: the export holds the second (standard-time) pass's value, or the first's where the second
  has none.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from greenhouse_dev.sample.climate import Climate, Outdoor
from greenhouse_dev.sample.defects import gap_lengths, place_blocks
from greenhouse_dev.sample.output import text_columns, write_lines
from greenhouse_dev.sample.timeline import CET, Grid, Span, copenhagen_offset, month_runs, wall_strings

STEP = 600  # seconds between rows
SENTINEL = -2.14748e8  # the logger's "no value" (-2^31 / 10) seen in the real Aarslev files
COMMA_MONTH_INDEX = 1  # the second month file of each cell uses decimal comma

COLUMNS = [  # (CSV name after "Celle N: ", sMAP stream or None if CSV-only, sMAP unit)
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
SMAP_ORDER = [
    "flow_temperature_2",
    "final_heat_setpoint",
    "humidity_vpd",
    "co2_dosing",
    "sun_radiation",
    "co2_demand",
    "shader_position_1",
    "air_temperature",
    "light_intensity",
    "humidity_relative",
    "outside_temperature",
    "vent_position_2",
    "flow_temperature_1",
    "vent_position_1",
    "co2",
]
_SENTINEL_COLUMNS = [11, 14]  # Lys intensitet and Udetemperatur, as in the real reset block


def write_aarslev_cell(
    out: Path, cell: int, span: Span, grid: Grid, outdoor: Outdoor, climate: Climate, rng: np.random.Generator
) -> list[Path]:
    """Monthly output-*.csv (local time with DST) and the sMAP JSON of the same values."""
    idx = grid.index(span.local_start, span.local_end, STEP)
    values = _values(outdoor, climate, idx, rng)
    _add_defects(values, rng, span.days)
    t = grid.t[idx]
    wall_epoch = t + copenhagen_offset(t)
    wall = wall_strings(wall_epoch)
    text = text_columns(values, _fmt_g)
    written = []
    for k, (month, rows) in enumerate(month_runs(wall.astype("U7"))):
        base = out / "aarslev" / f"celle{cell}" / f"output-{month}-01-00-00.csv"
        columns = [col[rows] for col in text]
        written.append(_csv(base, cell, wall[rows], columns, comma=k == COMMA_MONTH_INDEX))
        json_text = _smap_json(cell, (wall_epoch[rows] - CET) * 1000, columns, rng)
        base_json = base.with_name(base.name + ".json")
        base_json.write_bytes(json_text.encode("utf-8"))
        written.append(base_json)
    return written


def _values(outdoor: Outdoor, c: Climate, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 17 value columns in export order; the sun sensor idles at a tiny per-night value."""
    radiation = outdoor.radiation[idx]
    night = radiation < 0.5
    night_number = np.cumsum(np.diff(night.astype(int), prepend=0) == 1)
    idle = 10 ** rng.uniform(-8.3, -6.9, night_number.max() + 1)
    sun = np.where(night, idle[night_number], radiation)
    light = np.where(night, 0.0, np.maximum(1.9 * radiation + rng.normal(0, 3, len(idx)), 0))
    return np.column_stack(
        [
            c.air[idx],
            c.heat_sp[idx],
            c.vent_lee[idx],
            c.vent_wind[idx],
            c.rh[idx],
            c.vpd_hpa[idx],
            c.co2[idx],
            c.co2_sp[idx],
            c.dosing[idx],
            c.lamps[idx],
            c.lamps2[idx],
            light,
            c.curtain[idx],
            sun,
            outdoor.temperature[idx],
            c.pipe1[idx],
            c.pipe2[idx],
        ]
    )


def _add_defects(values: np.ndarray, rng: np.random.Generator, days: int) -> None:
    """Gaps, a few lone empty cells and a logger reset, shaped like the real March 2014 file.

    The reset: the 10-minute average straddling it is halved, then rows of "0" (two clean ones
    and one carrying the -2.14748e+008 sentinel in light intensity and outdoor temperature).
    """
    reset, *gaps = place_blocks(rng, len(values), [4] + gap_lengths(rng, days, 6, 12))
    for gap in gaps:
        values[gap] = np.nan
    first = reset.start
    values[first] *= 0.5
    values[first + 1 : first + 4] = 0.0
    values[first + 2, _SENTINEL_COLUMNS] = SENTINEL
    rows = rng.choice(np.setdiff1d(np.arange(len(values)), np.arange(first, first + 4)), 3, replace=False)
    values[rows, rng.integers(0, values.shape[1], 3)] = np.nan


def _csv(path: Path, cell: int, wall: np.ndarray, columns: list[list[str]], comma: bool) -> Path:
    """Bare Date;Time, quoted values, bare empty fields; `comma` for the decimal-comma month."""
    names = ";".join(f'"Celle {cell}: {name}"' for name, _, _ in COLUMNS)
    quoted = [[(f'"{v.replace(".", ",")}"' if comma else f'"{v}"') if v else "" for v in col] for col in columns]
    stamps = [f"{s[:10]};{s[11:]}" for s in wall.tolist()]
    return write_lines(path, [f"Date;Time;{names}"] + [";".join(parts) for parts in zip(stamps, *quoted)])


def _smap_json(cell: int, epoch_ms: np.ndarray, columns: list[list[str]], rng: np.random.Generator) -> str:
    """sMAP export: one object per stream in the real key order, readings shuffled."""
    by_stream = {stream: (unit, col) for (_, stream, unit), col in zip(COLUMNS, columns) if stream}
    epochs = epoch_ms.tolist()
    parts = []
    for stream in SMAP_ORDER:
        unit, col = by_stream[stream]
        kept = {ms: v for ms, v in zip(epochs, col) if v}  # a later reading at the same epoch replaces one
        readings = [f"[{ms},{v}]" for ms, v in kept.items()]
        shuffled = ",".join(readings[i] for i in rng.permutation(len(readings)))
        stream_id = uuid.uuid3(uuid.NAMESPACE_URL, f"aarslev/Cell{cell}/{stream}")
        parts.append(
            f'"\\/Cell{cell}\\/{stream}": {{"Readings": [{shuffled}],"uuid": "{stream_id}",'
            f'"Properties": {{\t"Timezone": "Europe\\/Copenhagen",\t"UnitofMeasure": "{unit}",'
            f'\t"ReadingType": "double"}},"Metadata": {{\t"SourceName": "Aarslev"}}}}'
        )
    return "{" + ",".join(parts) + "}"


def _fmt_g(v: float) -> str:
    """C/Windows `%g`: six significant digits, three-digit exponent (`7.34011e-008`)."""
    text = f"{v:g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:]):03d}"
