"""Knudjepsen `NO3_LAMPEGRP_1.csv`: 5-minute rows on a fixed UTC+1 clock.

UTF-8, CRLF, `;`, three quoted header rows, quoted `dd-mm-yyyy HH:MM:SS`, bare values with
decimal comma and at most two decimals, missing values `""` over whole rows, trailing rows whose
values are all `""`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from greenhouse_dev.sample.climate import Climate, Outdoor
from greenhouse_dev.sample.defects import gap_lengths, place_blocks
from greenhouse_dev.sample.output import text_columns, write_lines
from greenhouse_dev.sample.timeline import CET, STEP, Grid, Span, wall_strings

TRAILING_ROWS = 12  # one hour of all-empty rows after the span, like the real file's tail

COLUMNS = [  # (name, controller point, unit) exactly as in NO3_LAMPEGRP_1.csv
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


def write_knudjepsen(
    out: Path, span: Span, grid: Grid, outdoor: Outdoor, climate: Climate, rng: np.random.Generator
) -> Path:
    """NO3_LAMPEGRP_1.csv: 5-minute rows on a UTC+1 clock, gaps as whole empty rows, empty tail."""
    idx = grid.index(span.cet_start, span.cet_end)
    c = climate
    values = np.column_stack(
        [
            c.air[idx],
            outdoor.temperature[idx],
            outdoor.radiation[idx],
            c.co2[idx],
            c.shade[idx],
            c.curtain[idx],
            c.lamps[idx],
            c.deficit_gm3[idx],
            c.pipe1[idx],
            c.pipe2[idx],
        ]
    )
    gaps = gap_lengths(rng, span.days, rows_per_hour=12, long_hours=24 + rng.uniform(-3, 3))
    for block in place_blocks(rng, len(values), gaps):
        values[block] = np.nan
    values[rng.choice(len(values), 2, replace=False), 6] = np.nan  # lone lamp-status dropouts
    values = np.vstack([values, np.full((TRAILING_ROWS, values.shape[1]), np.nan)])

    wall = wall_strings(span.cet_start + CET + STEP * np.arange(len(values)))
    stamps = [f'"{s[8:10]}-{s[5:7]}-{s[:4]} {s[11:]}"' for s in wall.tolist()]
    cells = [[f or '""' for f in column] for column in text_columns(values, _fmt_comma2, 2)]
    header = ['"";' + ";".join(f'"{col[i]}"' for col in COLUMNS) for i in range(3)]
    rows = [";".join(parts) for parts in zip(stamps, *cells)]
    return write_lines(out / "knudjepsen" / "NO3_LAMPEGRP_1.csv", header + rows)


def _fmt_comma2(v: float) -> str:
    """At most two decimals, no trailing zeros, decimal comma."""
    return f"{v:.2f}".rstrip("0").rstrip(".").replace(".", ",")
