"""Excel workbooks (.xlsx via fastexcel/calamine; calamine also reads legacy .xls).

A sheet is read whole: Excel caps a sheet at about a million rows and climate exports are far
smaller, so streaming would buy nothing. Every cell is read as text, then goes through the
same header, timestamp and number handling as delimited text, so a workbook and its CSV
export stage identically. Only the first sheet is read.
"""

from __future__ import annotations

from pathlib import Path

import fastexcel
import polars as pl

from greenhouse_assets.ingest.errors import IngestError


def read_first_sheet(path: Path) -> list[list[str | None]]:
    """All rows of the first sheet; `rows[i]` is spreadsheet row `i + 1`."""
    try:
        reader = fastexcel.read_excel(path)
        if not reader.sheet_names:
            raise IngestError(path, "workbook has no sheets")
        sheet = reader.load_sheet(0, header_row=None, skip_rows=0, dtypes="string")
        frame: pl.DataFrame = sheet.to_polars()
    except IngestError:
        raise
    except Exception as exc:  # fastexcel raises its own error classes per failure kind
        raise IngestError(path, f"unreadable workbook: {exc}") from None
    return [list(row) for row in frame.iter_rows()]
