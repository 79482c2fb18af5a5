"""Synthetic electricity spot prices in Energi Data Service's `Elspotprices` CSV export format.

SYNTHETIC, not market data: the file name says so (`Elspotprices_SYNTHETIC_<first>_<last>.csv`) and
every row carries a `Note` column saying so. Shaped like Nordic day-ahead prices of 2014: a level of
~30 EUR/MWh drifting from day to day, a double daily peak (morning and early evening, Danish local
time) over a night trough, lower and flatter weekends, DK2 a little above DK1, DKK = EUR x 7.4626
(the 2014 mean rate; the krone is pegged to the euro).

Format as the site exports it: `;` delimited, decimal comma, `HourUTC;HourDK;PriceArea;SpotPriceDKK;
SpotPriceEUR`, hours as `YYYY-MM-DD HH:MM`, newest hour first, both areas per hour, CRLF. HourDK is the
Danish wall clock, so the October DST day repeats its 02:00 (the platform reads time from HourUTC).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from greenhouse_dev.sample.climate import smooth_noise
from greenhouse_dev.sample.output import write_lines
from greenhouse_dev.sample.timeline import Span, copenhagen_offset, wall_strings

DKK_PER_EUR = 7.4626
AREAS = {"DK1": 1.0, "DK2": 1.06}  # area: price level relative to DK1
NOTE = "SYNTHETIC sample data (greenhouse_dev.sample), not market prices"
HEADER = "HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR;Note"


def file_name(span: Span) -> str:
    last = span.first + timedelta(days=span.days - 1)
    return f"Elspotprices_SYNTHETIC_{span.first.isoformat()}_{last.isoformat()}.csv"


def hourly_prices(span: Span, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch seconds of each hour of the span's Danish local days, DK1 price in EUR/MWh)."""
    hours = np.arange(span.local_start, span.local_end, 3600, dtype=np.int64)
    local = hours + copenhagen_offset(hours)
    hour_of_day = (local % 86400) / 3600
    weekday = ((local // 86400) + 3) % 7  # 1970-01-01 was a Thursday (3); 5, 6 = Saturday, Sunday
    weekend = weekday >= 5
    morning = np.exp(-0.5 * ((hour_of_day - 8.5) / 1.6) ** 2)
    evening = np.exp(-0.5 * ((hour_of_day - 18.5) / 1.8) ** 2)
    night = np.exp(-0.5 * ((hour_of_day - 3.5) / 2.0) ** 2)
    shape = np.where(
        weekend,
        0.85 + 0.10 * morning + 0.18 * evening - 0.12 * night,
        0.90 + 0.35 * morning + 0.30 * evening - 0.25 * night,
    )
    level = 30.0 + smooth_noise(rng, len(hours), 24, 4.0)
    eur = np.maximum(level * shape + rng.normal(0, 1.2, len(hours)), -5.0)
    return hours, eur


def write_prices(out: Path, span: Span, rng: np.random.Generator) -> Path:
    """The sample's days and the day after: day-ahead prices for tomorrow are published today (Nord Pool's
    auction closes at noon), so the planner has tomorrow's prices as a grower would."""
    span = Span(span.first, span.days + 1)
    hours, dk1 = hourly_prices(span, rng)
    utc = wall_strings(hours)
    dk = wall_strings(hours + copenhagen_offset(hours))
    lines = [HEADER]
    for i in reversed(range(len(hours))):  # newest first, as the site exports
        for area, factor in AREAS.items():
            eur = round(float(dk1[i]) * factor, 2)
            dkk = round(eur * DKK_PER_EUR, 2)
            lines.append(
                f"{utc[i][:16].replace('T', ' ')};{dk[i][:16].replace('T', ' ')};{area};"
                f"{_comma(dkk)};{_comma(eur)};{NOTE}"
            )
    return write_lines(out / "prices" / file_name(span), lines)


def _comma(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")
