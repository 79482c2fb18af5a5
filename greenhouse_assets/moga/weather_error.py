"""How wrong the weather a plan is made with has been: past daily errors, and the planned day redrawn with them.

The plan is made on forecast weather (or persistence, the last measured day); the climate it meets
differs. Per variable (outdoor temperature, radiation) and past UTC day, the error is the day's mean of
(weather the plan would have used − measured), in the variable's unit:
- forecast: dbt's `timeseries.forecast_errors` (`mean_error`, the site's `<variable>_forecast` series
  against the measurement in the same zone), the site's zones averaged;
- persistence: the same measure computed here for persistence (`persistence_errors`): the last
  measured day before each day (as `plan_inputs.weather_for` takes it) against the day itself.
At most `ERROR_DAYS` days before the planned day count (the most recent); below `MIN_ERROR_DAYS` the
variable's error is not propagated, and the interval says so.

`perturbed` redraws the planned day with one past error per variable: the outdoor temperature
shifted by it, the radiation scaled in the hours with sun so its daily sum moves by 24 × the error
(nights stay dark). The daily sums are what drive heat demand and the photosynthesis sum; the
hour-by-hour shape of the error is not in the table and is not resampled. Temperature and radiation
errors are drawn independently.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import numpy as np
import psycopg

from greenhouse_assets.moga.plan_inputs import WEATHER, HourlyArchive, day_start, day_values

if TYPE_CHECKING:  # hourly.py imports pymoo, which the code location must not load (test_foundation)
    from greenhouse_assets.moga.hourly import HourlyDay

ERROR_DAYS = 90
MIN_ERROR_DAYS = 5


def forecast_errors(conn: psycopg.Connection, site: str, variable: str, before: date) -> list[float]:
    """The site's daily mean forecast errors of `variable` before `before`, most recent `ERROR_DAYS`."""
    if conn.execute("SELECT to_regclass('timeseries.forecast_errors')").fetchone()[0] is None:
        return []
    return [
        float(e)
        for (e,) in conn.execute(
            """SELECT avg(mean_error) FROM timeseries.forecast_errors WHERE site = %s AND variable = %s AND day_utc < %s
            GROUP BY day_utc ORDER BY day_utc DESC LIMIT %s""",
            (site, variable, before, ERROR_DAYS),
        ).fetchall()
    ]


def persistence_errors(archive: HourlyArchive, site: str, variable: str, before: date) -> list[float]:
    """Daily mean of (last measured day before − day) for the measured days before `before`, most recent first."""
    series = archive.site_series(site, variable)
    days = sorted({datetime.fromtimestamp(h, UTC).date() for h in series if h < day_start(before).timestamp()})
    values = {d: v for d in days if (v := day_values(series, d)) is not None}
    measured = sorted(values)
    errors = [float(np.mean(values[earlier] - values[day])) for earlier, day in zip(measured, measured[1:])]
    return errors[::-1][:ERROR_DAYS]


def errors_for(
    conn: psycopg.Connection, archive: HourlyArchive, site: str, day: date, sources: dict[str, str]
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """({variable: past errors of the weather source the plan used}, {variable: what they are, or why none})."""
    errors, described = {}, {}
    for variable in WEATHER:
        kind = "forecast" if sources.get(variable, "").startswith("forecast") else "persistence"
        past = (
            forecast_errors(conn, site, variable, day)
            if kind == "forecast"
            else persistence_errors(archive, site, variable, day)
        )
        origin = "day(s) in timeseries.forecast_errors" if kind == "forecast" else "measured day(s)"
        if len(past) < MIN_ERROR_DAYS:
            described[variable] = f"{kind} error of {variable} ({len(past)} past {origin}, {MIN_ERROR_DAYS} needed)"
            continue
        errors[variable] = past
        described[variable] = f"{kind} error of {variable} ({len(past)} past {origin})"
    return errors, described


def perturbed(day: HourlyDay, temperature_error: float = 0.0, radiation_error: float = 0.0) -> HourlyDay:
    """The planned day as it would be had the weather been off by these (plan − measured) daily mean errors."""
    radiation = np.maximum(day.radiation_w_m2, 0.0)
    total = float(radiation.sum())
    scale = max(1.0 - 24.0 * radiation_error / total, 0.0) if total > 0 else 1.0
    return replace(
        day, outdoor_temperature_c=day.outdoor_temperature_c - temperature_error, radiation_w_m2=radiation * scale
    )
