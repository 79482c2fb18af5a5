"""What the staging checks compute over a version's staged rows, computed from the rows as they are copied.

Why: the staging checks (defs/quality/checks.py) scan the version's rows again after the load, in file
order with a window per row and once more per column for completeness: about 1.5 s of a 1 M-row
`greenhouse ingest`, as long again as the server spent receiving them. The same aggregates fall out of
the Arrow batches the COPY sends, in file order, at a small fraction of that (vectorized, one pass per
batch), so the load profiles what it copies and the check run in the same process reads the profile.

A profile is only handed to the checks of the run that loaded the rows (`recall(run_id, file_id)`): a
check run later (a re-check from the UI, after the rows were corrected in place) scans the table as
before. A profile is not made, and the checks scan, where its figures could differ from the scan's:
rows not in strictly increasing row-number order (the scan orders by row number; the table's key makes
repeats impossible anyway), a version without a `time` column, or rows timed past "a day ahead" of
the load (that bound is taken from the check's clock in SQL, a few seconds later). The time series key
of keyed sources (spot prices: steps per price area) is the check's to apply: it scans those.
tests/test_staged_profile.py holds the profile equal to the scan on every real file.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from greenhouse_assets.ingest.arrow_values import int64_scalar, numpy_view
from greenhouse_assets.quality import time_limits

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_US = (datetime.fromisoformat(time_limits.EARLIEST_TIME) - EPOCH) // timedelta(microseconds=1)
AHEAD = {"1 day": timedelta(days=1)}[time_limits.LATEST_AHEAD]  # a KeyError here: teach the profile the new bound
_ZERO = int64_scalar(0)  # a null time's stand-in
KEPT = 1000  # profiles waiting for their checks in one process (one per file of a multi-file run)


@dataclass(frozen=True)
class StagedProfile:
    """The staging checks' aggregates over one load's rows (names as `_timestamp_aggregates` returns
    them, before the repeats' grouping), and the non-null count of every staged column."""

    aggregates: dict
    strictly_one_way: bool
    filled: dict[str, int]


@dataclass
class Profiler:
    """Fed the COPY's batches in order; `profile()` afterwards (None where the scan must decide)."""

    loaded_at: datetime
    rows: int = 0
    usable: bool = True
    filled: dict[str, int] = field(default_factory=dict)
    _last_row: int | None = None
    _last_time: int | None = None  # microseconds; None: the previous row has no time (or there is none)
    _counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("null", "implausible", "lt", "gt", "eq"), 0))
    _firsts: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(("null", "implausible", "lt", "gt")))
    _first_implausible_time: int | None = None
    _min: int | None = None
    _max: int | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        if not self.usable or not batch.num_rows:
            return
        if "time" not in batch.schema.names:
            self.usable = False
            return
        rows = numpy_view(batch.column("_row_number"))
        if (self._last_row is not None and rows[0] <= self._last_row) or np.any(np.diff(rows) <= 0):
            self.usable = False
            return
        self._last_row = int(rows[-1])
        for name, column in zip(batch.schema.names, batch.columns):
            self.filled[name] = self.filled.get(name, 0) + len(column) - column.null_count
        time = batch.column("time")
        valid = numpy_view(time.is_valid().cast(pa.uint8())).astype(bool)
        micros = numpy_view(pc.fill_null(time.cast(pa.int64()), _ZERO))
        # Each row against the one before it in file order (the last of the previous batch for the first).
        before = np.concatenate(([self._last_time or 0], micros[:-1]))
        before_valid = np.concatenate(([self._last_time is not None], valid[:-1]))
        both = valid & before_valid
        upper = (self.loaded_at + AHEAD - EPOCH) // timedelta(microseconds=1)
        implausible = valid & ((micros < EARLIEST_US) | (micros > upper))
        for name, mask in (
            ("null", ~valid),
            ("implausible", implausible),
            ("lt", both & (micros < before)),
            ("gt", both & (micros > before)),
            ("eq", both & (micros == before)),
        ):
            hits = np.flatnonzero(mask)
            self._counts[name] += len(hits)
            if len(hits) and name in self._firsts and self._firsts[name] is None:
                self._firsts[name] = int(rows[hits[0]])
                if name == "implausible":
                    self._first_implausible_time = int(micros[hits[0]])
        if valid.any():
            low, high = int(micros[valid].min()), int(micros[valid].max())
            self._min = low if self._min is None else min(self._min, low)
            self._max = high if self._max is None else max(self._max, high)
        self._last_time = int(micros[-1]) if valid[-1] else None
        self.rows += batch.num_rows

    def profile(self) -> StagedProfile | None:
        if not self.usable or (self._max is not None and _time(self._max) > self.loaded_at + AHEAD):
            return None
        counts, firsts = self._counts, self._firsts
        backwards = "gt" if counts["lt"] > counts["gt"] else "lt"  # against the file's majority direction
        aggregates = {
            "staged_rows": self.rows,
            "rows_without_time": counts["null"],
            "first_row_without_time": firsts["null"],
            "repeated_row_numbers": 0,  # row numbers strictly increase (checked as they came)
            "implausible_times": counts["implausible"],
            "first_implausible_row": firsts["implausible"],
            "first_implausible_time": _time(self._first_implausible_time),
            "first_time": _time(self._min),
            "last_time": _time(self._max),
            "backward_steps": counts[backwards],
            "first_backward_row": firsts[backwards],
        }
        one_way = counts["lt"] + counts["eq"] == 0 or counts["gt"] + counts["eq"] == 0
        return StagedProfile(aggregates, one_way, dict(self.filled))


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


_profiles: OrderedDict[tuple[str, int], StagedProfile] = OrderedDict()


def remember(run_id: str, file_id: int, profile: StagedProfile) -> None:
    """Keep the committed load's profile for the checks of the same run."""
    _profiles[(run_id, file_id)] = profile
    while len(_profiles) > KEPT:
        _profiles.popitem(last=False)


def recall(run_id: str | None, file_id: int) -> StagedProfile | None:
    """The profile the load of `file_id` in run `run_id` made in this process, if any."""
    return _profiles.get((run_id, file_id)) if run_id else None
