"""Where the export defects go: gaps and resets placed so that they never overlap.

Each exporter decides what a defect looks like in its format (empty rows, `""` cells, zeros);
these helpers only choose the rows.
"""

from __future__ import annotations

import numpy as np


def place_blocks(rng: np.random.Generator, n: int, lengths: list[int]) -> list[slice]:
    """One block per equal segment of [0, n), segments shuffled, so defects never overlap."""
    segment = n // len(lengths)
    slices = []
    for slot, length in zip(rng.permutation(len(lengths)), lengths):
        length = min(int(length), segment - 1)
        begin = int(slot) * segment + int(rng.integers(0, segment - length + 1))
        slices.append(slice(begin, begin + length))
    return slices


def gap_lengths(rng: np.random.Generator, days: int, rows_per_hour: int, long_hours: float) -> list[int]:
    """A few gaps of 1-6 hours (one per week) plus, for longer samples, one long outage."""
    short = [int(rng.integers(1, 7) * rows_per_hour) for _ in range(max(1, days // 7))]
    return short + ([int(long_hours * rows_per_hour)] if days >= 4 else [])
