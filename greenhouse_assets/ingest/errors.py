"""The one exception the parsing layer raises for a file that cannot be loaded.

A quarantined file is only useful if the record says exactly where and why it failed, so the
error carries the location (row, column) and the expectation that was violated as separate
fields: the file registry stores them as columns and the UI shows the composed sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_MAX_FOUND_CHARS = 80


class IngestError(Exception):
    """A file that cannot be loaded; carries where and why, for the quarantine record.

    `row` is the 1-based line number in the original file (for sMAP JSON: the reading's
    position, see `smap.py`); `column` is the column's original name. `reason` is the short
    cause ("ragged row"), `message` adds what was expected and found, and `str(error)` (also
    `as_dict()["message"]`) prefixes the location for the quarantine record and the UI.
    """

    def __init__(
        self,
        path: Path | str,
        message: str = "",
        *,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: Any = None,
    ) -> None:
        self.path = Path(path)
        self.reason = message
        self.row = row
        self.column = column
        self.expected = expected
        self.found = _clip(found)
        self.message = _compose(message, expected, self.found)  # reason + expected/found
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.path.name]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "row": self.row,
            "column": self.column,
            "expected": self.expected,
            "found": self.found,
            "message": str(self),
        }


def _compose(message: str, expected: str | None, found: Any) -> str:
    if expected is None:
        return message
    detail = f"expected {expected}" + ("" if found is None else f", found {found!r}")
    return f"{message}: {detail}" if message else detail


def _clip(found: Any) -> Any:
    if isinstance(found, str) and len(found) > _MAX_FOUND_CHARS:
        return found[:_MAX_FOUND_CHARS] + "…"
    return found
