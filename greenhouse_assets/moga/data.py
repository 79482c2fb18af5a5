"""The MOGA layer's only input: one query over the database, never a file.

Daily domain features (window_kind 'day', variable 'domain') from the features layer, with
daily means of the raw measurements (quality_flag 'ok') beside them for outdoor temperature and
radiation, which climate computers often log once per site rather than per zone. `radiation` is
taken as global radiation as logged by the climate computer (outside, on the weather mast); if a
site logs it inside instead, the calibrated transmission and solar-gain factors absorb that,
because both are fitted against it.

`dli_from_par` says, per zone and day, whether the day's `dli_mol_m2` came from a measured PAR
sensor (a computed 'par' day window in features.windows) or, without one, from radiation times
constants (the feature catalog's fallback): a DLI derived from radiation cannot validate a model
whose regressor is radiation.
"""

from __future__ import annotations

import hashlib

import polars as pl
import polars.selectors as cs
import psycopg

DAY_FEATURES = (
    "dli_mol_m2",
    "lamp_on_hours",
    "heating_degree_hours",
    "air_temperature_mean",
    "outdoor_temperature_mean",
    "radiation_sum_mj_m2",
)
SITE_VARIABLES = ("outdoor_temperature", "radiation")
J_PER_DAY_TO_MJ = 86400 / 1e6

QUERY = """
SELECT 'feature' AS origin, site, zone, (window_start AT TIME ZONE 'UTC')::date AS day, feature AS name, value
  FROM features.extracted_features
 WHERE window_kind = 'day' AND variable = 'domain' AND value IS NOT NULL AND feature = ANY(%(features)s)
UNION ALL
SELECT 'measurement', site, zone, (time_bucket('1 day', time) AT TIME ZONE 'UTC')::date, variable, avg(value)
  FROM timeseries.measurements
 WHERE quality_flag = 'ok' AND variable = ANY(%(variables)s)
 GROUP BY site, zone, 4, variable
"""


PAR_DAYS = """
SELECT DISTINCT site, zone, (window_start AT TIME ZONE 'UTC')::date AS day
  FROM features.windows
 WHERE window_kind = 'day' AND variable = 'par' AND status = 'computed'
"""


def load_daily(conn: psycopg.Connection) -> pl.DataFrame:
    """One row per site, zone and UTC day that has the zone's own climate features."""
    rows = conn.execute(QUERY, {"features": list(DAY_FEATURES), "variables": list(SITE_VARIABLES)}).fetchall()
    frame = pl.DataFrame(rows, schema=["origin", "site", "zone", "day", "name", "value"], orient="row")
    if frame.is_empty():
        return pl.DataFrame(
            schema={"site": pl.String, "zone": pl.String, "day": pl.Date}
            | {name: pl.Float64 for name in DAY_FEATURES}
            | {"dli_from_par": pl.Boolean}
        )
    par_days = pl.DataFrame(
        conn.execute(PAR_DAYS).fetchall(), schema={"site": pl.String, "zone": pl.String, "day": pl.Date}, orient="row"
    )
    features = frame.filter(pl.col("origin") == "feature").pivot("name", index=["site", "zone", "day"], values="value")
    for name in DAY_FEATURES:
        if name not in features.columns:
            features = features.with_columns(pl.lit(None, pl.Float64).alias(name))
    site_days = _site_weather(frame, features)
    return (
        features.join(site_days, on=["site", "day"], how="left")
        .with_columns(
            pl.col("outdoor_temperature_mean").fill_null(pl.col("site_outdoor_temperature")),
            pl.col("radiation_sum_mj_m2").fill_null(pl.col("site_radiation_sum")),
        )
        .filter(pl.col("air_temperature_mean").is_not_null())
        .join(par_days.with_columns(pl.lit(True).alias("dli_from_par")), on=["site", "zone", "day"], how="left")
        .with_columns(pl.col("dli_from_par").fill_null(False))
        .select("site", "zone", "day", *DAY_FEATURES, "dli_from_par")
        .sort("site", "zone", "day")
    )


def _site_weather(frame: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """Per site and day: outdoor temperature and radiation sum from any zone, features before raw means."""
    from_features = features.group_by("site", "day").agg(
        pl.col("outdoor_temperature_mean").mean().alias("f_out"), pl.col("radiation_sum_mj_m2").mean().alias("f_rad")
    )
    raw = (
        frame.filter(pl.col("origin") == "measurement")
        .group_by("site", "day")
        .agg(
            pl.col("value").filter(pl.col("name") == "outdoor_temperature").mean().alias("m_out"),
            (pl.col("value").filter(pl.col("name") == "radiation").mean() * J_PER_DAY_TO_MJ).alias("m_rad"),
        )
    )
    return from_features.join(raw, on=["site", "day"], how="full", coalesce=True).select(
        "site",
        "day",
        pl.coalesce("f_out", "m_out").alias("site_outdoor_temperature"),
        pl.coalesce("f_rad", "m_rad").alias("site_radiation_sum"),
    )


def data_version(daily: pl.DataFrame) -> str:
    """Content hash of the inputs: equal inputs give equal model versions and equal fronts."""
    text = daily.sort("site", "zone", "day").with_columns(cs.float().round(9)).write_csv()
    return hashlib.sha256(text.encode()).hexdigest()[:16]
