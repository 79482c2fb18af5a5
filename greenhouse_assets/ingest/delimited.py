"""Delimited text: dialect from the head, then a streaming read in blocks of whole lines.

Why our own blocks instead of one pyarrow/polars streaming reader: every staged row must
carry the line number it came from, and errors must name the exact line. Cutting the file
into blocks at line breaks ourselves lets us count lines exactly; each block is then parsed
by pyarrow's C++ CSV parser (strict field counts). Memory is bounded by the block size,
whatever the file size.

Numeric columns are converted by that parser too (decimal mark given), which is several times
faster than converting strings afterwards. Where it rejects a block (a value it cannot read as a
number, whitespace-only cells, ...), the block is read again as strings and converted by
`convert.BatchConverter`, which accepts exactly the same numbers and names the row and column of
a bad one. Every value the parser accepts, the string path gives identically (tests/test_readers.py).
The parser converts with the file's one decimal mark; where the delimiter lets a file use both
(`detect.marks_interchangeable`), a block holding the other mark is one the parser rejects, and the
string path reads it.

One line is one row: a quoted value spanning lines (never seen in climate exports) is an
error rather than something that would shift every later line number.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from greenhouse_assets.ingest import detect
from greenhouse_assets.ingest.convert import position_name
from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.registry import FileRule

MAX_BLOCK_BYTES = 64 << 20


@dataclass(frozen=True)
class Dialect:
    encoding: str
    bom: bool
    delimiter: str
    decimal: str
    quoting: str
    line_ending: str
    header_rows: int
    decimal_mixed: bool = False  # the head holds both marks (where `detect.marks_interchangeable`)

    def as_dict(self) -> dict:
        """For the detection record: `decimal` is "mixed" (and `decimal_primary` the parser's mark)
        when both marks occur."""
        fields = asdict(self)
        if fields.pop("decimal_mixed"):
            fields |= {"decimal": "mixed", "decimal_primary": self.decimal}
        return fields


@dataclass(frozen=True)
class DelimitedHead:
    dialect: Dialect
    header: list[list[str]]  # the header lines split into fields
    sample: list[list[str]]  # sampled data lines (blank ones as []), line header_rows+1 on
    mean_line_bytes: float


def open_delimited(head: detect.Head, rule: FileRule) -> DelimitedHead:
    path = head.path
    encoding, bom = detect.detect_encoding(head, rule.encoding)
    sample = detect.decode_sample(head, encoding, bom, declared=bool(rule.encoding))
    delimiter = rule.delimiter or detect.sniff_delimiter(path, sample)
    rows = detect.split_lines(path, sample.lines, delimiter)
    header_rows = detect.detect_header_rows(path, rows, rule.header_rows)
    data = rows[header_rows:]
    if head.complete and not any(any(v.strip() for v in row) for row in data):
        raise IngestError(path, "no data rows (header only)")
    mixed_ok = detect.marks_interchangeable(delimiter)
    # A mark the registry declares is not checked against the head; a cell with the other mark is
    # found while streaming (and the detection then says "mixed", see readers.py).
    decimal, mixed = (
        (rule.decimal, False)
        if rule.decimal
        else detect.detect_decimal(path, data, header_rows + 1, mixed_ok=mixed_ok, names=rows[0] if header_rows else ())
    )
    dialect = Dialect(
        encoding=encoding,
        bom=bom,
        delimiter=delimiter,
        decimal=decimal,
        quoting=detect.quoting(sample.lines[header_rows:], delimiter),
        line_ending=sample.line_ending,
        header_rows=header_rows,
        decimal_mixed=mixed,
    )
    mean = len(head.data) / max(len(sample.lines), 1)
    return DelimitedHead(dialect, rows[:header_rows], data, mean)


def column_batches(
    path: Path, dialect: Dialect, n_columns: int, block_bytes: int, numeric: Sequence[int] = ()
) -> Iterator[tuple[pl.DataFrame, pl.Series]]:
    """(frame with columns c0..c<n-1>, line numbers) per block of whole lines.

    Columns are strings, except those at `numeric` positions, which are Float64 where the block's
    values all parse as numbers; the converter finishes whatever is still a string.
    """
    names = [position_name(i) for i in range(n_columns)]
    floats = {names[i]: pa.float64() for i in numeric}
    line = 1
    for chunk, n_lines, unterminated in _blocks(path, dialect, block_bytes):
        skip = dialect.header_rows if line == 1 else 0
        table, blank = None, []
        if floats:
            try:
                table, blank = _parse(path, chunk, names, dialect, skip, line, unterminated, n_lines, floats)
            except pa.ArrowInvalid:
                table = None  # some value is not a plain number: the string path finds and judges it
        if table is None:
            table, blank = _parse(path, chunk, names, dialect, skip, line, unterminated, n_lines, {})
        numbers = np.arange(line + skip, line + n_lines, dtype=np.int64)
        if blank:
            numbers = np.setdiff1d(numbers, np.asarray(blank, dtype=np.int64))
        if table.num_rows != len(numbers):
            raise _spanning_quote(path, chunk, line)
        yield pl.from_arrow(table), pl.Series("_row_number", numbers)  # type: ignore[misc]
        line += n_lines


def _parse(
    path: Path,
    chunk: bytes,
    names: list[str],
    dialect: Dialect,
    skip: int,
    line: int,
    unterminated: bool,
    n_lines: int,
    floats: dict[str, pa.DataType],
) -> tuple[pa.Table, list[int]]:
    """One block; columns in `floats` converted by the parser, which raises ArrowInvalid where it
    cannot (only then: every other failure is an IngestError)."""
    blank: list[int] = []
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        (blank if not row.text.strip() else invalid).append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(chunk),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter,
                quote_char='"',
                double_quote=True,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: floats.get(n, pa.string()) for n in names},
                decimal_point=dialect.decimal,
                null_values=[""],
                strings_can_be_null=False,
                quoted_strings_can_be_null=bool(floats),
            ),
        )
    except pa.ArrowInvalid as exc:
        if floats:
            raise
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            raise detect.undecodable(path, chunk, decode_error, "utf-8", declared=False, first_line=line) from None
        raise IngestError(path, f"unreadable as delimited text: {exc}") from None
    if invalid:
        first = invalid[0]
        row = line + first.number - 1
        if "\n" in first.text or "\r" in first.text:
            raise _spanning_quote(path, chunk, line)
        truncated = unterminated and row == line + n_lines - 1
        raise detect.field_count_error(path, row, first.expected_columns, first.actual_columns, truncated)
    return table, [line + row.number - 1 for row in blank]


def _spanning_quote(path: Path, chunk: bytes, line: int) -> IngestError:
    """Locate the line whose quotes do not balance: a quoted value runs onto the next line."""
    for offset, text in enumerate(chunk.split(b"\n")):
        if text.count(b'"') % 2:
            return detect.spanning_quote(path, line + offset, text.decode("utf-8", "replace"))
    return IngestError(path, "rows do not line up with lines (quoted line breaks?)", row=line)


def _blocks(path: Path, dialect: Dialect, block_bytes: int) -> Iterator[tuple[bytes, int, bool]]:
    """(UTF-8 bytes of whole lines, number of lines, last line unterminated)."""
    utf8 = dialect.encoding == "utf-8"
    decoder = None if utf8 else codecs.getincrementaldecoder(dialect.encoding)()
    lone_cr = dialect.line_ending in ("CR", "mixed")
    newline, cr = (b"\n", b"\r") if utf8 else ("\n", "\r")
    carry = newline[:0]
    with open(path, "rb") as handle:
        if dialect.bom and utf8:
            handle.read(len(codecs.BOM_UTF8))
        while True:
            block = handle.read(block_bytes)
            eof = not block
            if decoder is None:
                data = carry + block
            else:
                try:
                    data = carry + decoder.decode(block, final=eof)
                except UnicodeDecodeError:
                    raise IngestError(
                        path, "", row=_first_undecodable_line(path, dialect), expected=f"text in {dialect.encoding}"
                    ) from None
            held = newline[:0]
            if lone_cr:
                if not eof and data.endswith(cr):
                    data, held = data[:-1], cr
                data = data.replace(cr + newline, newline).replace(cr, newline)
            cut = len(data) if eof else data.rfind(newline) + 1
            piece, carry = data[:cut], data[cut:] + held
            if piece:
                n_lines = piece.count(newline) + (0 if piece.endswith(newline) else 1)
                payload = piece if utf8 else piece.encode("utf-8")  # type: ignore[union-attr]
                yield payload, n_lines, not piece.endswith(newline)  # type: ignore[misc]
            if eof:
                return


def _first_undecodable_line(path: Path, dialect: Dialect) -> int | None:
    """Single-byte encodings only: the line holding the byte the codec rejects."""
    if dialect.encoding.startswith("utf-16"):
        return None
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode(dialect.encoding)
            except UnicodeDecodeError:
                return number
    return None
