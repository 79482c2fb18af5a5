"""What every exporter shares on the way to disk: value matrices as text cells, CRLF files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np


def text_columns(values: np.ndarray, fmt: Callable[[float], str], digits: int | None = None) -> list[list[str]]:
    """Column-wise strings of a float matrix; NaN becomes '' so writers can choose its spelling."""
    if digits is not None:
        values = np.round(values, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [["" if v != v else fmt(v) for v in column.tolist()] for column in values.T]  # v != v: NaN


def write_lines(path: Path, lines: list[str], final_newline: bool = True) -> Path:
    """UTF-8 with CRLF, as every real export; the weather file alone lacks the final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + ("\r\n" if final_newline else "")).encode("utf-8"))
    return path
