"""The shared time base: the requested days on each export's clock, the model grid, wall-clock text.

Two clocks occur in the real exports: the Danish wall clock with DST (Aarslev `output-*.csv`,
the weather file's hours) and a fixed UTC+1 clock all year (Knudjepsen, MortenSDU, and the sMAP
epochs). Every instant here is a UTC epoch in seconds; a "wall epoch" is one already shifted to a
clock's local time, so that formatting it as if it were UTC prints the wall-clock text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

TZ = "Europe/Copenhagen"
CET = 3600  # UTC+1: the Knudjepsen and MortenSDU wall clock and the sMAP epoch convention, all year
STEP = 300  # seconds between points of the shared model grid (the Knudjepsen step)


@dataclass(frozen=True)
class Span:
    """The requested days as UTC instants, on each export's own clock."""

    first: date
    days: int

    @property
    def cet_start(self) -> int:
        """Midnight of the first day on the fixed UTC+1 clock (Knudjepsen, MortenSDU)."""
        midnight_utc = datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)
        return int(midnight_utc.timestamp()) - CET

    @property
    def cet_end(self) -> int:
        return self.cet_start + self.days * 86400

    @property
    def local_start(self) -> int:
        """Midnight of the first day on the Danish wall clock (Aarslev, with DST)."""
        return local_midnight(self.first)

    @property
    def local_end(self) -> int:
        return local_midnight(self.first + timedelta(days=self.days))


@dataclass(frozen=True)
class Grid:
    """5-minute UTC instants covering every export, so all files sample one model run."""

    t: np.ndarray

    def index(self, start: int, end: int, step: int = STEP) -> np.ndarray:
        """Grid positions of the instants in [start, end), every `step` seconds."""
        first = (start - int(self.t[0])) // STEP
        return np.arange(first, first + (end - start) // STEP, step // STEP)


def local_midnight(day: date) -> int:
    """UTC epoch of a Danish local midnight: Aarslev files and weather hours start there."""
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ)).timestamp())


def copenhagen_offset(t: np.ndarray) -> np.ndarray:
    """Seconds from UTC to Danish wall time (3600 or 7200) for each instant, vectorised."""
    utc = pl.from_epoch(pl.Series(t), time_unit="s").dt.replace_time_zone("UTC")
    wall = utc.dt.convert_time_zone(TZ).dt.replace_time_zone(None)
    return wall.dt.epoch("s").to_numpy() - t


def wall_strings(wall_epoch: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DDTHH:MM:SS` for wall epochs (already shifted to the clock's local time)."""
    return np.datetime_as_string(wall_epoch.astype("datetime64[s]"))


def month_runs(keys: np.ndarray) -> list[tuple[str, slice]]:
    """Consecutive rows sharing a `YYYY-MM` key (rows are in time order, months never interleave)."""
    months, firsts = np.unique(keys, return_index=True)
    order = np.argsort(firsts)
    bounds = list(firsts[order]) + [len(keys)]
    return [(str(months[o]), slice(bounds[i], bounds[i + 1])) for i, o in enumerate(order)]
