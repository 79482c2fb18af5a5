"""Which columns hold the time, in which format, and how naive local times become UTC.

Layouts: one column (`dd-mm-yyyy HH:MM:SS`, ISO with or without offset, `YYYY-MM-DD HH:MM`,
…), separate date and time columns, epoch seconds or milliseconds (magnitude decides:
values of 1e11 and more are milliseconds, i.e. anything after 1973-03-03), and `Start,End`
intervals, where time = Start and End stays a data column as received. Day-first formats are
tried before month-first ones: the sources are Danish.

Naive times are local in the registry rule's timezone. In a zone with DST two kinds of local
time need a rule, and the rule is the registry's (`nonexistent_time`, `ambiguous_time`), so one
odd row never quarantines a file:
- a spring-forward time that does not exist (02:00-02:59 on the last Sunday of March in
  Denmark): `standard` (default) reads it at the offset in force before the jump, i.e. the
  controller's clock had not switched yet (02:00 -> 01:00 UTC); `summer` at the offset after the
  jump (02:00 -> 00:00 UTC); `error` quarantines the file at that row;
- an autumn time that occurs twice: `order` (default) by order of appearance in the file, the
  first occurrence summer time and the second standard time; `standard` / `summer` always one.
How many rows each rule resolved is counted per pass (`Localizer.counts`) and recorded per file
version (`metadata.files.resolutions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.registry import TimestampSpec

DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%d-%m-%Y %H:%M:%S%.f",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S%.f",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S%.f",
    "%d.%m.%Y %H:%M",
    "%m/%d/%Y %H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
)
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y")
TIME_FORMATS = ("%H:%M:%S%.f", "%H:%M")
EPOCH_FORMATS = ("epoch_ms", "epoch_s")
_TIME_NAMES = ("timestamp", "datetime", "time", "tid", "tidspunkt", "date", "dato", "epoch", "")
_DATE_NAMES = ("date", "dato")
_CLOCK_NAMES = ("time", "tid", "klokkeslæt", "kl")
_SAMPLE_VALUES = 1000
_EPOCH_MS_FROM = 10**11
MICROSECONDS = pl.Datetime("us")


@dataclass(frozen=True)
class TimestampLayout:
    layout: str  # "single" | "date_time" | "epoch" | "interval"
    positions: tuple[int, ...]  # file columns that build the time (not data columns)
    names: tuple[str, ...]
    format: str  # strftime (date + " " + time for date_time), or epoch_ms / epoch_s

    def as_dict(self) -> dict:
        return {"layout": self.layout, "columns": list(self.names), "format": self.format}

    @property
    def aware(self) -> bool:
        return self.layout == "epoch" or self.format.endswith("%z")


def detect_layout(
    path: Path, names: Sequence[str], rows: Sequence[Sequence[str | None]], spec: TimestampSpec | None
) -> TimestampLayout:
    lowered = [n.strip().lower() for n in names]
    if spec is not None:
        positions = tuple(_position(path, names, lowered, c) for c in spec.columns)
    elif _has(lowered, _DATE_NAMES) and _has(lowered, _CLOCK_NAMES):
        positions = (_first(lowered, _DATE_NAMES), _first(lowered, _CLOCK_NAMES))
    elif "start" in lowered and "end" in lowered:
        positions = (lowered.index("start"),)
    else:
        return _detect_single(path, names, lowered, rows)
    values = _values(rows, positions)
    layout = (
        "date_time"
        if len(positions) == 2
        else ("interval" if lowered[positions[0]] == "start" and "end" in lowered else "single")
    )
    fmt = spec.format if spec is not None and spec.format else None
    if fmt is None:
        fmt = _detect_format(path, names, positions, values)
    if fmt in EPOCH_FORMATS:
        layout = "epoch"
    return TimestampLayout(layout, positions, tuple(names[p] for p in positions), fmt)


def parse(path: Path, frame: pl.DataFrame, layout: TimestampLayout, row_numbers: pl.Series) -> pl.Series:
    """The time of each row, naive or UTC; an unparseable value is an error at its row."""
    raw = _joined(frame, layout)
    if layout.layout == "epoch":
        unit = "ms" if layout.format == "epoch_ms" else "s"
        # An integral float epoch (`1401228000000.0`, sMAP stream CSVs) is the same epoch.
        parsed = pl.from_epoch(raw.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False), time_unit=unit)
        parsed = parsed.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    else:
        parsed = _strptime(raw, layout.format)
    bad = parsed.is_null()
    if bad.any():
        index = bad.arg_true()[0]
        raise IngestError(
            path,
            "",
            row=int(row_numbers[index]),
            column=" + ".join(layout.names),
            expected=f"a timestamp in {_describe(layout.format)}",
            found=raw[index] if raw[index] is not None else "",
        )
    return parsed


class Localizer:
    """Naive local times to UTC, remembering ambiguous times already seen across batches.

    `nonexistent` / `ambiguous`: the registry rule's `nonexistent_time` / `ambiguous_time`.
    `nonexistent_rows` / `ambiguous_rows` count the rows each rule resolved (both occurrences of a
    repeated time count).
    """

    def __init__(
        self, path: Path, timezone: str | None, column: str, nonexistent: str = "standard", ambiguous: str = "order"
    ) -> None:
        self.path, self.timezone, self.column = path, timezone, column
        self.nonexistent, self.ambiguous = nonexistent, ambiguous
        self.nonexistent_rows = self.ambiguous_rows = 0
        self._seen: set = set()
        # UTC and the Etc/ zones are fixed offsets by definition: no time is missing or repeated.
        fixed = timezone is not None and (timezone == "UTC" or timezone.startswith("Etc/"))
        self._offset = ZoneInfo(timezone).utcoffset(datetime(2000, 1, 1)) if fixed else None

    def counts(self) -> dict[str, int]:
        return {"nonexistent_local_times": self.nonexistent_rows, "ambiguous_local_times": self.ambiguous_rows}

    def to_utc(self, times: pl.Series, row_numbers: pl.Series) -> pl.Series:
        if times.dtype.time_zone is not None:  # type: ignore[union-attr]
            return times.dt.convert_time_zone("UTC")
        if self.timezone is None:
            raise IngestError(self.path, "naive timestamps, but the registry rule has no timezone")
        if self._offset is not None:
            return (times - self._offset).dt.replace_time_zone("UTC")
        early = times.dt.replace_time_zone(self.timezone, ambiguous="earliest", non_existent="null")
        missing = early.is_null() & times.is_not_null()
        if missing.any():
            early = self._nonexistent(times, early, missing, row_numbers)
        late = times.dt.replace_time_zone(self.timezone, ambiguous="latest", non_existent="null")
        ambiguous = ((early != late) & late.is_not_null()).fill_null(False)
        if not ambiguous.any():
            return early.dt.convert_time_zone("UTC")
        indices = ambiguous.arg_true().to_list()
        self.ambiguous_rows += len(indices)
        if self.ambiguous == "summer":
            return early.dt.convert_time_zone("UTC")
        if self.ambiguous == "standard":
            use_late = ambiguous
        else:  # order of appearance: a time seen before (in this batch or an earlier one) is the second
            flags = [False] * len(times)
            for index in indices:
                naive = times[index]
                flags[index] = naive in self._seen
                self._seen.add(naive)
            use_late = pl.Series(flags)
        chosen = pl.select(pl.when(use_late).then(late).otherwise(early)).to_series()
        return chosen.dt.convert_time_zone("UTC")

    def _nonexistent(self, times: pl.Series, early: pl.Series, missing: pl.Series, row_numbers: pl.Series) -> pl.Series:
        """`early` with the spring-forward times filled in by the rule (in the rule's zone, like `early`)."""
        indices = missing.arg_true()
        if self.nonexistent == "error":
            index = indices[0]
            raise IngestError(
                self.path,
                "",
                row=int(row_numbers[index]),
                column=self.column,
                expected=f"a local time that exists in {self.timezone} (the rule's nonexistent_time is error)",
                found=str(times[index]),
            )
        self.nonexistent_rows += len(indices)
        zone = ZoneInfo(self.timezone)  # type: ignore[arg-type]
        fold = 0 if self.nonexistent == "standard" else 1  # PEP 495: in a gap, fold 0 = offset before it
        values = [naive - zone.utcoffset(naive.replace(fold=fold)) for naive in times.gather(indices).to_list()]
        fixed = pl.Series(values, dtype=times.dtype).dt.replace_time_zone("UTC").dt.convert_time_zone(self.timezone)
        return early.scatter(indices, fixed)


def _detect_single(
    path: Path, names: Sequence[str], lowered: list[str], rows: Sequence[Sequence[str | None]]
) -> TimestampLayout:
    named = [i for key in _TIME_NAMES for i, n in enumerate(lowered) if n == key]
    for position in dict.fromkeys([*named, 0]):
        values = _values(rows, (position,))
        fmt = _format_for(values)
        if fmt:
            layout = "epoch" if fmt in EPOCH_FORMATS else "single"
            return TimestampLayout(layout, (position,), (names[position],), fmt)
    raise IngestError(
        path,
        "no timestamp column: neither a Date/Time pair, Start/End, a column "
        "named like timestamp nor the first column holds dates or epoch numbers",
    )


def _detect_format(path: Path, names: Sequence[str], positions: tuple[int, ...], values: list[str]) -> str:
    if len(positions) == 2:
        dates = _values_of(values, 0)
        clocks = _values_of(values, 1)
        date_fmt = _best(dates, DATE_FORMATS, pl.Date())
        clock_fmt = _best(clocks, TIME_FORMATS, pl.Time())
        fmt = f"{date_fmt} {clock_fmt}" if date_fmt and clock_fmt else None
    else:
        fmt = _format_for(values)
    if fmt is None:
        raise IngestError(
            path,
            "unrecognised timestamp format",
            column=" + ".join(names[p] for p in positions),
            expected="a date and time, or epoch seconds/milliseconds",
            found=values[0] if values else "",
        )
    return fmt


def _format_for(values: list[str]) -> str | None:
    epochs = [v for v in (_integral(v) for v in values) if v.isdigit() and 9 <= len(v) <= 13]
    if values and len(epochs) > len(values) / 2:
        return "epoch_ms" if max(int(v) for v in epochs) >= _EPOCH_MS_FROM else "epoch_s"
    return _best(values, DATETIME_FORMATS, pl.Datetime("us"))


def _best(values: list[str], formats: Sequence[str], dtype: pl.DataType) -> str | None:
    """The format parsing most sampled values, if it parses more than half of them.

    Not all: one bad value in the sample must surface as an error at its row when the
    batches are parsed, not as "no timestamp column".
    """
    if not values:
        return None
    series = pl.Series(values, dtype=pl.String)
    parsed = {f: len(values) - _strptime(series, f, dtype).null_count() for f in formats}
    best = max(formats, key=lambda f: parsed[f])  # first of equals: formats are in preference order
    return best if parsed[best] > len(values) / 2 else None


def _strptime(raw: pl.Series, fmt: str, dtype: pl.DataType = MICROSECONDS) -> pl.Series:
    if fmt.endswith("%z"):
        raw = raw.str.replace(r"Z$", "+00:00")
    parsed = raw.str.strptime(dtype, fmt, strict=False)
    if fmt.endswith("%z"):
        parsed = parsed.dt.convert_time_zone("UTC")
    return parsed


def _joined(frame: pl.DataFrame, layout: TimestampLayout) -> pl.Series:
    parts = [frame.get_column(frame.columns[p]).str.strip_chars() for p in layout.positions]
    if len(parts) == 1:
        return parts[0]
    return pl.select(pl.concat_str(parts, separator=" ")).to_series()


def _values(rows: Sequence[Sequence[str | None]], positions: tuple[int, ...]) -> list[str]:
    """Up to `_SAMPLE_VALUES` non-empty sampled values (space-joined for date + time)."""
    found = []
    for row in rows:
        parts = [(row[p] if p < len(row) else None) or "" for p in positions]
        if all(part.strip() for part in parts):
            found.append(" ".join(part.strip() for part in parts))
            if len(found) == _SAMPLE_VALUES:
                break
    return found


def _values_of(values: list[str], part: int) -> list[str]:
    return [v.split(" ", 1)[part] if " " in v else v for v in values]


def _position(path: Path, names: Sequence[str], lowered: list[str], column: str | int) -> int:
    if isinstance(column, int):
        if column < len(names):
            return column
    elif column in names:
        return list(names).index(column)
    elif column.strip().lower() in lowered:
        return lowered.index(column.strip().lower())
    raise IngestError(
        path, "timestamp column named by the registry is missing", expected=f"column {column!r}", found=list(names)[:10]
    )


def _has(lowered: list[str], keys: Sequence[str]) -> bool:
    return any(k in lowered for k in keys)


def _first(lowered: list[str], keys: Sequence[str]) -> int:
    return next(lowered.index(k) for k in keys if k in lowered)


def _describe(fmt: str) -> str:
    return {"epoch_ms": "epoch milliseconds", "epoch_s": "epoch seconds"}.get(fmt, f"format {fmt!r}")


def _integral(value: str) -> str:
    """`1401228000000.0` -> `1401228000000`: an epoch written as an integral float."""
    head, dot, tail = value.partition(".")
    return head if dot and tail.strip("0") == "" else value
