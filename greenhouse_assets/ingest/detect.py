"""Detection from the first megabyte: kind of file, encoding, and the delimited-text dialect.

Everything here looks only at a bounded head of the file, so opening a 250 MB export costs
the same as opening a small one. What the head cannot show (a ragged row at line 3 million)
is caught while streaming, with the same messages (`field_count_error`).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.records import RECORDS_KEY

SAMPLE_BYTES = 1 << 20
DELIMITERS = (";", ",", "\t", "|")
MAX_HEADER_ROWS = 5
_SNIFF_LINES = 50

_MAGIC = (
    (b"\x1f\x8b", "gzip stream"),
    (b"PK\x03\x04", "zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 compound document"),
    (b"%PDF", "PDF document"),
    (b"BZh", "bzip2 stream"),
    (b"\xfd7zXZ\x00", "xz stream"),
    (b"PAR1", "Parquet file"),
)
_EXCEL_MAGIC = {".xlsx": "zip archive", ".xlsm": "zip archive", ".xls": "OLE2 compound document"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# C0 controls but tab, LF, FF and CR; DEL and the C1 controls: many of them mean binary data.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
_DOT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
_DATE_START = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True)
class Head:
    """The first `SAMPLE_BYTES` of a file; `complete` when that is the whole file."""

    path: Path
    data: bytes
    size: int

    @property
    def complete(self) -> bool:
        return self.size <= len(self.data)


@dataclass(frozen=True)
class Sample:
    """The decoded head cut to whole lines; `lines[i]` is line `i + 1` of the file."""

    lines: list[str]
    unterminated: bool  # the file's last line has no line break (only known when complete)
    line_ending: str


def read_head(path: Path) -> Head:
    with open(path, "rb") as handle:
        data = handle.read(SAMPLE_BYTES)
    return Head(path, data, path.stat().st_size)


def sniff_kind(head: Head) -> str:
    """'csv', 'smap_json', 'records_json' or 'excel'; anything that is not text or a spreadsheet is an error."""
    if head.size == 0:
        raise IngestError(head.path, "empty file (0 bytes)")
    magic = next((name for sig, name in _MAGIC if head.data.startswith(sig)), None)
    suffix = head.path.suffix.lower()
    if suffix in _EXCEL_MAGIC:
        if magic == _EXCEL_MAGIC[suffix]:
            return "excel"
        raise IngestError(
            head.path,
            "not a readable spreadsheet",
            expected=f"a {suffix} file ({_EXCEL_MAGIC[suffix]})",
            found=magic or "plain text",
        )
    if magic:
        raise IngestError(head.path, f"not a text file: {magic}")
    start = head.data.removeprefix(codecs.BOM_UTF8).lstrip()
    if start[:1] == b"{" and RECORDS_KEY.match(start):  # {"records": [{...}, ...]} (Energi Data Service)
        return "records_json"
    streams = start[:1] == b"{" or (start[:1] == b"[" and start[1:].lstrip()[:1] == b"{")  # object / list of streams
    return "smap_json" if suffix == ".json" or streams else "csv"


def first_line(head: Head) -> str:
    """The head's first line (BOM dropped, undecodable bytes replaced): for registry rules with `header`."""
    text = head.data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
    return text.splitlines()[0] if text else ""


def detect_encoding(head: Head, declared: str | None) -> tuple[str, bool]:
    """(codec name, has BOM). A BOM wins; else the registry; else UTF-8, CP1252, Latin-1."""
    data = head.data
    if data.startswith(_UTF16_BOMS):
        return "utf-16", True
    bom = data.startswith(codecs.BOM_UTF8)
    name = codecs.lookup(declared).name if declared else ""
    if b"\x00" in data and not name.startswith(("utf-16", "utf-32")):
        raise IngestError(head.path, "not a text file: binary data (NUL bytes)")
    if declared:
        if name not in ("utf-8", "utf-8-sig") and (bom or _is_utf8_text(head)):
            raise IngestError(
                head.path,
                "the file is UTF-8",
                found="UTF-8 text",
                expected=f"text in {name} (as the registry declares)",
            )
        return ("utf-8" if name == "utf-8-sig" else name), bom
    for name in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(name)().decode(data, final=head.complete)
            return name, bom
        except UnicodeDecodeError:
            continue
    return "iso8859-1", bom


def decode_sample(head: Head, encoding: str, bom: bool, declared: bool) -> Sample:
    """Decode the head, reject binary data, and cut it to whole lines."""
    body = head.data[len(codecs.BOM_UTF8) :] if bom and encoding == "utf-8" else head.data
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(body, final=head.complete)
    except UnicodeDecodeError as exc:
        raise undecodable(head.path, body, exc, encoding, declared) from None
    controls = len(_CONTROL.findall(text))
    if controls > _MAX_CONTROL_SHARE * len(text):
        raise IngestError(head.path, "not a text file: binary data (control characters)")
    if not head.complete:
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
        if not text:
            raise IngestError(head.path, f"first line is longer than {SAMPLE_BYTES} bytes")
    lines = _LINE_BREAK.split(text)
    unterminated = head.complete and lines[-1] != ""
    if lines[-1] == "":
        lines.pop()
    return Sample(lines, unterminated, _line_ending(text))


def undecodable(
    path: Path, data: bytes, exc: UnicodeDecodeError, encoding: str, declared: bool, first_line: int = 1
) -> IngestError:
    """The decode failure as an error at the line holding the offending byte."""
    row = first_line + data[: exc.start].count(b"\n")
    source = " (as the registry declares)" if declared else ""
    return IngestError(path, "", row=row, expected=f"text in {encoding}{source}", found=f"byte 0x{data[exc.start]:02x}")


def split_line(path: Path, line: str, delimiter: str) -> list[str]:
    """One line's fields; each line on its own, so that rows and lines stay one-to-one."""
    try:
        return next(csv.reader([line], delimiter=delimiter, quotechar='"', doublequote=True), [])
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise IngestError(path, f"unreadable as delimited text: {exc}") from None


def split_lines(path: Path, lines: list[str], delimiter: str) -> list[list[str]]:
    """`split_line` of every line, in one pass of the csv module where that gives one row per line
    (a quote left open would join the next line to its field: then line by line)."""
    try:
        rows = list(csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True))
    except csv.Error:
        rows = []
    if len(rows) == len(lines):
        return rows
    return [split_line(path, line, delimiter) for line in lines]


def sniff_delimiter(path: Path, sample: Sample) -> str:
    """The candidate that splits the header into several fields and every sampled line alike."""
    numbered = [(i + 1, line) for i, line in enumerate(sample.lines) if line.strip()]
    numbered = numbered[:_SNIFF_LINES]
    if not numbered:
        raise IngestError(path, "no header row: the file holds only blank lines")
    counts = {d: [len(split_line(path, line, d)) for _, line in numbered] for d in DELIMITERS}
    splitting = [d for d in DELIMITERS if counts[d][0] > 1]
    consistent = [d for d in splitting if len(set(counts[d])) == 1]
    if consistent:
        return max(consistent, key=lambda d: counts[d][0])
    if not splitting:
        raise IngestError(
            path,
            "cannot detect the delimiter",
            row=numbered[0][0],
            expected="a header split by one of ; , tab |",
            found=numbered[0][1],
        )
    best = max(splitting, key=lambda d: sum(c == counts[d][0] for c in counts[d]))
    index = next(i for i, c in enumerate(counts[best]) if c != counts[best][0])
    row, line = numbered[index]
    others = [d for d in DELIMITERS if d != best and counts[d][index] > 1]
    if counts[best][index] == 1 and others:
        raise IngestError(
            path, "mixed delimiters", row=row, expected=f"fields separated by {best!r} like the header", found=line
        )
    for earlier_row, earlier in numbered[: index + 1]:
        if earlier.count('"') % 2:
            raise spanning_quote(path, earlier_row, earlier)
    last = index == len(numbered) - 1 and numbered[-1][0] == len(sample.lines)
    raise field_count_error(path, row, counts[best][0], counts[best][index], last and sample.unterminated)


def field_count_error(path: Path, row: int, expected: int, found: int, truncated: bool) -> IngestError:
    reason = "truncated last row (no line break at end of file)" if truncated else "ragged row"
    return IngestError(path, reason, row=row, expected=f"{expected} fields", found=found)


def spanning_quote(path: Path, row: int, line: str) -> IngestError:
    return IngestError(
        path, "a quoted value is not closed on its line", row=row, expected="one row per line", found=line
    )


def detect_header_rows(path: Path, rows: Sequence[Sequence[str | None]], declared: int | None) -> int:
    """Rows before the first one holding a number or a date: 1 normally, 3 for name/point/unit.

    A count declared by the registry is checked the same way, so a file exported with fewer
    header rows fails instead of losing its first data rows to the header.
    """
    if declared:
        for index, row in enumerate(rows[:declared]):
            if any(_looks_like_data(value) for value in row):
                raise IngestError(
                    path,
                    f"the registry declares {declared} header rows",
                    row=index + 1,
                    expected="a header line without numbers or dates",
                    found=" | ".join(v or "" for v in row),
                )
        return declared
    for index, row in enumerate(rows[: MAX_HEADER_ROWS + 1]):
        if any(_looks_like_data(value) for value in row):
            if index == 0:
                raise IngestError(path, "no header row: line 1 already holds data", row=1)
            return index
    if len(rows) <= MAX_HEADER_ROWS:
        raise IngestError(path, "no data rows (header only)")
    raise IngestError(path, f"cannot find the first data row: no number or date in lines 1-{MAX_HEADER_ROWS + 1}")


def marks_interchangeable(delimiter: str | None) -> bool:
    """Can a file use decimal comma and decimal point side by side? Only where neither can be a
    thousands separator or a field separator: in `;`, tab or `|` delimited text every cell holds one
    number with at most one mark, so `20.8098` and `9,22917e-008` are each unambiguous. In `,`
    delimited text (and spreadsheets, whose cells the sheet reader formats) a mark that is not the
    file's own stays an error."""
    return delimiter is not None and delimiter != ","


def detect_decimal(
    path: Path,
    rows: Sequence[Sequence[str | None]],
    first_line: int,
    *,
    mixed_ok: bool = False,
    names: Sequence[str | None] = (),
) -> tuple[str, bool]:
    """(decimal mark, both marks occur): ',' if the sampled values use decimal comma, '.' otherwise.

    Both marks at once are an error at the first cell of the later-seen mark (row, column, the mark
    expected and the value found), unless `mixed_ok` (see `marks_interchangeable`): then the mark of
    most sampled cells is the file's mark, which the fast parser reads, and the other one is read too.
    """
    first: dict[str, tuple[int, int, str]] = {}
    count = {",": 0, ".": 0}
    for offset, row in enumerate(rows):
        for position, value in enumerate(row):
            text = (value or "").strip()
            mark = "," if _COMMA_DECIMAL.match(text) else "." if _DOT_DECIMAL.match(text) else None
            if mark is None:
                continue
            count[mark] += 1
            first.setdefault(mark, (first_line + offset, position, text))
        if len(first) == 2 and not mixed_ok:
            earlier, later = sorted(first.values())
            column = names[later[1]] if later[1] < len(names) else None
            raise IngestError(
                path,
                "mixed decimal marks",
                row=later[0],
                column=column,
                expected=f"the decimal mark of {earlier[2]!r} (row {earlier[0]})",
                found=later[2],
            )
    mark = "," if count[","] > count["."] else "."
    return mark, len(first) == 2


def quoting(lines: Sequence[str], delimiter: str) -> str:
    """'all', 'none' or 'some' of the sampled fields open with a double quote."""
    text = "\n".join(lines)  # counted over the joined lines at once: no line holds a line break
    total = text.count(delimiter) + len(lines)
    opened = text.startswith('"') + text.count('\n"') + text.count(delimiter + '"')
    return "none" if opened == 0 else "all" if opened >= total else "some"


def _is_utf8_text(head: Head) -> bool:
    """Non-ASCII bytes that decode as UTF-8: a single-byte file practically never does."""
    if head.data.isascii():
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head.data, final=head.complete)
    except UnicodeDecodeError:
        return False
    return True


def _line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    kinds = {"CRLF": crlf, "LF": text.count("\n") - crlf, "CR": text.count("\r") - crlf}
    present = [name for name, n in kinds.items() if n]
    return present[0] if len(present) == 1 else "mixed" if present else "none"


def _looks_like_data(value: str | None) -> bool:
    text = (value or "").strip()
    return bool(_NUMBER.match(text) or _DATE_START.match(text))
