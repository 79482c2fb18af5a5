"""Generated files for `tests/test_archive.py`: one builder per pattern, each returning the files it adds
to the archive folder and what must become of each.

Add a pattern by writing a builder and decorating it with `@fixture`: it gets the real data folder
(`REAL_DATA`) and returns `ArchiveFile`s (path under `fixtures/<builder name>/`, bytes, expected
status, and for rejected files a piece of the reason the run's table must show). Files expected to
load are counted by the archive test's own parsers, by format, like the real files; a builder for a
new format adds its parser there (`test_archive.PARSERS`), keyed by the registry rule that reads it.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REAL_KNUDJEPSEN = Path("knudjepsen") / "NO3_LAMPEGRP_1.csv"
REAL_MORTEN = Path("aarslev") / "december2013" / "MortenSDUData.csv"


@dataclass(frozen=True)
class ArchiveFile:
    relative: str  # under the archive folder
    content: bytes
    status: str  # what `greenhouse run` must report: loaded, duplicate, quarantined, ...
    reason: str | None = None  # for a file that does not go through: words its reason must contain
    duplicate_of: str | None = None  # for a duplicate: the archive path of the file it repeats


Builder = Callable[[Path], list[ArchiveFile]]
BUILDERS: dict[str, Builder] = {}


def fixture(builder: Builder) -> Builder:
    BUILDERS[builder.__name__] = builder
    return builder


def build_all(real: Path) -> list[ArchiveFile]:
    files = [f for builder in BUILDERS.values() for f in builder(real)]
    paths = [f.relative for f in files]
    assert len(paths) == len(set(paths)), "two fixtures write the same path"
    return files


def under(builder: str, relative: str) -> str:
    return f"fixtures/{builder}/{relative}"


@fixture
def duplicate_at_second_path(real: Path) -> list[ArchiveFile]:
    """The same bytes as a real export, at another path: recorded as a duplicate, nothing staged twice."""
    return [
        ArchiveFile(
            under("duplicate_at_second_path", "copy-of-december/MortenSDUData.csv"),
            (real / REAL_MORTEN).read_bytes(),
            "duplicate",
            duplicate_of=REAL_MORTEN.as_posix(),
        )
    ]


@fixture
def truncated_mid_row(real: Path) -> list[ArchiveFile]:
    """A Knudjepsen export cut off mid-row (an interrupted copy): quarantined at its last row."""
    head = (real / REAL_KNUDJEPSEN).read_bytes()[:5000]
    return [
        ArchiveFile(
            under("truncated_mid_row", "NO4_LAMPEGRP_1.csv"),
            head[: head.rfind(b";")],
            "quarantined",
            reason="truncated last row",
        )
    ]


@fixture
def garbled_gzip(real: Path) -> list[ArchiveFile]:
    """A compressed export saved under a .csv name: garbled bytes to a CSV reader, quarantined with why."""
    return [
        ArchiveFile(
            under("garbled_gzip", "export.csv"),
            gzip.compress(b"time;value\n2014-01-01 00:00;1\n"),
            "quarantined",
            reason="gzip",
        )
    ]


# --- the patterns real archives have (issue: "Real archives"), each built from a real file ---------------

REAL_CELL = Path("aarslev") / "celle5"


def _renumbered_cell(real: Path, month: str, cell: int) -> list[str]:
    """A real Celle 5 month's lines (CRLF split) with the cell renumbered, so its keys are its own."""
    text = (real / REAL_CELL / f"output-2014-{month}-01-00-00.csv").read_bytes().decode("utf-8")
    return text.replace('"Celle 5: ', f'"Celle {cell}: ').split("\r\n")


def _crlf(lines: list[str]) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


@fixture
def mixed_decimal_marks(real: Path) -> list[ArchiveFile]:
    """A `;` month whose cells mix decimal marks: every 7th row's quoted numbers written with a comma."""
    lines = _renumbered_cell(real, "02", 7)
    for i in range(1, len(lines), 7):
        date, clock, rest = lines[i].split(";", 2) if lines[i] else ("", "", "")
        if rest:
            lines[i] = f"{date};{clock};" + re.sub(r'"(-?\d+)\.(\d+(?:e[-+]\d+)?)"', r'"\1,\2"', rest)
    return [ArchiveFile(under("mixed_decimal_marks", "celle7/output-2014-02-01-00-00.csv"), _crlf(lines), "loaded")]


@fixture
def spring_forward_row(real: Path) -> list[ArchiveFile]:
    """The March month with a row stamped 02:00 in the DST gap (the controller's clock had not switched)."""
    lines = _renumbered_cell(real, "03", 8)
    at = next(i for i, line in enumerate(lines) if line.startswith("2014-03-30;01:50:00;"))
    lines.insert(at + 1, lines[at].replace("01:50:00", "02:00:00", 1))
    return [ArchiveFile(under("spring_forward_row", "celle8/output-2014-03-01-00-00.csv"), _crlf(lines), "loaded")]


@fixture
def uuid_streams(real: Path) -> list[ArchiveFile]:
    """A real sMAP month as a list of streams keyed by UUID (float epochs, no Path): the registry maps the
    real installation's UUIDs, so it merges with the object-shaped JSON of the same month; plus a list
    whose UUIDs are unknown but for one stream that keeps its Path (staged, reported, not fatal)."""
    document = json.loads((real / REAL_CELL / "output-2014-02-01-00-00.csv.json").read_text(encoding="utf-8"))
    known = [
        {"uuid": s["uuid"], "Readings": [[float(t), v] for t, v in s["Readings"]], "Properties": s["Properties"]}
        for s in document.values()
    ]
    unknown = [
        {
            "uuid": str(uuid.uuid3(uuid.NAMESPACE_URL, f"archive/{key}")),
            "Readings": s["Readings"],
            **({"Path": key.replace("Cell5", "Cell9")} if key.endswith("/air_temperature") else {}),
        }
        for key, s in document.items()
    ]
    return [
        ArchiveFile(
            under("uuid_streams", "known/output-2014-02-01-00-00.csv.json"), json.dumps(known).encode(), "loaded"
        ),
        ArchiveFile(
            under("uuid_streams", "unknown/output-2014-02-01-00-00.csv.json"), json.dumps(unknown).encode(), "loaded"
        ),
    ]


def _lamp_file(builder: str, write, *args) -> ArchiveFile:
    from test_registry_patterns import extra_file, lamp_groups_file, units_file  # real rows, reshaped

    with tempfile.TemporaryDirectory() as folder:
        made = {"lamp_groups": lamp_groups_file, "extra": extra_file, "units": units_file}[write](Path(folder), *args)
        path = made[0] if isinstance(made, tuple) else made
        return ArchiveFile(under(builder, path.name), path.read_bytes(), "loaded")


@fixture
def controller_points(real: Path) -> list[ArchiveFile]:
    """One file for two sections: six `målt status` columns told apart by their controller points, and
    `mål FD; mål RF; mål læ; mål vind` repeated for two sections."""
    return [_lamp_file("controller_points", "lamp_groups", 5, 6), _lamp_file("controller_points", "extra", 5, 6)]


@fixture
def declared_units(real: Path) -> list[ArchiveFile]:
    """A unit row declaring °F and kW/m²: converted to the canonical units."""
    return [_lamp_file("declared_units", "units", 7, "°F", "kW/m²")]


def _knudjepsen_rows(real: Path, first: int, count: int) -> tuple[list[str], list[str]]:
    lines = (real / REAL_KNUDJEPSEN).read_bytes().decode("utf-8").split("\r\n")
    data = [line for line in lines[3:] if line and not line.startswith('"";')]
    return lines[:3], data[first : first + count]


@fixture
def rows_sent_again(real: Path) -> list[ArchiveFile]:
    """A logger that sent blocks again: 20 rows repeated as they were, then 10 with a changed first value."""
    header, data = _knudjepsen_rows(real, 8000, 1200)
    changed = [re.sub(r'^("[^"]+";)("[^"]*"|[^;]*)', r'\1"99,5"', line) for line in data[600:610]]
    rows = data[:400] + data[380:400] + data[400:610] + changed + data[610:]
    return [ArchiveFile(under("rows_sent_again", "NO8_LAMPEGRP_1.csv"), _crlf([*header, *rows, ""]), "loaded")]


@fixture
def clock_reset(real: Path) -> list[ArchiveFile]:
    """A logger whose clock fell back to 1970 part-way: staged, excluded from the time series by its
    blocking check, while every other file goes on."""
    from helpers import clock_reset_export

    return [
        ArchiveFile(
            under("clock_reset", "NO9_LAMPEGRP_1.csv"), clock_reset_export(), "excluded", reason="timestamps_usable"
        )
    ]
