"""Open a landing file: match it to a source, detect how it is written, stream typed batches.

`open_file` does everything that needs only the head of the file (source, dialect, header,
timestamp layout, column mapping, types) and raises `IngestError` for what it finds wrong
there. `ParsedFile.batches` then streams the data; it raises `IngestError` at the exact row
and column of the first bad value, so the caller loads a file all-or-nothing.

What the reader resolved by a registry rule rather than read verbatim (local times that do not
exist or occur twice, cells with the other decimal mark) is counted during each full pass over
the batches, in `ParsedFile.resolutions`; a file found to use both decimal marks only after its
head then says `decimal: "mixed"` in its detection too.

Every batch has `_row_number` (1-based line of the row in the original file; sheet row for
Excel; for sMAP JSON see `smap.py`), `time` (UTC), then the staged columns, in `schema` order.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from greenhouse_assets.governance.pseudonym import pseudonymise
from greenhouse_assets.ingest import delimited, detect, records, smap, spreadsheet
from greenhouse_assets.ingest.convert import (
    TIME_DTYPE,
    BatchConverter,
    ColumnPlan,
    numeric_columns,
    position_name,
    schema_for,
)
from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.names import (
    MAX_DATA_COLUMNS,
    RESERVED,
    staged_names,
    unit_from_name,
)
from greenhouse_assets.ingest.registry import ColumnMapping, FileRule, Source, SourceRegistry
from greenhouse_assets.ingest.timestamps import Localizer, detect_layout

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# (rows per batch, positions of numeric columns) -> (column frame, line numbers) per batch
ColumnBatches = Callable[[int, list[int]], Iterator[tuple[pl.DataFrame, pl.Series]]]


@dataclass
class ParsedFile:
    path: Path
    source: Source
    rule: FileRule
    detection: dict[str, Any]  # JSON-serialisable: how the file was read, for metadata
    columns: list[ColumnMapping]  # data columns in file order; staged names unique
    schema: dict[str, pl.DataType]  # _row_number, time, then staged columns
    _produce: Callable[[int], Iterator[pl.DataFrame]] = field(repr=False)
    # Rows/cells resolved by a rule in the last full pass (see the module docstring), for metadata.files.
    resolutions: dict[str, int] = field(default_factory=dict)

    def batches(self, rows: int = 100_000) -> Iterator[pl.DataFrame]:
        """Typed batches of at most `rows` rows; memory stays flat whatever the file size."""
        if rows < 1:
            raise ValueError("rows must be positive")
        for frame in self._produce(rows):
            for offset in range(0, frame.height, rows):
                yield frame.slice(offset, rows)
        if self.resolutions.get("other_decimal_marks") and self.detection.get("decimal") in (",", "."):
            # the head showed one mark, later cells the other one too
            self.detection.update(decimal="mixed", decimal_primary=self.detection["decimal"])

    def batches_ahead(self, rows: int = 100_000, depth: int = 2) -> ParseAhead:
        """The same batches, parsed by a background thread up to `depth` batches ahead (see `ParseAhead`)."""
        return ParseAhead(lambda: self.batches(rows), depth, name=f"parse {self.path.name}")


class ParseAhead:
    """Batches parsed by a thread that starts at once, so parsing overlaps whatever the consumer does
    before and between batches (opening the staging transaction, a COPY waiting on the server). An
    error is raised in the consumer. Use as a context manager: leaving it stops the thread, also
    when the consumer stopped early or never started."""

    _FINISHED = object()

    def __init__(self, produce: Callable[[], Iterator[pl.DataFrame]], depth: int, name: str) -> None:
        self._ready: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._parse, args=(produce,), name=name, daemon=True)
        self._worker.start()

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._worker.join()

    def __iter__(self) -> Iterator[pl.DataFrame]:
        while (item := self._ready.get()) is not self._FINISHED:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _parse(self, produce: Callable[[], Iterator[pl.DataFrame]]) -> None:
        try:
            for batch in produce():
                if not self._put(batch):
                    return
            self._put(self._FINISHED)
        except BaseException as error:  # noqa: BLE001 - re-raised in the consumer's thread
            self._put(error)


def open_file(path: Path, registry: SourceRegistry) -> ParsedFile:
    path = Path(path)
    head = detect.read_head(path)
    source, rule = registry.match(path, first_line=detect.first_line(head))
    kind = detect.sniff_kind(head)
    if kind == "smap_json":
        parsed = _open_smap(path, source, rule)
    elif kind == "records_json":
        parsed = _open_records(path, source, rule)
    elif kind == "excel":
        parsed = _open_excel(path, source, rule)
    else:
        parsed = _open_delimited(head, source, rule)
    parsed.detection |= _mapping_report(parsed.columns)
    return pseudonymise(parsed)  # before anything is written: clear identifying values never leave the reader


def _mapping_report(columns: list[ColumnMapping]) -> dict[str, Any]:
    """For the detection record (schema version, raw materialization): streams the registry does not
    map (staged with variable null, not an error) and every unit conversion or ignored unit label."""
    report: dict[str, Any] = {}
    unmapped = [
        {"column": c.original_name, "uuid": c.uuid or c.original_name.strip().lower()}
        for c in columns
        if c.variable is None and (c.uuid or _UUID.match(c.original_name.strip()))
    ]
    if unmapped:
        report["unmapped_uuids"] = unmapped
    converted = [
        {
            "column": c.original_name,
            "variable": c.variable,
            "declared": c.unit,
            "unit": c.canonical_unit,
            "scale": c.scale,
            "offset": c.offset,
            "note": c.unit_note,
        }
        for c in columns
        if c.variable is not None
        and c.unit is not None
        and (c.scale != 1.0 or c.offset != 0.0 or "ignored" in (c.unit_note or "") or c.unit != c.registry_unit)
    ]
    if converted:
        report["unit_conversions"] = converted
    return report


def _open_delimited(head: detect.Head, source: Source, rule: FileRule) -> ParsedFile:
    opened = delimited.open_delimited(head, rule)
    dialect = opened.dialect
    n_columns = len(opened.header[0])

    def columns(rows: int, numeric: list[int]) -> Iterator[tuple[pl.DataFrame, pl.Series]]:
        block = int(min(max(rows * opened.mean_line_bytes, detect.SAMPLE_BYTES), delimited.MAX_BLOCK_BYTES))
        return delimited.column_batches(head.path, dialect, n_columns, block, numeric)

    detection = {"kind": "csv", **dialect.as_dict()}
    return _tabular(
        head.path,
        source,
        rule,
        opened.header,
        opened.sample,
        dialect.decimal,
        detection,
        columns,
        both_marks=detect.marks_interchangeable(dialect.delimiter),
    )


def _open_excel(path: Path, source: Source, rule: FileRule) -> ParsedFile:
    rows = _without_empty_trailing_columns(spreadsheet.read_first_sheet(path))
    header_rows = detect.detect_header_rows(path, rows, rule.header_rows)
    data = rows[header_rows:]
    if not any(any((v or "").strip() for v in row) for row in data):
        raise IngestError(path, "no data rows (header only)")
    decimal = (
        rule.decimal or detect.detect_decimal(path, data, header_rows + 1, names=rows[0] if header_rows else ())[0]
    )
    n_columns = len(rows[0])

    def strings(_rows: int, _numeric: list[int]) -> Iterator[tuple[pl.DataFrame, pl.Series]]:
        numbers = pl.int_range(header_rows + 1, len(rows) + 1, eager=True, dtype=pl.Int64)
        yield _string_frame(data, n_columns), numbers

    detection = {
        "kind": "excel",
        "sheet": 1,
        "encoding": None,
        "bom": False,
        "delimiter": None,
        "decimal": decimal,
        "quoting": None,
        "line_ending": None,
        "header_rows": header_rows,
    }
    return _tabular(path, source, rule, rows[:header_rows], data, decimal, detection, strings)


def _open_records(path: Path, source: Source, rule: FileRule) -> ParsedFile:
    """`{"records": [{...}, ...]}` (records.py) as a table: keys are the header, records the rows."""
    table = records.read_records(path)
    names, data = table.names, table.rows
    n_columns = len(names)

    def strings(_rows: int, _numeric: list[int]) -> Iterator[tuple[pl.DataFrame, pl.Series]]:
        yield _string_frame(data, n_columns), pl.int_range(1, len(data) + 1, eager=True, dtype=pl.Int64)

    detection = {
        "kind": "records_json",
        "encoding": "utf-8",
        "bom": False,
        "delimiter": None,
        "decimal": ".",
        "quoting": None,
        "line_ending": None,
        "header_rows": 0,
        "document": table.extra,
    }
    return _tabular(path, source, rule, [names], data, ".", detection, strings)


def _tabular(
    path: Path,
    source: Source,
    rule: FileRule,
    header: list[list],
    sample: list[list],
    decimal: str,
    detection: dict[str, Any],
    batches: ColumnBatches,
    both_marks: bool = False,
) -> ParsedFile:
    """Shared by CSV and Excel: header -> columns, types and the batch converter."""
    names = [value or "" for value in header[0]]
    n_columns = len(names)
    layout = detect_layout(path, names, sample, rule.timestamp)
    positions = [i for i in range(n_columns) if i not in layout.positions]
    _check_width(path, len(positions))
    originals = [names[i] for i in positions]
    if len(header) >= 2:  # name / [controller point /] unit
        units = [_unit(header[-1], i) for i in positions]
    else:
        units = [unit_from_name(name) for name in originals]
    # name / controller point / unit: the point row tells apart columns named alike.
    points = [_unit(header[1], i) for i in positions] if len(header) >= 3 else None
    staged = staged_names(originals, [i + 1 for i in positions])
    columns = source.resolve_columns(rule, path, originals, staged, units, points=points)
    numeric = numeric_columns(_string_frame(sample, n_columns), positions, decimal, both_marks)
    # Identifying columns stay text, so a value never shows up in a number-parse error (quarantine record).
    plans = [
        ColumnPlan(
            p,
            c.staged_name,
            c.original_name,
            (c.variable is not None or n or rule.requires_number(c.original_name))
            and not rule.identifies(c.original_name),
        )
        for p, c, n in zip(positions, columns, numeric, strict=True)
    ]
    label = " + ".join(layout.names)
    numeric_positions = [plan.position for plan in plans if plan.numeric]

    resolutions: dict[str, int] = {}

    def produce(rows: int) -> Iterator[pl.DataFrame]:
        # fresh DST state and counts per pass
        localizer = (
            WallClockLocalizer(path, rule, label)
            if rule.epoch_wall_clock and layout.aware
            else Localizer(path, rule.timezone, label, rule.nonexistent_time, rule.ambiguous_time)
        )
        converter = BatchConverter(path, layout, localizer, plans, decimal, both_marks)
        for frame, numbers in batches(rows, numeric_positions):
            yield converter.convert(frame, numbers)
        resolutions.clear()
        resolutions.update(localizer.counts(), other_decimal_marks=converter.other_marks)

    detection |= {
        "timestamp": layout.as_dict(),
        "n_columns": n_columns,
        "timezone": "UTC" if layout.aware else rule.timezone,
        "source": source.name,
        "rule": rule.name,
    }
    return ParsedFile(path, source, rule, detection, columns, schema_for(plans), produce, resolutions)


def _open_smap(path: Path, source: Source, rule: FileRule) -> ParsedFile:
    table = smap.read_smap(path)
    _check_width(path, len(table.names))
    staged = staged_names(table.names, list(range(1, len(table.names) + 1)))
    columns = source.resolve_columns(rule, path, table.names, staged, table.units, uuids=table.uuids)
    frame = table.frame.rename({f"s{i}": name for i, name in enumerate(staged)})
    resolutions: dict[str, int] = {}
    if rule.epoch_wall_clock:
        frame = _from_wall_clock(path, frame, rule, resolutions)
    frame = frame.with_row_index("_row_number", offset=1).with_columns(
        pl.col("_row_number").cast(pl.Int64), pl.col("time").cast(TIME_DTYPE)
    )
    detection = {
        "kind": "smap_json",
        "shape": table.shape,
        "encoding": "utf-8",
        "bom": False,
        "delimiter": None,
        "decimal": None,
        "quoting": None,
        "line_ending": None,
        "header_rows": 0,
        "timestamp": {
            "layout": "smap",
            "columns": ["Readings[*][0]"],
            "format": f"epoch_{table.epoch_unit}",
            "wall_clock": rule.epoch_wall_clock,
        },
        "timezone": rule.timezone if rule.epoch_wall_clock else "UTC",
        "stream_timezones": table.timezones,
        "n_columns": len(table.names),
        "source": source.name,
        "rule": rule.name,
    }
    schema = dict(frame.schema)
    return ParsedFile(path, source, rule, detection, columns, schema, lambda _rows: iter([frame]), resolutions)


class WallClockLocalizer(Localizer):
    """Epoch columns of a rule with `epoch_wall_clock` (a CSV twin of sMAP streams): the epochs
    encode wall-clock time at that fixed offset, so back to wall clock, then localised like naive
    times (as `_from_wall_clock` does for the JSON)."""

    def __init__(self, path: Path, rule: FileRule, column: str) -> None:
        super().__init__(path, rule.timezone, column, rule.nonexistent_time, rule.ambiguous_time)
        self._wall_zone = rule.epoch_wall_clock

    def to_utc(self, times: pl.Series, row_numbers: pl.Series) -> pl.Series:
        if times.dtype.time_zone is not None:  # type: ignore[union-attr]
            times = times.dt.convert_time_zone(self._wall_zone).dt.replace_time_zone(None)
        return super().to_utc(times, row_numbers)


def _from_wall_clock(path: Path, frame: pl.DataFrame, rule: FileRule, resolutions: dict[str, int]) -> pl.DataFrame:
    """Epochs that encode wall-clock time at a fixed offset: back to wall clock, then localise."""
    wall = frame["time"].dt.convert_time_zone(rule.epoch_wall_clock).dt.replace_time_zone(None)
    positions = pl.int_range(1, frame.height + 1, eager=True)
    localizer = Localizer(path, rule.timezone, "Readings[*][0]", rule.nonexistent_time, rule.ambiguous_time)
    utc = localizer.to_utc(wall, positions)
    resolutions.update(localizer.counts())
    return frame.with_columns(utc.alias("time")).sort("time")


def _check_width(path: Path, n_data: int) -> None:
    if n_data == 0:
        raise IngestError(path, "no data columns besides the timestamp")
    if n_data > MAX_DATA_COLUMNS:
        raise IngestError(
            path,
            f"{n_data} data columns exceed PostgreSQL's 1600-column limit",
            expected=f"at most {MAX_DATA_COLUMNS} data columns (1600 minus {len(RESERVED)} staging columns)",
            found=n_data,
        )


def _unit(row: list, position: int) -> str | None:
    value = row[position] if position < len(row) else None
    return (value or "").strip() or None


def _string_frame(rows: list[list], n_columns: int) -> pl.DataFrame:
    """Rows of text padded/cut to the header width (sample rows may be ragged); built by column,
    which is several times faster than by row for the ~15 000 rows of a sampled head."""
    fitted = [row if len(row) == n_columns else [*row[:n_columns], *[None] * (n_columns - len(row))] for row in rows]
    columns = zip(*fitted) if fitted else [()] * n_columns
    return pl.DataFrame([pl.Series(position_name(i), values, dtype=pl.String) for i, values in enumerate(columns)])


def _without_empty_trailing_columns(rows: list[list]) -> list[list]:
    """Spreadsheets report formatted-but-empty columns; drop the trailing all-empty ones."""
    width = max((i + 1 for row in rows for i, v in enumerate(row) if (v or "").strip()), default=0)
    return [row[:width] for row in rows]
