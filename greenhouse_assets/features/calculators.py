"""The curated tsfresh feature set, recomputed for many equal-length windows at once.

tsfresh calls each calculator once per series through a pandas groupby, which costs about a
millisecond per window and feature. Every window of one variable has the same number of samples
(a regular grid, see `windows.py`), so the same arithmetic can run on a 2-D array (windows ×
samples) in one numpy call. Each function below mirrors the tsfresh 0.21 source of the calculator
of the same name operation by operation (same reductions, same special cases: NaN for constant
series where tsfresh gives NaN, 0 where it gives 0), so the values agree to rounding;
`tests/test_features_exact.py` proves ≤ 1e-9 relative error against tsfresh itself.

Features in a settings dict that have no vectorised version here are left to tsfresh (`extract.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from tsfresh.utilities.string_manipulation import convert_to_output_format

# Chosen for climate control: level and setpoint band (mean, quantiles, extremes), daily dose
# (sums, energy), control stability (changes, complexity, peaks, autocorrelation), timing of the
# daily peak/trough (locations, energy per 6 h quarter of a day window) and drift (linear trend).
# All are O(n) per window; none needs the O(n²) entropies of the comprehensive set.
CURATED_FC_PARAMETERS: dict[str, list[dict] | None] = {
    "mean": None, "median": None, "minimum": None, "maximum": None,
    "standard_deviation": None, "variance": None, "root_mean_square": None,
    "sum_values": None, "abs_energy": None,
    "quantile": [{"q": q} for q in (0.1, 0.25, 0.75, 0.9)],
    "skewness": None, "kurtosis": None, "variation_coefficient": None,
    "mean_change": None, "mean_abs_change": None, "absolute_sum_of_changes": None,
    "mean_second_derivative_central": None, "cid_ce": [{"normalize": False}],
    "count_above_mean": None, "count_below_mean": None,
    "longest_strike_above_mean": None, "longest_strike_below_mean": None,
    "first_location_of_maximum": None, "last_location_of_maximum": None,
    "first_location_of_minimum": None, "last_location_of_minimum": None,
    "linear_trend": [{"attr": a} for a in ("slope", "intercept", "rvalue", "stderr")],
    "autocorrelation": [{"lag": 1}],
    "agg_autocorrelation": [{"f_agg": f, "maxlag": 40} for f in ("mean", "median", "var")],
    "ratio_beyond_r_sigma": [{"r": 2}],
    "number_peaks": [{"n": 3}],
    "energy_ratio_by_chunks": [{"num_segments": 4, "segment_focus": i} for i in range(4)],
}

Columns = Iterator[tuple[str, np.ndarray]]


def _simple(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray, list | None], Columns]:
    def calculator(x: np.ndarray, params: list | None) -> Columns:
        yield "", fn(x)
    return calculator


def _per_param(fn: Callable[..., np.ndarray]) -> Callable[[np.ndarray, list | None], Columns]:
    def calculator(x: np.ndarray, params: list | None) -> Columns:
        for p in params:
            yield convert_to_output_format(p), fn(x, **p)
    return calculator


def longest_run(mask: np.ndarray) -> np.ndarray:
    """Longest run of True per row (tsfresh returns 0 when there is none)."""
    count = np.cumsum(mask, axis=1)
    reset = np.maximum.accumulate(np.where(mask, 0, count), axis=1)
    return (count - reset).max(axis=1).astype(float)


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def _quantiles(x: np.ndarray, params: list) -> Columns:
    """All quantiles from one partition of each row (numpy's q-by-q result, computed once)."""
    values = np.quantile(x, [p["q"] for p in params], axis=1)
    for p, row in zip(params, values):
        yield convert_to_output_format(p), row


def _cid_ce(x, normalize):
    if normalize:
        raise NotImplementedError("cid_ce with normalize=True is left to tsfresh")
    d = np.diff(x, axis=1)
    return np.sqrt(_row_dot(d, d))


def _moment(x: np.ndarray, method: str) -> np.ndarray:
    """pandas' skew/kurt over rows. pandas zeroes floating-point noise only in its 1-D path (the one
    tsfresh uses), so rows whose 2-D result is within noise of zero are recomputed through it."""
    values = getattr(pd.DataFrame(x), method)(axis=1, skipna=False).to_numpy().copy()
    for i in np.flatnonzero(np.abs(values) < 1e-8):
        values[i] = getattr(pd.Series(x[i]), method)(skipna=False)
    return values


def _variation_coefficient(x):
    avg = x.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(avg == 0, np.nan, x.std(axis=1) / avg)


def _mean_change(x):
    n = x.shape[1]
    return (x[:, -1] - x[:, 0]) / (n - 1) if n > 1 else np.full(len(x), np.nan)


def _mean_second_derivative_central(x):
    n = x.shape[1]
    if n <= 2:
        return np.full(len(x), np.nan)
    return (x[:, -1] - x[:, -2] - x[:, 1] + x[:, 0]) / (2 * (n - 2))


def _last_location(arg):
    return lambda x: 1.0 - arg(x[:, ::-1], axis=1) / x.shape[1]


def _first_location(arg):
    return lambda x: arg(x, axis=1) / x.shape[1]


def _linear_trend(x: np.ndarray, params: list) -> Columns:
    """scipy.stats.linregress against 0..n-1, as np.cov(bias=1) computes its sums."""
    n = x.shape[1]
    t = np.arange(n, dtype=float)
    tc = t - t.mean()
    ymean = x.mean(axis=1)
    yc = x - ymean[:, None]
    ssxm = tc.dot(tc) * (1.0 / n)
    ssxym = (yc @ tc) * (1.0 / n)
    ssym = _row_dot(yc, yc) * (1.0 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(ssxym / np.sqrt(ssxm * ssym), -1.0, 1.0)
        r = np.where(ssym == 0.0, np.where(ssxym == 0, np.nan, 0.0), r)
        slope = ssxym / ssxm
        stderr = np.zeros(len(x)) if n == 2 else np.sqrt((1 - r**2) * ssym / ssxm / (n - 2))
    values = {"slope": slope, "intercept": ymean - slope * t.mean(), "rvalue": r, "stderr": stderr}
    for p in params:
        yield convert_to_output_format(p), values[p["attr"]]


def _autocorrelation(x, lag):
    n = x.shape[1]
    if n < lag:
        return np.full(len(x), np.nan)
    m = x.mean(axis=1)[:, None]
    products = ((x[:, : n - lag] - m) * (x[:, lag:] - m)).sum(axis=1)
    v = x.var(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(v) <= 1e-8, np.nan, products / ((n - lag) * v))  # np.isclose(v, 0)


def _agg_autocorrelation(x: np.ndarray, params: list) -> Columns:
    """statsmodels `acf(adjusted=True)` as tsfresh calls it: all lags up to n-1, FFT above 1 250 samples."""
    n = x.shape[1]
    maxlag = max(p["maxlag"] for p in params)
    lags = min(maxlag, n - 1)
    xo = x - x.mean(axis=1)[:, None]
    if n > 1250:
        size = _next_fft_size(2 * n + 1)
        spectrum = np.fft.fft(xo, n=size, axis=1)
        acov = np.fft.ifft(spectrum * np.conjugate(spectrum), axis=1)[:, : lags + 1].real
    else:
        padded = np.concatenate([xo, np.zeros((len(x), lags))], axis=1)
        acov = np.einsum("wi,wik->wk", xo, np.lib.stride_tricks.sliding_window_view(padded, lags + 1, axis=1)[:, :n])
    acov = acov / (n - np.arange(lags + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        acf = acov[:, 1:] / acov[:, :1]
    flat = (np.abs(x.var(axis=1)) < 1e-10) | (n == 1)
    acf[flat] = 0.0
    for p in params:
        yield convert_to_output_format(p), getattr(np, p["f_agg"])(acf[:, : p["maxlag"]], axis=1)


def _next_fft_size(target: int) -> int:
    from statsmodels.tsa.stattools._stattools import _next_regular

    return _next_regular(target)


def _ratio_beyond_r_sigma(x, r):
    m = x.mean(axis=1)[:, None]
    return (np.abs(x - m) > r * x.std(axis=1)[:, None]).sum(axis=1) / x.shape[1]


def _number_peaks(x, n):
    length = x.shape[1]
    core = x[:, n : length - n]
    peaks = np.ones(core.shape, dtype=bool)
    for i in range(1, n + 1):
        peaks &= core > x[:, n - i : length - n - i]
        peaks &= core > x[:, n + i : length - n + i]
    return peaks.sum(axis=1).astype(float)


def _energy_ratio_by_chunks(x: np.ndarray, params: list) -> Columns:
    full = (x**2).sum(axis=1)
    for p in params:
        segment = np.array_split(np.arange(x.shape[1]), p["num_segments"])[p["segment_focus"]]
        part = (x[:, segment[0] : segment[-1] + 1] ** 2.0).sum(axis=1) if len(segment) else np.zeros(len(x))
        with np.errstate(divide="ignore", invalid="ignore"):
            yield convert_to_output_format(p), np.where(full == 0, np.nan, part / full)


VECTORISED: dict[str, Callable[[np.ndarray, list | None], Columns]] = {
    "mean": _simple(lambda x: x.mean(axis=1)),
    "median": _simple(lambda x: np.median(x, axis=1)),
    "minimum": _simple(lambda x: x.min(axis=1)),
    "maximum": _simple(lambda x: x.max(axis=1)),
    "standard_deviation": _simple(lambda x: x.std(axis=1)),
    "variance": _simple(lambda x: x.var(axis=1)),
    "root_mean_square": _simple(lambda x: np.sqrt(np.square(x).mean(axis=1))),
    "sum_values": _simple(lambda x: x.sum(axis=1)),
    "abs_energy": _simple(lambda x: _row_dot(x, x)),
    "quantile": _quantiles,
    "skewness": _simple(lambda x: _moment(x, "skew")),
    "kurtosis": _simple(lambda x: _moment(x, "kurt")),
    "variation_coefficient": _simple(_variation_coefficient),
    "mean_change": _simple(_mean_change),
    "mean_abs_change": _simple(lambda x: np.abs(np.diff(x, axis=1)).mean(axis=1)),
    "absolute_sum_of_changes": _simple(lambda x: np.abs(np.diff(x, axis=1)).sum(axis=1)),
    "mean_second_derivative_central": _simple(_mean_second_derivative_central),
    "cid_ce": _per_param(_cid_ce),
    "count_above_mean": _simple(lambda x: (x > x.mean(axis=1)[:, None]).sum(axis=1).astype(float)),
    "count_below_mean": _simple(lambda x: (x < x.mean(axis=1)[:, None]).sum(axis=1).astype(float)),
    "longest_strike_above_mean": _simple(lambda x: longest_run(x > x.mean(axis=1)[:, None])),
    "longest_strike_below_mean": _simple(lambda x: longest_run(x < x.mean(axis=1)[:, None])),
    "first_location_of_maximum": _simple(_first_location(np.argmax)),
    "last_location_of_maximum": _simple(_last_location(np.argmax)),
    "first_location_of_minimum": _simple(_first_location(np.argmin)),
    "last_location_of_minimum": _simple(_last_location(np.argmin)),
    "linear_trend": _linear_trend,
    "autocorrelation": _per_param(_autocorrelation),
    "agg_autocorrelation": _agg_autocorrelation,
    "ratio_beyond_r_sigma": _per_param(_ratio_beyond_r_sigma),
    "number_peaks": _per_param(_number_peaks),
    "energy_ratio_by_chunks": _energy_ratio_by_chunks,
}


def split_settings(fc_parameters: dict) -> tuple[dict, dict]:
    """(calculators we vectorise, calculators left to tsfresh) from one tsfresh settings dict."""
    ours = {k: v for k, v in fc_parameters.items() if k in VECTORISED and not (k == "cid_ce" and any(p["normalize"] for p in v))}
    return ours, {k: v for k, v in fc_parameters.items() if k not in ours}


def compute(x: np.ndarray, fc_parameters: dict) -> dict[str, np.ndarray]:
    """Feature name (tsfresh's, without the column prefix) -> one value per row of `x` (float64, no NaN)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for name, params in fc_parameters.items():
        for suffix, values in VECTORISED[name](x, params):
            out[f"{name}__{suffix}" if suffix else name] = np.asarray(values, dtype=float)
    return out
