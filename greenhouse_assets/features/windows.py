"""Cut sparse long measurements into equal-length, gap-aware windows.

Each series (site, zone, variable) is placed on a regular grid whose step is its own sampling
interval: the most common difference between consecutive timestamps in the data read (5 min for
Knudjepsen, 10 min for the Aarslev cells, 1 h for MortenSDU and weather). Several readings in one
grid slot are averaged. A window of length L then always has L / step slots, so all windows of
one sampling interval stack into one 2-D array (windows × samples), which is what makes the
vectorised calculators possible.

Per window: `coverage` = observed slots / slots, `longest_gap_s` = longest run of empty slots ×
step (0 for a complete window). Windows below the minimum coverage are `skipped` and get no
features. Gaps in the others are filled by linear interpolation in time between the neighbouring
observations of the same window (the first/last observation is carried to the window's edges;
nothing from outside the window is used, so a window depends only on its own data) and the window
and all its features are flagged `imputed`.

Windows are in UTC: a `day` window is the calendar day 00:00–24:00 UTC (not local time, so every
day has 24 h and no DST ambiguity); `rolling_24h` windows start every 6 h at 00, 06, 12, 18 UTC.
A daily partition owns the windows that *start* on its day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from greenhouse_assets.features.calculators import longest_run

FALLBACK_STEP_S = 3600  # a series with fewer than two readings in the range: assume hourly (it is skipped anyway)


@dataclass(frozen=True)
class WindowSpec:
    kind: str
    length: timedelta
    step: timedelta

    def starts(self, day: datetime) -> list[datetime]:
        """Window starts that fall on `day` (the windows this day's partition owns)."""
        count = max(1, int(timedelta(days=1) / self.step))
        return [day + i * self.step for i in range(count)]


DAY = WindowSpec("day", timedelta(days=1), timedelta(days=1))
ROLLING_24H = WindowSpec("rolling_24h", timedelta(hours=24), timedelta(hours=6))


@dataclass
class Batch:
    """All computed windows with the same number of samples: the unit of vectorised work."""

    keys: pl.DataFrame  # window_kind, window_start, window_end, site, zone, variable, imputed
    values: np.ndarray  # windows × samples, gaps filled


@dataclass
class Windows:
    summary: pl.DataFrame  # one row per window, computed or skipped: the `features.windows` rows
    batches: dict[int, Batch] = field(default_factory=dict)
    # (kind, start, site, zone) -> variable -> (gap-filled samples, step seconds): input of the domain features
    grids: dict[tuple, dict[str, tuple[np.ndarray, int]]] = field(default_factory=dict)


def read_range(days: list[datetime], specs: list[WindowSpec]) -> tuple[datetime, datetime]:
    """The time range some days' partitions must read: from their first window start to their last window end."""
    return min(days), max(start + spec.length for spec in specs for day in days for start in spec.starts(day))


def sampling_step(seconds: np.ndarray) -> int:
    """The most common interval between consecutive (sorted) timestamps, up to a day."""
    diffs = np.diff(seconds)
    diffs = diffs[(diffs > 0) & (diffs <= 86400)]
    if diffs.size == 0:
        return FALLBACK_STEP_S
    return int(np.argmax(np.bincount(diffs)))


def _mode_step(diffs: np.ndarray) -> int:
    """`sampling_step` from one series' consecutive differences."""
    diffs = diffs[(diffs > 0) & (diffs <= 86400)]
    if diffs.size == 0:
        return FALLBACK_STEP_S
    return int(np.argmax(np.bincount(diffs)))


def _fill_gaps(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Linear interpolation between each gap's neighbours, edges carried; all rows at once.

    Works on the empty slots only (a few per cent of a window): each finds its observed neighbours
    in the same row by one binary search over the flat observed positions. A row with no
    observation at all stays NaN.
    """
    rows, n = values.shape
    flat_observed = observed.ravel()
    present = np.flatnonzero(flat_observed)
    missing = np.flatnonzero(~flat_observed)
    filled = values.copy()
    if missing.size == 0:
        return filled
    flat = filled.reshape(-1)
    row_start = missing - missing % n
    following = np.searchsorted(present, missing)
    after = present[np.minimum(following, present.size - 1)] if present.size else np.full(missing.size, -1)
    before = present[np.maximum(following - 1, 0)] if present.size else np.full(missing.size, -1)
    has_after = (following < present.size) & (after < row_start + n)
    has_before = (following > 0) & (before >= row_start)
    before = np.where(has_before, before, after)
    after = np.where(has_after, after, before)
    known = has_before | has_after
    left = np.where(known, flat[np.where(known, before, 0)], np.nan)
    right = np.where(known, flat[np.where(known, after, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(after > before, (missing - before) / (after - before), 0.0)
    flat[missing] = left + (right - left) * weight
    return filled


def _series_bounds(measurements: pl.DataFrame, diffs: np.ndarray) -> np.ndarray:
    """First row of each (site, zone, variable) run, plus the row count at the end.

    Rows are ordered by key, then time, so a key change is a place where time may go back and
    every place where time goes back must be a key change. Only those places are compared (and
    each run's first and last key, which prove no key changes inside it); anything else, e.g. a
    series that starts after the previous one ended, falls back to comparing every row.
    """
    keys = measurements.select("site", "zone", "variable")
    cut = np.flatnonzero(diffs <= 0) + 1
    firsts, lasts = np.concatenate([[0], cut]), np.concatenate([cut - 1, [measurements.height - 1]])
    if keys[firsts.tolist()].equals(keys[lasts.tolist()]):
        if any(a == b for a, b in zip(keys[cut.tolist()].rows(), keys[(cut - 1).tolist()].rows())):
            raise ValueError(
                "measurements must be ordered by site, zone, variable, time (as store.read_measurements returns them)"
            )
        return np.append(firsts, measurements.height).astype(np.int64)
    changed = (
        keys.select(
            (
                (pl.col("site") != pl.col("site").shift())
                | (pl.col("zone") != pl.col("zone").shift())
                | (pl.col("variable") != pl.col("variable").shift())
            ).arg_true()
        )
        .to_series()
        .to_numpy()
    )
    bounds = np.concatenate([[0], changed, [measurements.height]]).astype(np.int64)
    inner = diffs.copy()
    inner[bounds[1:-1] - 1] = 1  # a new series may start earlier than the previous one ended
    if np.any(inner <= 0):
        raise ValueError(
            "measurements must be ordered by site, zone, variable, time (as store.read_measurements returns them)"
        )
    return bounds


def _epoch_seconds(times: pl.Series) -> np.ndarray:
    per_second = {"ns": 1_000_000_000, "us": 1_000_000, "ms": 1_000}[times.dtype.time_unit]
    return times.to_physical().to_numpy() // per_second


def build(
    measurements: pl.DataFrame,
    days: list[datetime],
    specs: list[WindowSpec],
    min_coverage: float,
    keep_grids: bool = True,
) -> Windows:
    """Windows owned by `days` for every series in `measurements` (columns time, site, zone, variable, value),
    ordered by site, zone, variable, time (the order the SQL read returns; a string sort here would
    cost more than all the feature arithmetic).

    Several days at once (a backfill) put all their windows in the same batches, so a backfill is
    vectorised across days too. `keep_grids` keeps each window's samples for the domain features.

    Only the sampling interval is found series by series; the grid of every series is one
    `bincount` over all rows, and the windows of all series with the same interval are cut,
    measured and gap-filled as one 2-D array per window spec.
    """
    lo, hi = read_range(days, specs)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    seconds_all = _epoch_seconds(measurements["time"])
    values_all = measurements["value"].to_numpy()
    diffs = np.diff(seconds_all)
    bounds = _series_bounds(measurements, diffs) if measurements.height else np.zeros(1, dtype=np.int64)
    firsts, counts_per_series = bounds[:-1], np.diff(bounds)
    keys = measurements.select("site", "zone", "variable")[firsts.tolist()]
    sites, zones, variables = (keys[c].to_list() for c in ("site", "zone", "variable"))
    n_series = len(firsts)

    # The grid: each series' slots of its own step between lo and hi, laid end to end.
    steps = np.array([_mode_step(diffs[a : b - 1]) for a, b in zip(bounds[:-1], bounds[1:])], dtype=np.int64)
    slots = -(-(hi_s - lo_s) // steps)
    base = np.concatenate([[0], np.cumsum(slots)[:-1]]).astype(np.int64)
    if n_series and np.all(steps == steps[0]):  # the usual case: no per-row step needed
        slot = (seconds_all - lo_s) // steps[0]
        inside = (slot >= 0) & (slot < slots[0])
    else:
        slot = (seconds_all - lo_s) // np.repeat(steps, counts_per_series)
        inside = (slot >= 0) & (slot < np.repeat(slots, counts_per_series))
    global_slot = (slot + np.repeat(base, counts_per_series))[inside]
    total = int(slots.sum())
    counts = np.bincount(global_slot, minlength=total)
    sums = np.bincount(global_slot, weights=values_all[inside], minlength=total)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = sums / counts

    starts = {spec.kind: [start for day in days for start in spec.starts(day)] for spec in specs}
    start_seconds = {
        kind: np.array([int((s - lo).total_seconds()) for s in values], dtype=np.int64)
        for kind, values in starts.items()
    }
    # Summary columns per spec as (series × starts) arrays; assembled series-major, spec by spec.
    per_spec: list[dict] = []
    pieces: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # n -> [(summary positions, filled rows)]
    widths = [len(starts[spec.kind]) for spec in specs]
    row_width = sum(widths)
    result = Windows(summary=pl.DataFrame())
    grid_rows: list[tuple] = []
    for k, spec in enumerate(specs):
        count = widths[k]
        columns = {
            "n_points": np.zeros((n_series, count), dtype=np.int64),
            "coverage": np.zeros((n_series, count)),
            "gaps": np.zeros((n_series, count)),
            "computed": np.zeros((n_series, count), dtype=bool),
            "imputed": np.zeros((n_series, count), dtype=bool),
        }
        for step in np.unique(steps):
            members = np.flatnonzero(steps == step)
            n = int(spec.length.total_seconds() // step)
            offsets = start_seconds[spec.kind] // step
            index = (base[members][:, None, None] + offsets[None, :, None] + np.arange(n)).reshape(-1, n)
            observed = counts[index] > 0
            n_points = observed.sum(axis=1)
            coverage = n_points / n
            computed = coverage >= min_coverage
            shape = (len(members), count)
            columns["n_points"][members] = n_points.reshape(shape)
            columns["coverage"][members] = coverage.reshape(shape)
            columns["gaps"][members] = (longest_run(~observed) * float(step)).reshape(shape)
            columns["computed"][members] = computed.reshape(shape)
            columns["imputed"][members] = (computed & (n_points < n)).reshape(shape)
            chosen = np.flatnonzero(computed)
            filled = _fill_gaps(grid[index[chosen]], observed[chosen])
            series, window = np.divmod(chosen, count)
            positions = members[series] * row_width + sum(widths[:k]) + window
            pieces.setdefault(n, []).append((positions, filled))
            if keep_grids:
                grid_rows += [
                    (p, (spec.kind, starts[spec.kind][w], sites[s], zones[s]), variables[s], row, int(step))
                    for p, s, w, row in zip(positions.tolist(), members[series].tolist(), window.tolist(), filled)
                ]
        per_spec.append(columns)
    result.summary = _summary(specs, starts, sites, zones, variables, per_spec)
    for n, parts in pieces.items():
        positions = np.concatenate([p for p, _ in parts])
        order = np.argsort(positions, kind="stable")
        result.batches[n] = Batch(
            result.summary[positions[order].tolist()].select(BATCH_KEYS), np.concatenate([f for _, f in parts])[order]
        )
    for _, key, variable, row, step in sorted(grid_rows, key=lambda r: r[0]):  # series-major, like the summary
        result.grids.setdefault(key, {})[variable] = (row, step)
    return result


def _summary(
    specs: list[WindowSpec], starts: dict, sites: list, zones: list, variables: list, per_spec: list[dict]
) -> pl.DataFrame:
    """The `features.windows` rows (series-major, then spec, then start), built column by column."""
    n_series = len(sites)
    if n_series == 0 or not specs:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)

    def column(key):
        return np.concatenate([c[key] for c in per_spec], axis=1).ravel()

    start_us = np.concatenate(
        [np.array([s.timestamp() for s in starts[spec.kind]], dtype="int64") * 1_000_000 for spec in specs]
    )
    length_us = np.concatenate(
        [np.full(len(starts[spec.kind]), int(spec.length.total_seconds() * 1_000_000)) for spec in specs]
    )
    kinds = np.concatenate([np.full(len(starts[spec.kind]), spec.kind, dtype=object) for spec in specs])
    width = len(start_us)
    series = np.repeat(np.arange(n_series), width)
    computed = column("computed")

    def labels(values: list) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(series)

    return (
        pl.DataFrame(
            {
                "window_kind": pl.Series(list(kinds), dtype=pl.String).gather(np.tile(np.arange(width), n_series)),
                "window_start": np.tile(start_us, n_series).astype("datetime64[us]"),
                "window_end": np.tile(start_us + length_us, n_series).astype("datetime64[us]"),
                "site": labels(sites),
                "zone": labels(zones),
                "variable": labels(variables),
                "n_points": column("n_points"),
                "coverage": column("coverage"),
                "longest_gap_s": column("gaps"),
                "status": pl.Series(["skipped", "computed"]).gather(computed.astype(np.int64)),
                "imputed": column("imputed"),
            }
        )
        .with_columns(pl.col("window_start", "window_end").dt.replace_time_zone("UTC"))
        .cast(SUMMARY_SCHEMA)
    )


BATCH_KEYS = ["window_kind", "window_start", "window_end", "site", "zone", "variable", "imputed"]
SUMMARY_SCHEMA = {
    "window_kind": pl.String,
    "window_start": pl.Datetime("us", "UTC"),
    "window_end": pl.Datetime("us", "UTC"),
    "site": pl.String,
    "zone": pl.String,
    "variable": pl.String,
    "n_points": pl.Int32,
    "coverage": pl.Float64,
    "longest_gap_s": pl.Float64,
    "status": pl.String,
    "imputed": pl.Boolean,
}
