"""The vectorised calculators equal tsfresh's own values, and extraction runs on a Dask cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from tsfresh import extract_features

from greenhouse_assets.features import calculators
from greenhouse_assets.features.extract import ExtractionSpec, extract
from greenhouse_assets.features.windows import DAY, build

pytestmark = pytest.mark.pure

DAY0 = datetime(2014, 3, 1, tzinfo=UTC)


def climate_windows(samples: int, windows: int = 30, seed: int = 0) -> np.ndarray:
    """Diurnal greenhouse-like series: noisy temperature, radiation with night zeros, 0/1 lamps, steps, ties."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / samples
    out = []
    for i in range(windows):
        kind = i % 6
        if kind == 0:
            x = 19 + 4 * np.sin(2 * np.pi * (t - 0.3)) + np.cumsum(rng.normal(0, 0.05, samples))
        elif kind == 1:
            x = np.maximum(0.0, 600 * np.sin(2 * np.pi * (t - 0.25)) + rng.normal(0, 20, samples))
        elif kind == 2:
            x = ((t > 0.1) & (t < 0.1 + rng.uniform(0.2, 0.6))).astype(float)
        elif kind == 3:
            x = np.round(70 + 10 * np.cos(2 * np.pi * t) + rng.normal(0, 2, samples), 1)
        elif kind == 4:
            x = np.full(samples, 21.5)  # a controller holding its setpoint: NaN-producing special cases
        else:
            x = 400 + 300 * (rng.random(samples) < 0.3) + rng.normal(0, 5, samples)
        out.append(x)
    return np.array(out)


def tsfresh_values(x: np.ndarray, settings: dict) -> pd.DataFrame:
    rows, n = x.shape
    frame = pd.DataFrame({"id": np.repeat(np.arange(rows), n), "t": np.tile(np.arange(n), rows), "value": x.ravel()})
    result = extract_features(
        frame, column_id="id", column_sort="t", default_fc_parameters=settings, n_jobs=0, disable_progressbar=True
    ).sort_index()
    return result.rename(columns=lambda c: c.removeprefix("value__"))


def assert_same(ours: dict[str, np.ndarray], theirs: pd.DataFrame) -> None:
    assert set(ours) == set(theirs.columns)
    for name in theirs.columns:
        expected, got = theirs[name].to_numpy(float), ours[name]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=name)
        finite = ~np.isnan(expected)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=0, err_msg=name)


@pytest.mark.parametrize("samples", [24, 144, 288, 1441], ids=["hourly", "10min", "5min", "1min-fft"])
def test_vectorised_features_equal_tsfresh(samples):
    x = climate_windows(samples)
    assert_same(
        calculators.compute(x, calculators.CURATED_FC_PARAMETERS), tsfresh_values(x, calculators.CURATED_FC_PARAMETERS)
    )


def test_gap_filled_windows_equal_tsfresh_on_the_same_samples():
    """Equality holds on what the asset really computes: windows cut from sparse rows and gap-filled."""
    x = climate_windows(288, windows=12, seed=3)
    rng = np.random.default_rng(4)
    times = [DAY0 + timedelta(minutes=5 * i) for i in range(288)]
    rows = []
    for w, series in enumerate(x):
        keep = rng.random(288) > 0.1
        rows += [(t, "s", f"z{w}", "v", float(v)) for t, v, k in zip(times, series, keep) if k]
    frame = pl.DataFrame(
        rows,
        schema={
            "time": pl.Datetime("us", "UTC"),
            "site": pl.String,
            "zone": pl.String,
            "variable": pl.String,
            "value": pl.Float64,
        },
        orient="row",
    )
    batch = build(frame, [DAY0], [DAY], min_coverage=0.5).batches[288]
    assert batch.keys["imputed"].all()
    assert_same(
        calculators.compute(batch.values, calculators.CURATED_FC_PARAMETERS),
        tsfresh_values(batch.values, calculators.CURATED_FC_PARAMETERS),
    )


def test_unimplemented_calculators_go_through_tsfresh():
    ours, rest = calculators.split_settings(
        {"mean": None, "fft_aggregated": [{"aggtype": "centroid"}], "cid_ce": [{"normalize": True}]}
    )
    assert list(ours) == ["mean"] and set(rest) == {"fft_aggregated", "cid_ce"}


def _measurements(days: int = 2) -> pl.DataFrame:
    x = climate_windows(288 * days, windows=6, seed=5)
    times = [DAY0 + timedelta(minutes=5 * i) for i in range(288 * days)]
    return pl.DataFrame(
        [(t, "s", "z", f"var{i}", float(v)) for i, series in enumerate(x) for t, v in zip(times, series)],
        schema={
            "time": pl.Datetime("us", "UTC"),
            "site": pl.String,
            "zone": pl.String,
            "variable": pl.String,
            "value": pl.Float64,
        },
        orient="row",
    )


def test_extraction_runs_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    settings = {**calculators.CURATED_FC_PARAMETERS, "fft_aggregated": [{"aggtype": "centroid"}]}
    frame = _measurements()
    local = extract(frame, [DAY0], ExtractionSpec(fc_parameters=settings))
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as stream,
    ):
        remote = extract(
            frame, [DAY0], ExtractionSpec(fc_parameters=settings, dask_scheduler=cluster.scheduler_address)
        )
    ran = {task["key"][0] if isinstance(task["key"], tuple) else task["key"] for task in stream.data}
    assert any("compute" in str(key) for key in ran), ran
    key = ["window_kind", "window_start", "site", "zone", "variable", "feature"]
    joined = local.features.join(remote.features, on=key, suffix="_dask")
    assert joined.height == local.features.height == remote.features.height
    assert joined.filter(pl.col("feature").str.starts_with("fft_aggregated")).height > 0
    # same windows, different chunking: equal up to the summation order of a matrix product
    np.testing.assert_allclose(joined["value_dask"].to_numpy(), joined["value"].to_numpy(), rtol=1e-12, equal_nan=True)
