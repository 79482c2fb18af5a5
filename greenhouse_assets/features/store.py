"""Reading measurements from and writing features to TimescaleDB.

The feature layer reads nothing but `timeseries.measurements` (rows flagged anything other than
`ok` — sentinels, logger resets, out-of-range values — never reach a window). A partition's rows
are replaced in one transaction (delete the windows it owns, COPY the new ones), so re-running a
day gives the same tables and a failed run leaves the previous ones.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from importlib.metadata import version

import polars as pl
import psycopg

MEASUREMENT_SCHEMA = {
    "time": pl.Datetime("us", "UTC"),
    "site": pl.String,
    "zone": pl.String,
    "variable": pl.String,
    "value": pl.Float64,
}


def read_measurements(conn: psycopg.Connection, lo: datetime, hi: datetime) -> pl.DataFrame:
    rows = conn.execute(
        "SELECT time, site, zone, variable, value FROM timeseries.measurements "
        "WHERE quality_flag = 'ok' AND time >= %s AND time < %s ORDER BY site, zone, variable, time",
        (lo, hi),
    ).fetchall()
    return pl.DataFrame(rows, schema=MEASUREMENT_SCHEMA, orient="row")


def _copy(conn: psycopg.Connection, table: str, frame: pl.DataFrame) -> None:
    if frame.is_empty():
        return
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.f+00", null_value="")
    with conn.cursor().copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())


def replace_windows(
    conn: psycopg.Connection, lo: datetime, hi: datetime, windows: pl.DataFrame, features: pl.DataFrame
) -> None:
    """Replace every window starting in [lo, hi) and its features, in the caller's transaction."""
    for table in ("features.extracted_features", "features.windows"):
        conn.execute(f"DELETE FROM {table} WHERE window_start >= %s AND window_start < %s", (lo, hi))
    _copy(conn, "features.windows", windows)
    _copy(conn, "features.extracted_features", features)


def library_versions() -> dict[str, str]:
    return {name: version(name) for name in ("tsfresh", "numpy", "pandas", "polars", "scipy", "statsmodels")}


def upsert_metadata(conn: psycopg.Connection, rows: list[dict]) -> None:
    """One row per feature name: algorithm, parameters, library versions, window spec."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO features.feature_metadata (feature, algorithm, parameters, library_versions, window_spec) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (feature) DO UPDATE SET algorithm = EXCLUDED.algorithm, "
            "parameters = EXCLUDED.parameters, library_versions = EXCLUDED.library_versions, "
            "window_spec = EXCLUDED.window_spec, updated_at = now()",
            [
                (
                    r["feature"],
                    r["algorithm"],
                    json.dumps(r["parameters"]),
                    json.dumps(r["library_versions"]),
                    json.dumps(r["window_spec"]),
                )
                for r in rows
            ],
        )
