"""Measured weather beside a forecast, like `data_jan_feb_2014.csv`.

`;`, epoch-ms timestamps at the whole UTC hours of the Danish local days, three decimals, no
newline after the last row.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from greenhouse_dev.sample.climate import Outdoor, smooth_noise
from greenhouse_dev.sample.output import text_columns, write_lines
from greenhouse_dev.sample.timeline import STEP, Grid, Span

ENGLISH_ABBR = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def write_weather(out: Path, span: Span, grid: Grid, outdoor: Outdoor, rng: np.random.Generator) -> Path:
    """Hourly measured weather beside a forecast whose errors drift slowly."""
    idx = grid.index(span.local_start, span.local_end)
    per_hour = 3600 // STEP
    n = len(idx)
    cloud_forecast = np.clip(outdoor.cloud_daily[idx] + smooth_noise(rng, n, 36, 0.2), 0, 1)
    radiation_forecast = outdoor.clear[idx] * (1 - 0.75 * cloud_forecast**3.4)
    temperature = outdoor.temperature[idx][::per_hour]
    values = np.column_stack(
        [
            temperature + smooth_noise(rng, len(temperature), 6, 1.0),
            radiation_forecast.reshape(-1, per_hour).mean(axis=1),
            outdoor.radiation[idx].reshape(-1, per_hour).mean(axis=1),
            temperature,
        ]
    )
    epoch_ms = (grid.t[idx][::per_hour] * 1000).tolist()
    cells = text_columns(values, lambda v: f"{v:.3f}", 3)
    lines = ["timestamp;temperature_forecast;sun_radiation_forecast;sun_radiation;temperature"]
    lines += [";".join(parts) for parts in zip(map(str, epoch_ms), *cells)]
    return write_lines(out / "aarslev" / _file_name(span), lines, final_newline=False)


def _file_name(span: Span) -> str:
    """`data_jan_feb_2014.csv` style: first and last month of the span, year(s) at the end."""
    first, last = span.first, span.first + timedelta(days=span.days - 1)
    if (first.year, first.month) == (last.year, last.month):
        parts = [ENGLISH_ABBR[first.month - 1], str(first.year)]
    elif first.year == last.year:
        parts = [ENGLISH_ABBR[first.month - 1], ENGLISH_ABBR[last.month - 1], str(first.year)]
    else:
        parts = [ENGLISH_ABBR[first.month - 1], str(first.year), ENGLISH_ABBR[last.month - 1], str(last.year)]
    return "data_" + "_".join(parts) + ".csv"
