"""The file lake: original bytes by content hash, parsed Parquet, quarantined files.

Writes go to a temporary name and are renamed into place, so a crash never leaves a
half-written file where a reader could find it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.readers import ParsedFile

HASH_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def original_path(raw_dir: Path, source: str, sha256: str, received_at: datetime, suffix: str) -> Path:
    """`<lake>/raw/<source>/<yyyy>/<mm>/<sha256>.<ext>`, as the contract fixes it."""
    return raw_dir / source / f"{received_at:%Y}" / f"{received_at:%m}" / f"{sha256}{suffix.lower()}"


def store_original(path: Path, dest: Path) -> Path:
    """Copy the landed bytes into the lake once; the content hash names them, so a copy is final."""
    if not dest.exists():
        _atomic_copy(path, dest)
    return dest


def write_parquet(parsed: ParsedFile, dest: Path, batch_rows: int = 100_000) -> int:
    """Stream the parsed batches into one Parquet file; returns the number of rows written.

    A writer thread compresses batch n while batch n+1 is parsed (both release the GIL), so
    parsing and writing overlap on two cores; at most two batches are in memory.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    rows = 0
    writer: pq.ParquetWriter | None = None
    pending: Future | None = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as pool:
            for batch in parsed.batches(batch_rows):
                table = batch.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                if pending is not None:
                    pending.result()
                pending = pool.submit(writer.write_table, table)
                rows += table.num_rows
            if pending is not None:
                pending.result()
        if writer is None:  # no batches at all: still a valid, empty Parquet with the file's schema
            empty = pa.Table.from_batches([], schema=_arrow_schema(parsed))
            writer = pq.ParquetWriter(tmp, empty.schema, compression="zstd")
        writer.close()
        writer = None
        os.replace(tmp, dest)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return rows


def quarantine(path: Path, quarantine_dir: Path, source: str, sha256: str, error: IngestError) -> Path:
    """Keep a bad file and its error side by side so it can be inspected and re-dropped when fixed."""
    dest = quarantine_dir / source / f"{sha256}{path.suffix.lower()}"
    if not dest.exists():
        _atomic_copy(path, dest)
    report = dest.with_name(dest.name + ".error.json")
    report.write_text(json.dumps({"source_path": str(path), **error.as_dict()}, indent=2, default=str))
    return dest


def _arrow_schema(parsed: ParsedFile) -> pa.Schema:
    import polars as pl

    return pl.DataFrame(schema=parsed.schema).to_arrow().schema


def _atomic_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
