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


def _fill_gaps(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Linear interpolation between each gap's neighbours, edges carried; all rows at once."""
    n = values.shape[1]
    positions = np.broadcast_to(np.arange(n), values.shape)
    before = np.maximum.accumulate(np.where(observed, positions, -1), axis=1)
    after = np.minimum.accumulate(np.where(observed, positions, n)[:, ::-1], axis=1)[:, ::-1]
    before = np.where(before < 0, after, before)
    after = np.where(after >= n, before, after)
    left = np.take_along_axis(values, before, axis=1)
    right = np.take_along_axis(values, after, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(after > before, (positions - before) / (after - before), 0.0)
    return np.where(observed, values, left + (right - left) * weight)


def build(measurements: pl.DataFrame, days: list[datetime], specs: list[WindowSpec], min_coverage: float,
          keep_grids: bool = True) -> Windows:
    """Windows owned by `days` for every series in `measurements` (columns time, site, zone, variable, value),
    ordered by site, zone, variable, time (the order the SQL read returns; a string sort here would
    cost more than all the feature arithmetic).

    Several days at once (a backfill) put all their windows in the same batches, so a backfill is
    vectorised across days too. `keep_grids` keeps each window's samples for the domain features.
    Work is per series and window spec on numpy arrays; the tables
    are assembled once at the end.
    """
    lo, hi = read_range(days, specs)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    seconds_all, values_all = measurements["time"].dt.epoch("s").to_numpy(), measurements["value"].to_numpy()
    runs = measurements.select(run=pl.struct("site", "zone", "variable").rle_id())["run"].to_numpy()
    bounds = np.flatnonzero(np.diff(runs)) + 1
    if np.any(np.delete(np.diff(seconds_all), bounds - 1) <= 0):
        raise ValueError("measurements must be ordered by site, zone, variable, time (as store.read_measurements returns them)")
    firsts = np.concatenate([[0], bounds]).astype(int) if len(runs) else np.array([], dtype=int)
    groups = measurements.select("site", "zone", "variable")[firsts.tolist()].with_columns(
        first=pl.Series(firsts, dtype=pl.Int64), count=pl.Series(np.diff(np.append(firsts, len(runs))), dtype=pl.Int64))
    starts = {spec.kind: [start for day in days for start in spec.starts(day)] for spec in specs}
    chunks: list[dict] = []
    filled_by_n: dict[int, list[np.ndarray]] = {}
    result = Windows(summary=pl.DataFrame())
    for site, zone, variable, first, count in groups.iter_rows():
        seconds, values = seconds_all[first : first + count], values_all[first : first + count]
        step = sampling_step(seconds)
        slots = -(-(hi_s - lo_s) // step)
        slot = (seconds - lo_s) // step
        inside = (slot >= 0) & (slot < slots)
        counts = np.bincount(slot[inside], minlength=slots)
        sums = np.bincount(slot[inside], weights=values[inside], minlength=slots)
        with np.errstate(invalid="ignore", divide="ignore"):
            grid = sums / counts
        for spec in specs:
            n = int(spec.length.total_seconds() // step)
            offsets = np.array([int((s - lo).total_seconds() // step) for s in starts[spec.kind]])
            index = offsets[:, None] + np.arange(n)
            observed = counts[index] > 0
            coverage = observed.mean(axis=1)
            computed = coverage >= min_coverage
            filled = _fill_gaps(grid[index[computed]], observed[computed])
            chunks.append({"kind": spec.kind, "length": spec.length, "starts": starts[spec.kind], "site": site,
                           "zone": zone, "variable": variable, "n": n, "n_points": observed.sum(axis=1),
                           "coverage": coverage, "gaps": longest_run(~observed) * float(step),
                           "computed": computed, "imputed": computed & ~observed.all(axis=1)})
            filled_by_n.setdefault(n, []).append(filled)
            for start, row in zip(np.asarray(starts[spec.kind], dtype=object)[computed] if keep_grids else [], filled):
                result.grids.setdefault((spec.kind, start, site, zone), {})[variable] = (row, step)
    result.summary = _summary(chunks)
    n_column = pl.Series(np.concatenate([np.full(len(c["starts"]), c["n"]) for c in chunks])) if chunks else None
    for n, parts in filled_by_n.items():
        keys = result.summary.filter((n_column == n) & (pl.col("status") == "computed"))
        result.batches[n] = Batch(keys.select(BATCH_KEYS), np.concatenate(parts))
    return result


def _summary(chunks: list[dict]) -> pl.DataFrame:
    """The `features.windows` rows, built column by column."""
    if not chunks:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)

    def column(f):
        return np.concatenate([np.asarray(f(c)) for c in chunks])

    def repeat(key):
        return column(lambda c: [c[key]] * len(c["starts"]))

    starts = column(lambda c: np.array([s.timestamp() for s in c["starts"]], dtype="int64") * 1_000_000)
    ends = starts + column(lambda c: np.full(len(c["starts"]), int(c["length"].total_seconds() * 1_000_000)))
    computed = column(lambda c: c["computed"])
    return pl.DataFrame({
        "window_kind": repeat("kind"), "window_start": starts.astype("datetime64[us]"),
        "window_end": ends.astype("datetime64[us]"), "site": repeat("site"), "zone": repeat("zone"),
        "variable": repeat("variable"), "n_points": column(lambda c: c["n_points"]),
        "coverage": column(lambda c: c["coverage"]), "longest_gap_s": column(lambda c: c["gaps"]),
        "status": np.where(computed, "computed", "skipped"), "imputed": column(lambda c: c["imputed"]),
    }).with_columns(pl.col("window_start", "window_end").dt.replace_time_zone("UTC")).cast(SUMMARY_SCHEMA)


BATCH_KEYS = ["window_kind", "window_start", "window_end", "site", "zone", "variable", "imputed"]
SUMMARY_SCHEMA = {
    "window_kind": pl.String, "window_start": pl.Datetime("us", "UTC"), "window_end": pl.Datetime("us", "UTC"),
    "site": pl.String, "zone": pl.String, "variable": pl.String, "n_points": pl.Int32, "coverage": pl.Float64,
    "longest_gap_s": pl.Float64, "status": pl.String, "imputed": pl.Boolean,
}
