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
from functools import cached_property

import numpy as np


def convert_to_output_format(params: dict) -> str:
    """tsfresh's own feature naming; tsfresh (with numba) takes seconds to import, so only on first use."""
    from tsfresh.utilities.string_manipulation import convert_to_output_format as tsfresh_name

    return tsfresh_name(params)


# Chosen for climate control: level and setpoint band (mean, quantiles, extremes), daily dose
# (sums, energy), control stability (changes, complexity, peaks, autocorrelation), timing of the
# daily peak/trough (locations, energy per 6 h quarter of a day window) and drift (linear trend).
# All are O(n) per window; none needs the O(n²) entropies of the comprehensive set.
CURATED_FC_PARAMETERS: dict[str, list[dict] | None] = {
    "mean": None,
    "median": None,
    "minimum": None,
    "maximum": None,
    "standard_deviation": None,
    "variance": None,
    "root_mean_square": None,
    "sum_values": None,
    "abs_energy": None,
    "quantile": [{"q": q} for q in (0.1, 0.25, 0.75, 0.9)],
    "skewness": None,
    "kurtosis": None,
    "variation_coefficient": None,
    "mean_change": None,
    "mean_abs_change": None,
    "absolute_sum_of_changes": None,
    "mean_second_derivative_central": None,
    "cid_ce": [{"normalize": False}],
    "count_above_mean": None,
    "count_below_mean": None,
    "longest_strike_above_mean": None,
    "longest_strike_below_mean": None,
    "first_location_of_maximum": None,
    "last_location_of_maximum": None,
    "first_location_of_minimum": None,
    "last_location_of_minimum": None,
    "linear_trend": [{"attr": a} for a in ("slope", "intercept", "rvalue", "stderr")],
    "autocorrelation": [{"lag": 1}],
    "agg_autocorrelation": [{"f_agg": f, "maxlag": 40} for f in ("mean", "median", "var")],
    "ratio_beyond_r_sigma": [{"r": 2}],
    "number_peaks": [{"n": 3}],
    "energy_ratio_by_chunks": [{"num_segments": 4, "segment_focus": i} for i in range(4)],
}

Columns = Iterator[tuple[str, np.ndarray]]


class Rows:
    """The windows of one batch (rows of `x`) and the intermediates several calculators share.

    Each intermediate is computed once, the way numpy computes it inside the function tsfresh
    calls (`x.mean`, `x - mean`, `np.var`'s sum of squared deviations / n, one sort for every
    order statistic), so sharing changes no value.
    """

    def __init__(self, x: np.ndarray):
        self.x = x
        self.n = x.shape[1]

    @cached_property
    def mean(self) -> np.ndarray:
        return self.x.mean(axis=1)

    @cached_property
    def centered(self) -> np.ndarray:
        return self.x - self.mean[:, None]

    @cached_property
    def var(self) -> np.ndarray:
        return _row_dot(self.centered, self.centered) / self.n if self.n else np.full(len(self.x), np.nan)

    @cached_property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)

    @cached_property
    def sorted(self) -> np.ndarray:
        return np.sort(self.x, axis=1)

    @cached_property
    def abs_changes(self) -> np.ndarray:
        return np.abs(np.diff(self.x, axis=1))

    @cached_property
    def above(self) -> np.ndarray:
        return self.centered > 0  # x > mean (x - mean is 0 only when x == mean)

    @cached_property
    def below(self) -> np.ndarray:
        return self.centered < 0

    def quantile(self, q: float) -> np.ndarray:
        """np.quantile(row, q) (method 'linear') read off the sorted rows."""
        position = q * (self.n - 1)
        lower = int(np.floor(position))
        upper = min(lower + 1, self.n - 1)
        gamma = position - lower
        a, b = self.sorted[:, lower], self.sorted[:, upper]
        diff = b - a
        return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def _simple(fn: Callable[[Rows], np.ndarray]) -> Callable[[Rows, list | None], Columns]:
    def calculator(r: Rows, params: list | None) -> Columns:
        yield "", fn(r)

    return calculator


def _per_param(fn: Callable[..., np.ndarray]) -> Callable[[Rows, list | None], Columns]:
    def calculator(r: Rows, params: list | None) -> Columns:
        for p in params:
            yield convert_to_output_format(p), fn(r, **p)

    return calculator


def longest_run(mask: np.ndarray) -> np.ndarray:
    """Longest run of True per row (tsfresh returns 0 when there is none): one pass over the run edges."""
    rows, n = mask.shape
    padded = np.zeros((rows, n + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded.ravel())
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros(rows)
    if starts.size:
        np.maximum.at(out, starts // (n + 2), (ends - starts).astype(float))
    return out


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def _median(r: Rows) -> np.ndarray:
    middle = r.n // 2
    if r.n % 2:
        return r.sorted[:, middle].copy()
    return (r.sorted[:, middle - 1] + r.sorted[:, middle]) / 2


def _quantiles(r: Rows, params: list) -> Columns:
    for p in params:
        yield convert_to_output_format(p), r.quantile(p["q"])


def _cid_ce(r: Rows, normalize):
    if normalize:
        raise NotImplementedError("cid_ce with normalize=True is left to tsfresh")
    return np.sqrt(_row_dot(r.abs_changes, r.abs_changes))


def _moment(r: Rows, method: str) -> np.ndarray:
    """pandas' skew/kurt over rows (its running-moments kernel, called directly when this pandas has
    it). Rows whose result is within noise of zero are recomputed through `Series.skew/kurt`, the
    1-D path tsfresh uses, so noise-level values cannot differ in relative terms."""
    # pandas (~0.6 s) only here: `windows` imports this module, and the code location imports `windows`.
    import pandas as pd
    from pandas._libs import algos as _pandas_algos

    kernel = getattr(_pandas_algos, f"axis_{method}", None)
    if kernel is not None:
        values = kernel(r.x, 1, False, None)
    else:
        values = getattr(pd.DataFrame(r.x), method)(axis=1, skipna=False).to_numpy().copy()
    for i in np.flatnonzero(np.abs(values) < 1e-8):
        values[i] = getattr(pd.Series(r.x[i]), method)(skipna=False)
    return values


def _variation_coefficient(r: Rows):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r.mean == 0, np.nan, r.std / r.mean)


def _mean_change(r: Rows):
    x = r.x
    return (x[:, -1] - x[:, 0]) / (r.n - 1) if r.n > 1 else np.full(len(x), np.nan)


def _mean_second_derivative_central(r: Rows):
    x, n = r.x, r.n
    if n <= 2:
        return np.full(len(x), np.nan)
    return (x[:, -1] - x[:, -2] - x[:, 1] + x[:, 0]) / (2 * (n - 2))


def _first_location(arg):
    return lambda r: arg(r.x, axis=1) / r.n


def _last_location(arg):
    return lambda r: 1.0 - arg(r.x[:, ::-1], axis=1) / r.n


def _linear_trend(r: Rows, params: list) -> Columns:
    """scipy.stats.linregress against 0..n-1, as np.cov(bias=1) computes its sums."""
    n = r.n
    t = np.arange(n, dtype=float)
    tc = t - t.mean()
    ymean, yc = r.mean, r.centered
    ssxm = tc.dot(tc) * (1.0 / n)
    ssxym = (yc @ tc) * (1.0 / n)
    ssym = _row_dot(yc, yc) * (1.0 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rv = np.clip(ssxym / np.sqrt(ssxm * ssym), -1.0, 1.0)
        rv = np.where(ssym == 0.0, np.where(ssxym == 0, np.nan, 0.0), rv)
        slope = ssxym / ssxm
        stderr = np.zeros(len(yc)) if n == 2 else np.sqrt((1 - rv**2) * ssym / ssxm / (n - 2))
    values = {"slope": slope, "intercept": ymean - slope * t.mean(), "rvalue": rv, "stderr": stderr}
    for p in params:
        yield convert_to_output_format(p), values[p["attr"]]


def _autocorrelation(r: Rows, lag):
    n = r.n
    if n < lag:
        return np.full(len(r.x), np.nan)
    c = r.centered
    products = _row_dot(c[:, : n - lag], c[:, lag:])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(r.var) <= 1e-8, np.nan, products / ((n - lag) * r.var))  # np.isclose(v, 0)


def _agg_autocorrelation(r: Rows, params: list) -> Columns:
    """statsmodels `acf(adjusted=True)` as tsfresh calls it: all lags up to n-1, FFT above 1 250 samples."""
    x, n = r.x, r.n
    maxlag = max(p["maxlag"] for p in params)
    lags = min(maxlag, n - 1)
    xo = r.centered
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
    flat = (np.abs(r.var) < 1e-10) | (n == 1)
    acf[flat] = 0.0
    for p in params:
        yield convert_to_output_format(p), getattr(np, p["f_agg"])(acf[:, : p["maxlag"]], axis=1)


def _next_fft_size(target: int) -> int:
    from statsmodels.tsa.stattools._stattools import _next_regular

    return _next_regular(target)


def _ratio_beyond_r_sigma(r: Rows, r_: float):
    return (np.abs(r.centered) > r_ * r.std[:, None]).sum(axis=1) / r.n


def _number_peaks(r: Rows, n):
    x, length = r.x, r.n
    core = x[:, n : length - n]
    peaks = np.ones(core.shape, dtype=bool)
    for i in range(1, n + 1):
        peaks &= core > x[:, n - i : length - n - i]
        peaks &= core > x[:, n + i : length - n + i]
    return peaks.sum(axis=1).astype(float)


def _energy_ratio_by_chunks(r: Rows, params: list) -> Columns:
    x = r.x
    full = (x**2).sum(axis=1)
    for p in params:
        segment = np.array_split(np.arange(r.n), p["num_segments"])[p["segment_focus"]]
        part = (x[:, segment[0] : segment[-1] + 1] ** 2.0).sum(axis=1) if len(segment) else np.zeros(len(x))
        with np.errstate(divide="ignore", invalid="ignore"):
            yield convert_to_output_format(p), np.where(full == 0, np.nan, part / full)


VECTORISED: dict[str, Callable[[Rows, list | None], Columns]] = {
    "mean": _simple(lambda r: r.mean),
    "median": _simple(_median),
    "minimum": _simple(lambda r: r.sorted[:, 0].copy()),
    "maximum": _simple(lambda r: r.sorted[:, -1].copy()),
    "standard_deviation": _simple(lambda r: r.std),
    "variance": _simple(lambda r: r.var),
    "root_mean_square": _simple(lambda r: np.sqrt(_row_dot(r.x, r.x) / r.n)),
    "sum_values": _simple(lambda r: r.x.sum(axis=1)),
    "abs_energy": _simple(lambda r: _row_dot(r.x, r.x)),
    "quantile": _quantiles,
    "skewness": _simple(lambda r: _moment(r, "skew")),
    "kurtosis": _simple(lambda r: _moment(r, "kurt")),
    "variation_coefficient": _simple(_variation_coefficient),
    "mean_change": _simple(_mean_change),
    "mean_abs_change": _simple(lambda r: r.abs_changes.mean(axis=1)),
    "absolute_sum_of_changes": _simple(lambda r: r.abs_changes.sum(axis=1)),
    "mean_second_derivative_central": _simple(_mean_second_derivative_central),
    "cid_ce": _per_param(_cid_ce),
    "count_above_mean": _simple(lambda r: r.above.sum(axis=1).astype(float)),
    "count_below_mean": _simple(lambda r: r.below.sum(axis=1).astype(float)),
    "longest_strike_above_mean": _simple(lambda r: longest_run(r.above)),
    "longest_strike_below_mean": _simple(lambda r: longest_run(r.below)),
    "first_location_of_maximum": _simple(_first_location(np.argmax)),
    "last_location_of_maximum": _simple(_last_location(np.argmax)),
    "first_location_of_minimum": _simple(_first_location(np.argmin)),
    "last_location_of_minimum": _simple(_last_location(np.argmin)),
    "linear_trend": _linear_trend,
    "autocorrelation": _per_param(_autocorrelation),
    "agg_autocorrelation": _agg_autocorrelation,
    "ratio_beyond_r_sigma": lambda r, params: (
        (convert_to_output_format(p), _ratio_beyond_r_sigma(r, p["r"])) for p in params
    ),
    "number_peaks": _per_param(_number_peaks),
    "energy_ratio_by_chunks": _energy_ratio_by_chunks,
}


def split_settings(fc_parameters: dict) -> tuple[dict, dict]:
    """(calculators we vectorise, calculators left to tsfresh) from one tsfresh settings dict."""
    ours = {
        k: v
        for k, v in fc_parameters.items()
        if k in VECTORISED and not (k == "cid_ce" and any(p["normalize"] for p in v))
    }
    return ours, {k: v for k, v in fc_parameters.items() if k not in ours}


def compute(x: np.ndarray, fc_parameters: dict) -> dict[str, np.ndarray]:
    """Feature name (tsfresh's, without the column prefix) -> one value per row of `x` (float64, no NaN)."""
    rows = Rows(np.ascontiguousarray(x, dtype=np.float64))
    out: dict[str, np.ndarray] = {}
    for name, params in fc_parameters.items():
        for suffix, values in VECTORISED[name](rows, params):
            out[f"{name}__{suffix}" if suffix else name] = np.asarray(values, dtype=float)
    return out
