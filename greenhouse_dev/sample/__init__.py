"""Deterministic sample files in the exact formats of the real exports (shared/data/real).

Why: the platform has to be exercised and benchmarked end to end on data that looks byte for byte
like the climate-computer exports, at any length, without shipping real data. One physical model
per greenhouse (`climate`) drives every file of that greenhouse, so files that overlap in the real
world (an Aarslev month CSV and its sMAP JSON, MortenSDU hourly data and celle 6) carry the same
values.

Format facts were copied from the real files, not guessed; each exporter's docstring lists them:
- `knudjepsen`: `NO3_LAMPEGRP_1.csv`, 5-minute rows on a fixed UTC+1 clock.
- `aarslev`: per cell the monthly `output-*.csv` (Danish local time with DST) and its sMAP JSON.
- `morten`: the hourly `MortenSDUData*.csv` trio of celle 6, fixed UTC+1 clock.
- `weather`: measured weather and forecast, `data_<months>_<year>.csv`.
- `prices`: SYNTHETIC spot prices in the Energi Data Service `Elspotprices` CSV format,
  `prices/Elspotprices_SYNTHETIC_<first>_<last>.csv` (labelled synthetic in name and rows), one day
  beyond the climate data: tomorrow's day-ahead prices, which the planner uses.
`timeline` holds the clocks and the shared 5-minute grid; `output` and `defects` the helpers every
exporter uses.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from greenhouse_dev.sample.aarslev import write_aarslev_cell
from greenhouse_dev.sample.climate import CELLE, KNUDJEPSEN, simulate_house, simulate_outdoor
from greenhouse_dev.sample.knudjepsen import TRAILING_ROWS, write_knudjepsen
from greenhouse_dev.sample.morten import write_morten
from greenhouse_dev.sample.prices import write_prices
from greenhouse_dev.sample.timeline import CET, STEP, Grid, Span, copenhagen_offset
from greenhouse_dev.sample.weather import write_weather

__all__ = ["generate_sample"]


def generate_sample(out: Path, days: int = 21, seed: int = 42, start: str = "2014-03-17") -> list[Path]:
    """Write Knudjepsen and Aarslev sample files under `out`; return the written paths, sorted."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    out = Path(out)
    span = Span(date.fromisoformat(start), days)
    t0 = min(span.cet_start, span.local_start)
    t1 = max(span.cet_end + TRAILING_ROWS * STEP, span.local_end)
    grid = Grid(np.arange(t0, t1, STEP, dtype=np.int64))
    # Children are fixed by their index, so adding one leaves the earlier streams (and files) as they were.
    rng = dict(
        zip(
            ["outdoor", "knudjepsen", "celle5", "celle6", "morten", "weather", "prices"],
            np.random.default_rng(seed).spawn(7),
        )
    )

    outdoor = simulate_outdoor(grid.t, rng["outdoor"])
    knud = simulate_house(KNUDJEPSEN, grid.t, np.full(grid.t.shape, CET), outdoor, rng["knudjepsen"])
    written = [write_knudjepsen(out, span, grid, outdoor, knud, rng["knudjepsen"])]
    local_offset = copenhagen_offset(grid.t)
    for cell, house in CELLE.items():
        climate = simulate_house(house, grid.t, local_offset, outdoor, rng[f"celle{cell}"])
        written += write_aarslev_cell(out, cell, span, grid, outdoor, climate, rng[f"celle{cell}"])
        if cell == 6:
            written += write_morten(out, span, grid, outdoor, climate, rng["morten"])
    written.append(write_weather(out, span, grid, outdoor, rng["weather"]))
    written.append(write_prices(out, span, rng["prices"]))
    return sorted(written)
