"""What changed in the landing folder since the last look, without trusting modification times.

State is kept per file (path → mtime, size, content hash), so a file copied in with an old
modification time is still seen. A new or changed file is only handed on once its size and
mtime held still between two looks: a file still being written waits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from greenhouse_assets.ingest.lake import sha256_of

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


@dataclass(frozen=True)
class Entry:
    mtime_ns: int
    size: int
    sha256: str | None = None  # None: seen, not yet stable

    def to_json(self) -> list:
        return [self.mtime_ns, self.size, self.sha256]

    @classmethod
    def from_json(cls, raw: list) -> "Entry":
        return cls(int(raw[0]), int(raw[1]), raw[2])


@dataclass(frozen=True)
class ReadyFile:
    relative_path: str
    sha256: str


def scan(root: Path) -> dict[str, tuple[int, int]]:
    """Every visible regular file under root: relative path → (mtime_ns, size)."""
    found: dict[str, tuple[int, int]] = {}
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(IGNORED_SUFFIXES):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                found[Path(entry.path).relative_to(root).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return found


def advance(root: Path, state: dict[str, Entry], max_hashes: int) -> tuple[list[ReadyFile], dict[str, Entry]]:
    """Compare a fresh scan with the previous state; hash at most `max_hashes` files that are now stable."""
    ready: list[ReadyFile] = []
    new_state: dict[str, Entry] = {}
    for relative, (mtime_ns, size) in sorted(scan(root).items()):
        previous = state.get(relative)
        unchanged = previous is not None and (previous.mtime_ns, previous.size) == (mtime_ns, size)
        if unchanged and previous.sha256 is not None:
            new_state[relative] = previous
        elif unchanged and len(ready) < max_hashes:
            sha256 = sha256_of(root / relative)
            ready.append(ReadyFile(relative, sha256))
            new_state[relative] = Entry(mtime_ns, size, sha256)
        else:
            new_state[relative] = Entry(mtime_ns, size)
    return ready, new_state
