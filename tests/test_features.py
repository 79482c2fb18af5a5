"""Feature assets against the real test database: hand-checked values, coverage, incremental and idempotent runs.

Measurements are inserted directly into `timeseries.measurements` (no files, no dbt), so these
tests also prove the feature layer needs nothing but that table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import numpy as np
import psycopg
import pytest

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.features.assets import extracted_features, feature_importance
from greenhouse_assets.defs.resources import PostgresResource

D1 = datetime(2014, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def diurnal_day(day: datetime, *, scale: float = 1.0, missing: dict[str, slice] | None = None) -> list[tuple]:
    """One 5-minute day: air 20 + 5·sin(2πt) with a +2 °C step at noon, lamps 00–06, par 500 06–18, RH 70 %, pipe 40 °C."""
    rows, missing = [], missing or {}
    frac = np.arange(288) / 288
    series = {
        "air_temperature": 20 + 5 * np.sin(2 * np.pi * frac) + 2 * (frac >= 0.5),
        "relative_humidity": np.full(288, 70.0),
        "par": np.where((frac >= 0.25) & (frac < 0.75), 500.0 * scale, 0.0),
        "lamp_status": (frac < 0.25).astype(float),
        "pipe_temperature_1": np.full(288, 40.0),
        "co2": 400 + 200 * ((frac >= 0.25) & (frac < 0.5)),
    }
    for variable, values in series.items():
        keep = np.ones(288, dtype=bool)
        keep[missing.get(variable, slice(0, 0))] = False
        rows += [
            (day + i * STEP, "knudjepsen", "afd3", variable, float(v), "ok") for i, v in enumerate(values) if keep[i]
        ]
    return rows


def insert(url: str, rows: list[tuple]) -> None:
    with (
        psycopg.connect(libpq_url(url)) as conn,
        conn.cursor().copy(
            "COPY timeseries.measurements (time, site, zone, variable, value, quality_flag, unit, file_id) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row((*row, "x", 1))


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(sql, params).fetchall()


def materialize(instance, url: str, asset, partition: str | None = None, config: dict | None = None):
    result = dg.materialize(
        [asset],
        instance=instance,
        partition_key=partition,
        resources={"postgres": PostgresResource(url=url)},
        run_config={"ops": {asset.op.name: {"config": config}}} if config else None,
    )
    assert result.success
    return result.asset_materializations_for_node(asset.op.name)[0].metadata


def day_features(url: str, day: datetime, variable: str) -> dict[str, float]:
    return dict(
        query(
            url,
            "SELECT feature, value FROM features.extracted_features WHERE window_kind = 'day' "
            "AND window_start = %s AND variable = %s",
            day,
            variable,
        )
    )


def test_hand_checkable_sine_with_a_step(clean_platform, instance):
    insert(clean_platform, diurnal_day(D1) + diurnal_day(D1 + timedelta(days=1)))
    # a sentinel and a logger-reset row must not reach the features
    insert(
        clean_platform,
        [
            (D1 + timedelta(seconds=30), "knudjepsen", "afd3", "air_temperature", -2.14748e8, "sentinel"),
            (D1 + timedelta(seconds=90), "knudjepsen", "afd3", "air_temperature", 0.0, "logger_reset"),
        ],
    )
    meta = materialize(instance, clean_platform, extracted_features, "2014-03-01")

    air = day_features(clean_platform, D1, "air_temperature")
    assert air["mean"] == pytest.approx(21.0, abs=1e-12)  # the sine averages out; the step adds 2 °C for half the day
    assert air["maximum"] == pytest.approx(25.0)  # sine peak at 06:00
    assert air["minimum"] == pytest.approx(17.0)  # trough at 18:00, after the step
    assert air["first_location_of_maximum"] == pytest.approx(0.25)
    assert 'agg_autocorrelation__f_agg_"mean"__maxlag_40' in air and "quantile__q_0.9" in air

    dom = day_features(clean_platform, D1, "domain")
    assert dom["air_temperature_mean"] == pytest.approx(21.0)
    assert dom["growing_degree_days_base10"] == pytest.approx(11.0)
    assert dom["dli_mol_m2"] == pytest.approx(500 * 12 * 3600 / 1e6)  # 21.6 mol/m²
    assert dom["lamp_on_hours"] == pytest.approx(6.0)
    assert dom["co2_enrichment_hours"] == pytest.approx(6.0)
    assert dom["heating_degree_hours"] == pytest.approx((40 - 21.0) * 24)
    tetens = 0.6108 * np.exp(17.27 * 20 / (20 + 237.3)) * 0.3
    assert dom["vpd_max_kpa"] > tetens > 0
    # day = par above 20: 06–18, air 20+5 sin during 06–12 and 22+5 sin during 12–18
    frac = np.arange(288) / 288
    temp = 20 + 5 * np.sin(2 * np.pi * frac) + 2 * (frac >= 0.5)
    is_day = (frac >= 0.25) & (frac < 0.75)
    assert dom["day_night_temperature_difference"] == pytest.approx(temp[is_day].mean() - temp[~is_day].mean())

    windows = query(
        clean_platform,
        "SELECT window_kind, count(*), bool_and(status = 'computed'), bool_or(imputed) "
        "FROM features.windows GROUP BY 1 ORDER BY 1",
    )
    assert windows == [("day", 7, True, False), ("rolling_24h", 28, True, False)]  # 6 variables + domain
    assert meta["windows_skipped"].value == 0 and meta["dagster/row_count"].value > 0
    assert query(
        clean_platform,
        "SELECT count(*) FROM features.feature_metadata WHERE feature = 'dli_mol_m2' AND library_versions ? 'tsfresh'",
    ) == [(1,)]


def test_coverage_skip_and_imputation_flags(clean_platform, instance):
    insert(clean_platform, diurnal_day(D1, missing={"par": slice(0, 150), "co2": slice(100, 124)}))
    materialize(instance, clean_platform, extracted_features, "2014-03-01", {"include_rolling": False})
    rows = {
        r[0]: r[1:]
        for r in query(
            clean_platform,
            "SELECT variable, status, coverage, longest_gap_s, imputed FROM features.windows WHERE window_kind = 'day'",
        )
    }
    assert rows["par"][0] == "skipped" and rows["par"][1] == pytest.approx(138 / 288)
    assert rows["co2"] == ("computed", pytest.approx(264 / 288), 24 * 300.0, True)
    assert rows["air_temperature"] == ("computed", 1.0, 0.0, False)
    assert day_features(clean_platform, D1, "par") == {}
    flags = query(
        clean_platform,
        "SELECT variable, bool_and(imputed) FROM features.extracted_features GROUP BY variable ORDER BY variable",
    )
    assert dict(flags)["co2"] is True and dict(flags)["air_temperature"] is False
    assert dict(flags)["domain"] is True  # co2 enrichment used the imputed co2 window
    assert "dli_mol_m2" not in day_features(clean_platform, D1, "domain")  # par was skipped: no silent DLI


def test_incremental_and_idempotent(clean_platform, instance):
    insert(clean_platform, diurnal_day(D1))
    materialize(instance, clean_platform, extracted_features, "2014-03-01")
    first = query(
        clean_platform,
        "SELECT window_kind, window_start, variable, feature, value, computed_at "
        "FROM features.extracted_features ORDER BY 1, 2, 3, 4",
    )

    insert(clean_platform, diurnal_day(D1 + timedelta(days=1)))
    materialize(instance, clean_platform, extracted_features, "2014-03-02")
    after = query(
        clean_platform,
        "SELECT window_kind, window_start, variable, feature, value, computed_at "
        "FROM features.extracted_features WHERE window_start < %s ORDER BY 1, 2, 3, 4",
        D1 + timedelta(days=1),
    )
    assert after == first  # the new day's run did not touch day 1's rows
    days = query(
        clean_platform,
        "SELECT DISTINCT window_start::date FROM features.extracted_features WHERE window_kind = 'day' ORDER BY 1",
    )
    assert days == [(date(2014, 3, 1),), (date(2014, 3, 2),)]

    materialize(instance, clean_platform, extracted_features, "2014-03-02")
    again = query(
        clean_platform,
        "SELECT window_kind, window_start, variable, feature, value "
        "FROM features.extracted_features ORDER BY 1, 2, 3, 4",
    )
    assert len(again) == len(query(clean_platform, "SELECT 1 FROM features.extracted_features"))
    before_rerun = [r[:5] for r in first] + [r for r in again if r[1] >= D1 + timedelta(days=1)]
    assert sorted(again) == sorted(before_rerun)


def test_feature_importance(clean_platform, instance):
    rng = np.random.default_rng(0)
    for i in range(14):
        insert(clean_platform, diurnal_day(D1 + timedelta(days=i), scale=rng.uniform(0.3, 1.5)))
    # one run over 14 partitions, as a single-run backfill launches it
    result = dg.materialize(
        [extracted_features],
        instance=instance,
        resources={"postgres": PostgresResource(url=clean_platform)},
        tags={"dagster/asset_partition_range_start": "2014-03-01", "dagster/asset_partition_range_end": "2014-03-14"},
    )
    assert result.success
    assert query(
        clean_platform, "SELECT count(*) FROM features.windows WHERE window_kind = 'day' AND variable = 'domain'"
    ) == [(14,)]
    meta = materialize(instance, clean_platform, feature_importance)
    rows = query(
        clean_platform,
        "SELECT target, method, count(*), count(DISTINCT data_version) FROM features.feature_importance "
        "GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert [r[:2] for r in rows] == [
        ("energy_use_proxy", "random_forest_impurity"),
        ("energy_use_proxy", "tsfresh_relevance_by"),
        ("growth_proxy", "random_forest_impurity"),
        ("growth_proxy", "tsfresh_relevance_by"),
    ]
    assert all(r[3] == 1 for r in rows)
    relevant = query(
        clean_platform, "SELECT feature FROM features.feature_importance WHERE target = 'growth_proxy' AND relevant"
    )
    assert ("par__mean",) in relevant  # daily light drives the growth proxy
    assert ("domain__dli_mol_m2",) not in query(
        clean_platform, "SELECT feature FROM features.feature_importance WHERE target = 'growth_proxy'"
    )
    assert meta["data_version"].value


def test_feature_importance_with_too_few_days_writes_nothing(clean_platform, instance):
    insert(clean_platform, diurnal_day(D1))
    materialize(instance, clean_platform, extracted_features, "2014-03-01")
    meta = materialize(instance, clean_platform, feature_importance)
    assert query(clean_platform, "SELECT count(*) FROM features.feature_importance") == [(0,)]
    assert "knudjepsen/afd3/growth_proxy" in meta["skipped_too_few_days"].value
