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
    return [ArchiveFile(under("duplicate_at_second_path", "copy-of-december/MortenSDUData.csv"),
                        (real / REAL_MORTEN).read_bytes(), "duplicate", duplicate_of=REAL_MORTEN.as_posix())]


@fixture
def truncated_mid_row(real: Path) -> list[ArchiveFile]:
    """A Knudjepsen export cut off mid-row (an interrupted copy): quarantined at its last row."""
    head = (real / REAL_KNUDJEPSEN).read_bytes()[:5000]
    return [ArchiveFile(under("truncated_mid_row", "NO4_LAMPEGRP_1.csv"), head[: head.rfind(b";")],
                        "quarantined", reason="truncated last row")]


@fixture
def garbled_gzip(real: Path) -> list[ArchiveFile]:
    """A compressed export saved under a .csv name: garbled bytes to a CSV reader, quarantined with why."""
    return [ArchiveFile(under("garbled_gzip", "export.csv"), gzip.compress(b"time;value\n2014-01-01 00:00;1\n"),
                        "quarantined", reason="gzip")]
