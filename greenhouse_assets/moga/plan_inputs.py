"""What the hourly planner and the backtest read: hourly weather, forecasts, spot prices and the climate
the grower ran, from the database only.

Weather for a planned UTC day, per variable (outdoor temperature, radiation), in this order:
- `forecast`: the site's `<variable>_forecast` series (e.g. `temperature_forecast` and
  `sun_radiation_forecast` of the Aarslev weather exports) covers at least `MIN_HOURS` of the day;
- `persistence`: the last measured day before it with at least `MIN_HOURS` hours, hour by hour;
- neither: no plan for the zone, and the reason says so.
Missing hours inside a day are filled from the nearest hour with a value. Weather is per site: the
climate computer (Knudjepsen) or the weather mast (Aarslev, zone `outdoor`) logs it once.

Electricity per hour: the site's spot price (`timeseries.site_electricity_prices`, its price area)
plus the grid tariff and taxes of sites.yaml (`electricity_grid_eur_per_kwh`) when at least `MIN_HOURS`
hours have a price (the last hours of a UTC day belong to the next Danish day, whose prices come a
day later; they are filled from the nearest priced hour, and the source says how many); otherwise the flat `electricity_eur_per_kwh` of sites.yaml, and the source says so.

The grower's climate per zone and hour: lamp status (share of the hour on), air temperature, vent
opening (lee and wind side averaged) and CO2. A day is complete for a zone when air temperature,
lamp status and the site's outdoor temperature and radiation have all 24 hours; vents and CO2,
when not logged, count as shut and as ambient (400 ppm), which the backtest states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import psycopg

from greenhouse_assets.moga import profiles

MIN_HOURS = 20
WEATHER = {"outdoor_temperature": "outdoor_temperature_forecast", "radiation": "radiation_forecast"}
ZONE_VARIABLES = ("air_temperature", "lamp_status", "vent_position_lee", "vent_position_wind", "co2")
HOURLY = """
SELECT site, zone, variable, (extract(epoch FROM time_bucket('1 hour', time)))::bigint AS hour, avg(value)
  FROM timeseries.measurements
 WHERE quality_flag IN ('ok', 'anomaly') AND variable = ANY(%(variables)s)
   AND time >= %(start)s AND time < %(end)s
 GROUP BY 1, 2, 3, 4
"""


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass
class HourlyArchive:
    """Hourly means per (site, zone, variable), as {epoch hour: value}; site weather pooled over zones."""

    values: dict[tuple[str, str, str], dict[int, float]]
    pooled: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        conn: psycopg.Connection,
        start: datetime,
        end: datetime,
        variables: tuple[str, ...] = (*WEATHER, *WEATHER.values(), *ZONE_VARIABLES),
    ) -> HourlyArchive:
        values: dict[tuple[str, str, str], dict[int, float]] = {}
        for site, zone, variable, hour, value in conn.execute(
            HOURLY, {"variables": list(variables), "start": start, "end": end}
        ).fetchall():
            values.setdefault((site, zone, variable), {})[int(hour)] = float(value)
        return cls(values)

    def site_series(self, site: str, variable: str) -> dict[int, float]:
        """The variable's hourly means over every zone of the site that logs it."""
        if (site, variable) in self.pooled:
            return self.pooled[(site, variable)]
        pooled: dict[int, list[float]] = {}
        for (s, _, v), series in self.values.items():
            if s == site and v == variable:
                for hour, value in series.items():
                    pooled.setdefault(hour, []).append(value)
        self.pooled[(site, variable)] = {hour: float(np.mean(v)) for hour, v in pooled.items()}
        return self.pooled[(site, variable)]

    def zone_series(self, site: str, zone: str, variable: str) -> dict[int, float]:
        return self.values.get((site, zone, variable), {})


def day_hours(day: date) -> np.ndarray:
    return int(day_start(day).timestamp()) + 3600 * np.arange(24)


def day_values(series: dict[int, float], day: date, min_hours: int = MIN_HOURS) -> np.ndarray | None:
    """(24,) the day's hourly values with gaps filled from the nearest hour, or None below `min_hours`."""
    hours = day_hours(day)
    present = np.array([h in series for h in hours])
    if present.sum() < min_hours:
        return None
    known = np.flatnonzero(present)
    values = np.array([series[int(hours[i])] for i in known])
    nearest = known[np.abs(np.arange(24)[:, None] - known[None, :]).argmin(axis=1)]
    return values[np.searchsorted(known, nearest)]


def weather_for(archive: HourlyArchive, site: str, day: date) -> tuple[dict[str, np.ndarray], dict[str, str]] | None:
    """({variable: (24,)}, {variable: source}) for the planned day, forecast first, else persistence."""
    values, sources = {}, {}
    for variable, forecast_variable in WEATHER.items():
        forecast = day_values(archive.site_series(site, forecast_variable), day)
        if forecast is not None:
            values[variable], sources[variable] = forecast, f"forecast ({forecast_variable})"
            continue
        measured = archive.site_series(site, variable)
        earlier = sorted(
            {datetime.fromtimestamp(h, UTC).date() for h in measured if h < day_start(day).timestamp()}, reverse=True
        )
        for previous in earlier:
            persisted = day_values(measured, previous)
            if persisted is not None:
                values[variable], sources[variable] = persisted, f"persistence (measured {previous})"
                break
        else:
            return None
    return values, sources


def measured_weather(archive: HourlyArchive, site: str, day: date) -> dict[str, np.ndarray] | None:
    """The day's measured outdoor temperature and radiation, all 24 hours, or None."""
    values = {v: day_values(archive.site_series(site, v), day, 24) for v in WEATHER}
    return None if any(v is None for v in values.values()) else values


def electricity_prices(
    conn: psycopg.Connection, site: str, day: date, config: dict | None = None
) -> tuple[np.ndarray, str]:
    """((24,) EUR per kWh, source) for the site's UTC day: spot + grid tariff, else the flat price."""
    config = config or profiles.load_config()
    site_prices = profiles.prices(site, config)
    grid = ((config["sites"].get(site, {}).get("prices") or {}).get("electricity_grid_eur_per_kwh") or {}).get("value")
    spot = {}
    if conn.execute("SELECT to_regclass('timeseries.site_electricity_prices')").fetchone()[0] is not None:
        spot = {
            int(h): float(p)
            for h, p in conn.execute(
                """SELECT extract(epoch FROM hour_utc)::bigint, price_eur_per_mwh FROM timeseries.site_electricity_prices
                WHERE site = %s AND hour_utc >= %s AND hour_utc < %s AND price_eur_per_mwh IS NOT NULL""",
                (site, day_start(day), day_start(day) + timedelta(days=1)),
            ).fetchall()
        }
    filled = day_values(spot, day)
    if grid is not None and filled is not None:
        missing = sum(int(h) not in spot for h in day_hours(day))
        gaps = f", {missing} hour(s) filled from the nearest priced hour" if missing else ""
        return filled / 1000.0 + float(
            grid
        ), f"spot (timeseries.site_electricity_prices) + grid tariff {float(grid):g} EUR/kWh{gaps}"
    why = (
        "no grid tariff in sites.yaml"
        if grid is None
        else f"{sum(int(h) in spot for h in day_hours(day))} of 24 hours have a spot price, {MIN_HOURS} needed"
    )
    return np.full(
        24, site_prices.electricity_eur_per_kwh
    ), f"flat sites.yaml price {site_prices.electricity_eur_per_kwh:g} EUR/kWh ({why})"


def latest_zone_days(conn: psycopg.Connection) -> dict[tuple[str, str], date]:
    """Per zone that logs air temperature: its last UTC day with data."""
    return {
        (s, z): d
        for s, z, d in conn.execute(
            """SELECT site, zone, (max(time) AT TIME ZONE 'UTC')::date FROM timeseries.measurements
            WHERE variable = 'air_temperature' AND quality_flag IN ('ok', 'anomaly') GROUP BY 1, 2"""
        ).fetchall()
    }


def grower_climate(archive: HourlyArchive, site: str, zone: str, day: date) -> dict[str, np.ndarray] | None:
    """What the grower ran, per hour: lamps (0…1), temperature, vent opening %, CO2 ppm; None if incomplete."""
    temperature = day_values(archive.zone_series(site, zone, "air_temperature"), day, 24)
    lamps = day_values(archive.zone_series(site, zone, "lamp_status"), day, 24)
    if temperature is None or lamps is None:
        return None
    vents = [
        v
        for v in (
            day_values(archive.zone_series(site, zone, name), day, 24)
            for name in ("vent_position_lee", "vent_position_wind")
        )
        if v is not None
    ]
    co2 = day_values(archive.zone_series(site, zone, "co2"), day, 24)
    return {
        "lamps": np.clip(lamps, 0.0, 1.0),
        "temperature": temperature,
        "vent_pct": np.mean(vents, axis=0) if vents else np.zeros(24),
        "co2": co2 if co2 is not None else np.full(24, 400.0),
        "logged": [name for name, v in (("vents", vents), ("co2", co2)) if v is not None and len(v)],
    }


def energy_parameters(models: dict[str, dict]) -> tuple[dict, str]:
    """(U, solar gain, baseline) the plan uses and what they are: the zone's energy model when it is
    validated, or the literature heat balance of the site's cover type it fell back to (status
    `literature`, the rejected fit's reason kept); else the generic values of `calibration.LITERATURE`,
    labelled with the model's status."""
    from greenhouse_assets.moga.calibration import LITERATURE

    energy = models.get("energy")
    if energy is not None and energy["status"] == "validated":
        return {k: float(energy["parameters"][k]) for k in LITERATURE}, "fitted (energy model validated)"
    if energy is not None and energy["status"] == "literature":
        return (
            {k: float(energy["parameters"][k]) for k in LITERATURE},
            f"literature heat balance of the cover type ({energy['reason']})",
        )
    status = "no energy model" if energy is None else f"energy model {energy['status']}: {energy['reason']}"
    return dict(LITERATURE), f"literature values {LITERATURE} ({status})"


def hourly_day(
    day: date,
    weather: dict[str, np.ndarray],
    electricity: np.ndarray,
    models: dict[str, dict],
    crop: profiles.CropProfile,
    greenhouse: profiles.Greenhouse,
    prices: profiles.Prices,
    sources: dict,
    energy: dict | None = None,
):
    """The `hourly.HourlyDay` of one zone: weather, prices, energy and light parameters, crop limits."""
    from greenhouse_assets.moga.hourly import HourlyDay

    if energy is None:
        energy, label = energy_parameters(models)
        sources = {**sources, "energy": label}
    growth = (models.get("growth") or {}).get("parameters") or {}
    return HourlyDay(
        day=day,
        outdoor_temperature_c=np.asarray(weather["outdoor_temperature"], dtype=float),
        radiation_w_m2=np.asarray(weather["radiation"], dtype=float),
        electricity_eur_per_kwh=electricity,
        u_value_w_m2k=energy["u_value_w_m2k"],
        solar_gain_fraction=energy["solar_gain_fraction"],
        baseline_kwh_m2=energy["baseline_kwh_m2"],
        lamp_efficacy_umol_j=greenhouse.lamp_efficacy_umol_j,
        installed_lamp_ppfd=greenhouse.installed_lamp_ppfd,
        transmission=float(growth.get("transmission", greenhouse.transmission)),
        heat_eur_per_kwh=prices.heat_eur_per_kwh,
        co2_eur_per_kg=prices.co2_eur_per_kg,
        max_light_period_h=crop.max_light_period_h,
        short_day=crop.phase == "short_day",
        dli_min_mol_m2=crop.dli_min_mol_m2_d,
        dli_max_mol_m2=crop.dli_max_mol_m2_d,
        heating_day_bounds=(crop.temperature_day_min_c, crop.temperature_day_max_c),
        heating_night_bounds=(crop.temperature_night_min_c, crop.temperature_night_max_c),
        infiltration_ach=greenhouse.infiltration_ach,
        sources=sources,
    )
