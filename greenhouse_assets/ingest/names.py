"""Staged column names: the names as received, made safe to be PostgreSQL columns.

Names are kept verbatim (trailing spaces, quotes, SQL fragments and all: the loader quotes
identifiers), because the original name is what a researcher searches for. Only three things
change a name, each deterministic so the same header always stages the same way:

- an empty (or all-blank) name becomes `column_<n>`, n = 1-based position in the file;
- a repeated name gets ` #2`, ` #3`, … (first free number) on the second, third, … copy,
  so the two `"Celle 5: "` columns stage as `Celle 5: ` and `Celle 5:  #2`;
- a name over PostgreSQL's 63-byte identifier limit is cut at a character boundary (UTF-8
  bytes, not characters), and the suffix, if any, is added after the cut so it survives.

The staging table's own columns (`time`, `_row_number`, `_file_id`, …) count as taken.
"""

from __future__ import annotations

import re

MAX_IDENTIFIER_BYTES = 63
RESERVED = ("time", "_row_number", "_file_id", "_source_file", "_ingested_at", "_status")
# PostgreSQL allows 1600 columns per table; the staging table adds the reserved ones.
MAX_DATA_COLUMNS = 1600 - len(RESERVED)

_BRACKET_UNIT = re.compile(r"\[([^\[\]]*)\]\s*$")


def staged_names(originals: list[str], positions: list[int]) -> list[str]:
    taken = set(RESERVED)
    staged = []
    for original, position in zip(originals, positions, strict=True):
        base = original if original.strip() else f"column_{position}"
        name = _truncate(base, MAX_IDENTIFIER_BYTES)
        copy = 2
        while name in taken:
            suffix = f" #{copy}"
            name = _truncate(base, MAX_IDENTIFIER_BYTES - len(suffix.encode())) + suffix
            copy += 1
        taken.add(name)
        staged.append(name)
    return staged


def unit_from_name(name: str) -> str | None:
    """`Celle 6.Luft temp (Celle 6) [°C]` declares °C; `[]` declares nothing."""
    found = _BRACKET_UNIT.search(name)
    return (found.group(1).strip() or None) if found else None


def _truncate(name: str, limit: int) -> str:
    return name.encode()[:limit].decode(errors="ignore")
