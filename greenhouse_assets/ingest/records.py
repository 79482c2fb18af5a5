"""Record-oriented JSON: `{"records": [{"column": value, ...}, ...], ...}`, the shape of Energi Data
Service's dataset API and JSON downloads (`Elspotprices`: `{"total": …, "dataset": "Elspotprices",
"records": [{"HourUTC": "2014-01-01T00:00:00", "HourDK": …, "PriceArea": "DK1", "SpotPriceDKK": 123.4,
"SpotPriceEUR": 16.5}, …]}`).

The records become a table of text cells, one column per key in order of first appearance (a record
without a key has an empty cell there), and go through the same typing, timestamp and mapping path as
a CSV or spreadsheet (`readers._tabular`). `_row_number` is the record's 1-based position in
`records`, and errors name it as row. Other top-level keys (`total`, `filters`, `dataset`, …) are kept
in the detection record. The file is parsed whole (exports of a year of hourly prices per area are a
few MB).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

from greenhouse_assets.ingest.errors import IngestError

# In the head of a JSON object: a "records" key (sMAP objects are keyed by stream paths); its shape is checked when read.
RECORDS_KEY = re.compile(rb'^\s*\{.*?"records"\s*:', re.DOTALL)
_SHAPE = 'an object {"records": [{"column": value, ...}, ...]}'


@dataclass(frozen=True)
class RecordsTable:
    names: list[str]
    rows: list[list[str | None]]
    extra: dict  # the document's other top-level scalar keys (dataset, total, …)


def read_records(path: Path) -> RecordsTable:
    raw = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise IngestError(
            path, "", row=raw[: exc.start].count(b"\n") + 1, expected="UTF-8 JSON", found=f"byte 0x{raw[exc.start]:02x}"
        ) from None
    except json.JSONDecodeError as exc:
        raise IngestError(path, f"invalid JSON ({exc.msg})", row=exc.lineno) from None
    records = document.get("records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise IngestError(path, "wrong JSON shape", expected=_SHAPE, found=type(records).__name__)
    if not records:
        raise IngestError(path, 'no data rows: "records" is empty')
    names: dict[str, int] = {}
    for position, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise IngestError(
                path,
                "wrong JSON shape",
                row=position,
                expected="a record object {column: value}",
                found=json.dumps(record)[:80],
            )
        for key in record:
            names.setdefault(str(key), len(names))
    rows = [
        [_cell(path, position, key, record.get(key)) for key in names] for position, record in enumerate(records, 1)
    ]
    extra = {k: v for k, v in document.items() if k != "records" and (v is None or isinstance(v, str | int | float))}
    return RecordsTable(list(names), rows, extra)


def _cell(path: Path, position: int, key: str, value: object) -> str | None:
    """A JSON value as the text a CSV would hold: numbers in JSON's spelling, null as an empty cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise IngestError(
        path, "", row=position, column=key, expected="a number, text or null", found=json.dumps(value)[:80]
    )
