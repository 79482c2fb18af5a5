"""What changed in the landing folder since the last look, without trusting modification times.

State is kept per file (path → mtime, size, content hash), so a file copied in with an old
modification time is still seen. A new or changed file is only handed on once its size and
mtime held still between two looks: a file still being written waits.

Each path also counts the contents it has been handed on with (`generation`), so a path that
goes back to content it held before (a restored export: a rollback by file) is handed on again
as a new event, while content that did not change (a file touched or rewritten with the same
bytes) is not handed on at all.
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
    generation: int = 0  # how many times this path was handed on with new content, minus one
    handed_on: str | None = None  # while a change settles: the content last handed on for this path

    def to_json(self) -> list:
        return [self.mtime_ns, self.size, self.sha256, self.generation, self.handed_on]

    @classmethod
    def from_json(cls, raw: list) -> Entry:
        """Also reads the three-field entries of cursors written before generations were counted."""
        return cls(
            int(raw[0]), int(raw[1]), raw[2], int(raw[3]) if len(raw) > 3 else 0, raw[4] if len(raw) > 4 else None
        )

    @property
    def last_handed_on(self) -> str | None:
        return self.sha256 or self.handed_on

    @property
    def gone(self) -> bool:
        return self.size < 0

    @property
    def settling(self) -> bool:
        return self.sha256 is None and not self.gone


@dataclass(frozen=True)
class ReadyFile:
    relative_path: str
    sha256: str
    generation: int = 0  # 0 for a path's first content; the same (path, content) may come back later


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
    """Compare a fresh scan with the previous state; hash at most `max_hashes` files that are now stable.

    A stable file is handed on unless its content is the one last handed on for its path; each new
    content of a path, including one the path held before, gets the next `generation`.
    """
    ready: list[ReadyFile] = []
    new_state: dict[str, Entry] = {}
    for relative, (mtime_ns, size) in sorted(scan(root).items()):
        previous = state.get(relative)
        unchanged = previous is not None and (previous.mtime_ns, previous.size) == (mtime_ns, size)
        if unchanged and previous.sha256 is not None:
            new_state[relative] = previous
        elif unchanged and len(ready) < max_hashes:
            sha256 = sha256_of(root / relative)
            generation = previous.generation
            if previous.handed_on is None:  # the path's first content
                ready.append(ReadyFile(relative, sha256, generation))
            elif sha256 != previous.handed_on:  # new content, or content the path held before
                generation += 1
                ready.append(ReadyFile(relative, sha256, generation))
            new_state[relative] = Entry(mtime_ns, size, sha256, generation)
        else:  # new, changed or still settling: wait, remembering what the path held last
            new_state[relative] = Entry(
                mtime_ns,
                size,
                None,
                previous.generation if previous else 0,
                previous.last_handed_on if previous else None,
            )
    for relative, previous in state.items():  # gone: remembered, so content put back there later is judged
        if relative not in new_state and previous.last_handed_on is not None:  # against what the path held
            new_state[relative] = Entry(-1, -1, None, previous.generation, previous.last_handed_on)
    return ready, new_state
