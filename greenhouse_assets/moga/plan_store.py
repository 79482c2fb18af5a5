"""moga.plan_days, moga.plans and moga.backtest: writes, and the plan's CSV under `<lake>/moga/`.

A zone-day's plan replaces the earlier one (its hours go with it by ON DELETE CASCADE); a backtest
run replaces the rows it recomputed and removes those of days no longer complete, so each table holds
the latest answer per key.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import psycopg
from psycopg.types.json import Jsonb

from greenhouse_assets.ingest.lake_store import LakeStore
from greenhouse_assets.moga.plan_inputs import day_start

HOUR_COLUMNS = (
    "hour",
    "hour_utc",
    "lamp_level",
    "lit",
    "heating_setpoint",
    "expected_temperature",
    "ventilation_limit",
    "co2_setpoint",
    "electricity_price_eur_per_kwh",
    "outdoor_temperature_forecast",
    "radiation_forecast",
    "natural_ppfd",
    "ppfd",
)
BACKTEST_COLUMNS = (
    "site",
    "zone",
    "day",
    "actual_cost_eur_m2",
    "actual_photosynthesis_g_m2",
    "actual_electricity_kwh_m2",
    "actual_lamp_hours",
    "plan_cost_eur_m2",
    "plan_photosynthesis_g_m2",
    "plan_electricity_kwh_m2",
    "plan_lamp_hours",
    "weather_source",
    "price_source",
    "dagster_run_id",
    "inputs_fingerprint",
    "no_plan_reason",
)


def plan_hours(plan: dict, day) -> list[dict]:
    """The 24 rows of moga.plans from an evaluated plan (one row of `hourly.evaluate_plan`) and its day."""
    start = day_start(day.day)
    return [
        {
            "hour": h,
            "hour_utc": start + timedelta(hours=h),
            "lamp_level": float(plan["lamps"][h]),
            "lit": bool(plan["lit"][h]),
            "heating_setpoint": float(plan["setpoint"][h]),
            "expected_temperature": float(plan["temperature"][h]),
            "ventilation_limit": float(plan["ventilation_limit"]),
            "co2_setpoint": float(plan["co2"][h]),
            "electricity_price_eur_per_kwh": float(day.electricity_eur_per_kwh[h]),
            "outdoor_temperature_forecast": float(day.outdoor_temperature_c[h]),
            "radiation_forecast": float(day.radiation_w_m2[h]),
            "natural_ppfd": float(day.natural_ppfd()[h]),
            "ppfd": float(plan["ppfd"][h]),
        }
        for h in range(24)
    ]


def replace_plan(conn: psycopg.Connection, summary: dict, hours: list[dict]) -> None:
    conn.execute(
        "DELETE FROM moga.plan_days WHERE site = %s AND zone = %s AND day = %s",
        (summary["site"], summary["zone"], summary["day"]),
    )
    values = {k: Jsonb(v) if k in ("model_statuses", "bootstrap") and v is not None else v for k, v in summary.items()}
    conn.execute(
        f"INSERT INTO moga.plan_days ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))})",
        list(values.values()),
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO moga.plans (site, zone, day, {', '.join(HOUR_COLUMNS)}) "
            f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(HOUR_COLUMNS))})",
            [(summary["site"], summary["zone"], summary["day"], *(row[c] for c in HOUR_COLUMNS)) for row in hours],
        )


def write_csv(store: LakeStore, key: str, site: str, zone: str, hours: list[dict]) -> str:
    """The plan's hours as CSV at `key` in the lake; its URI."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(["site", "zone", *HOUR_COLUMNS])
    for row in hours:
        writer.writerow(
            [
                site,
                zone,
                *(
                    row[c].isoformat() if c == "hour_utc" else round(row[c], 4) if isinstance(row[c], float) else row[c]
                    for c in HOUR_COLUMNS
                ),
            ]
        )
    return store.write_bytes(key, handle.getvalue().encode("utf-8"))


def backtest_fingerprints(conn: psycopg.Connection) -> dict[tuple, str | None]:
    """{(site, zone, day): inputs_fingerprint} of the stored backtest rows."""
    return {
        (s, z, d): f
        for s, z, d, f in conn.execute("SELECT site, zone, day, inputs_fingerprint FROM moga.backtest").fetchall()
    }


def update_backtest(conn: psycopg.Connection, rows: list[dict], keep: set[tuple]) -> int:
    """Writes the recomputed rows over their keys and deletes every row whose key is neither kept nor written
    (a day no longer complete, a zone gone). Returns the rows deleted that way."""
    keys = {(r["site"], r["zone"], r["day"]) for r in rows}
    stale = [k for k in backtest_fingerprints(conn) if k not in keep and k not in keys]
    with conn.cursor() as cursor:
        cursor.executemany("DELETE FROM moga.backtest WHERE site = %s AND zone = %s AND day = %s", [*keys, *stale])
        cursor.executemany(
            f"INSERT INTO moga.backtest ({', '.join(BACKTEST_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(BACKTEST_COLUMNS))})",
            [tuple(row.get(c) for c in BACKTEST_COLUMNS) for row in rows],
        )
    return len(stale)


def load_backtest(conn: psycopg.Connection) -> list[dict]:
    cursor = conn.execute("SELECT * FROM moga.backtest ORDER BY site, zone, day")
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
