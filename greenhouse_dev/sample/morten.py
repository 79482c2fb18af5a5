"""MortenSDU: hourly means of celle 6, the monthly `<måned><år>/MortenSDUData*.csv` trio.

`,`-separated, one decimal, hourly `Start,End` rows (`End` = `Start` + 59 min, the last row
ending at the next period's 00:00). The hours run on the fixed UTC+1 clock, like Knudjepsen:
24 rows on every day, no DST gap or repeat, matching the `morten_sdu` rule in sources.yaml.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from greenhouse_dev.sample.climate import Climate, Outdoor
from greenhouse_dev.sample.output import text_columns, write_lines
from greenhouse_dev.sample.timeline import CET, STEP, Grid, Span, month_runs, wall_strings

DANISH_MONTHS = [
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
]

FILES = {  # file name -> (column name, unit) of Celle 6, as in the real monthly trio
    "MortenSDUData.csv": [
        ("RH Zone1", "RH%"),
        ("CO2", "ppm"),
        ("CO2 status", ""),
        ("Luft temp", "°C"),
        ("Flow1", "°C"),
    ],
    "MortenSDUData2.csv": [("Flow2", "°C"), ("Vindue1", "%"), ("Vindue2", "%"), ("Gardin1", "%"), ("Gardin3", "%")],
    "MortenSDUData3.csv": [("Gardin4", "%"), ("Lys", "μmol"), ("Regn", ""), ("Udetemp", "°C"), ("Udelys", "W/m2")],
}


def write_morten(
    out: Path, span: Span, grid: Grid, outdoor: Outdoor, c: Climate, rng: np.random.Generator
) -> list[Path]:
    """Per UTC+1 month: two hourly files and one file holding a single whole-period mean row."""
    idx = grid.index(span.cet_start, span.cet_end)

    def hourly(x: np.ndarray) -> np.ndarray:
        return x[idx].reshape(-1, 3600 // STEP).mean(axis=1)

    series = {
        "MortenSDUData.csv": [c.rh, c.co2, c.dosing, c.air, c.pipe1],
        "MortenSDUData2.csv": [c.pipe2, c.vent_lee, c.vent_wind, c.curtain, c.shade],
        "MortenSDUData3.csv": [c.curtain, c.par, outdoor.rain, outdoor.temperature, outdoor.radiation],
    }
    hours = np.column_stack([hourly(x) for name in FILES for x in series[name]])
    starts = span.cet_start + 3600 * np.arange(len(hours))
    labels = np.array(_cet_minutes(starts))
    end_labels = _cet_minutes(starts + 3600)

    written = []
    for month, rows in month_runs(labels.astype("U7")):
        year, number = month.split("-")
        folder = out / "aarslev" / f"{DANISH_MONTHS[int(number) - 1]}{year}"
        block = hours[rows]
        start_col = labels[rows].tolist()
        end_col = [f"{s[:14]}59" for s in start_col[:-1]] + [end_labels[rows.stop - 1]]
        for k, (name, columns) in enumerate(FILES.items()):
            header = "Start,End," + ",".join(f"Celle 6.{col} (Celle 6) [{unit}]" for col, unit in columns)
            part = block[:, 5 * k : 5 * k + 5].copy()
            if name == "MortenSDUData2.csv":
                mean = ",".join(f"{v:g}" for v in np.round(part.mean(axis=0), 1) + 0.0)
                lines = [header, f"{start_col[0]},{end_col[-1]},{mean}"]
            else:
                lines = [header] + _rows(name, start_col, end_col, part, rng)
            written.append(write_lines(folder / name, lines))
    return written


def _rows(name: str, starts: list[str], ends: list[str], part: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Hourly rows with the export's defects: a garbage float and empty cells, or an all-zero hour."""
    cells = text_columns(part, lambda v: f"{v:.1f}", 1)
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


def _cet_minutes(t: np.ndarray) -> list[str]:
    """`YYYY-MM-DD HH:MM` on the fixed UTC+1 clock, the MortenSDU Start/End spelling."""
    return [s[:16].replace("T", " ") for s in wall_strings(t + CET).tolist()]
