"""The file lake: original bytes by content hash, parsed Parquet, quarantined files.

Writes go to a temporary name and are renamed into place, so a crash never leaves a
half-written file where a reader could find it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
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


class ContentChanged(RuntimeError):
    """The landed file no longer holds the content it was detected with: it is a new version, for a new run."""


class OriginalCopy:
    """The landed bytes copied into the lake by a background thread while the file is parsed and
    staged, hashed on the way: one read serves both the copy and the proof that the file still holds
    the content `sha256` names. Content the lake already holds is only hashed (the hash names the
    bytes, so a copy is final).

    Use as a context manager: `keep()` waits for the thread, checks the hash and renames the copy into
    place; leaving the block without keeping stops the copy and removes what it wrote.
    """

    def __init__(self, path: Path, dest: Path, sha256: str) -> None:
        self.path, self.dest, self.sha256 = path, dest, sha256
        self.tmp = dest.with_name(dest.name + ".tmp")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="original")
        self._digest: Future | None = None
        self._abandoned = threading.Event()

    def __enter__(self) -> OriginalCopy:
        self._digest = self._pool.submit(self._copy, not self.dest.exists())
        return self

    def _copy(self, write: bool) -> str:
        digest = hashlib.sha256()
        if write:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "rb") as source, open(self.tmp, "wb") if write else nullcontext() as copy:
            while (chunk := source.read(HASH_CHUNK)) and not self._abandoned.is_set():
                digest.update(chunk)
                if copy is not None:
                    copy.write(chunk)
        return digest.hexdigest()

    def keep(self) -> Path:
        found = self._digest.result()
        if found != self.sha256:
            raise ContentChanged(f"{self.path} changed after it was detected: its content now hashes to {found}, not "
                                 f"{self.sha256}. The landing sensor will pick up the new content as a new version.")
        if self.tmp.exists():
            os.replace(self.tmp, self.dest)
        return self.dest

    def __exit__(self, exc_type, exc, tb) -> None:
        self._abandoned.set()  # once kept, the copy is complete: this only stops an unwanted one early
        try:
            wait([self._digest])
        finally:
            self._pool.shutdown()
            self.tmp.unlink(missing_ok=True)


class ParquetSink:
    """One Parquet file written from tables as they come, renamed into place only when complete.

    A writer thread compresses table n while the caller produces table n+1 (both release the GIL);
    at most one table waits in it. Use as a context manager: leaving it with an exception removes
    the partial file, leaving it normally renames the file into place.
    """

    def __init__(self, dest: Path, empty_schema: pa.Schema) -> None:
        self.dest, self.empty_schema = dest, empty_schema
        self.tmp = dest.with_name(dest.name + ".tmp")
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._pending: Future | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")

    def __enter__(self) -> ParquetSink:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = _writer(self.tmp, table.schema)
        self._wait()
        self._pending = self._pool.submit(self._writer.write_table, table)
        self.rows += table.num_rows

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._wait()
            if exc_type is None:
                if self._writer is None:  # no rows at all: still a valid, empty Parquet with the file's schema
                    self._writer = _writer(self.tmp, self.empty_schema)
                self._writer.close()
                self._writer = None
                os.replace(self.tmp, self.dest)
        finally:
            self._pool.shutdown()
            if self._writer is not None:
                self._writer.close()
            self.tmp.unlink(missing_ok=True)


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """zstd, with dictionary encoding only for text columns: sensor readings rarely repeat exactly,
    so a dictionary on them costs a third of the writing time and makes the file no smaller."""
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=text)


def quarantine(path: Path, quarantine_dir: Path, source: str, sha256: str, error: IngestError) -> Path:
    """Keep a bad file and its error side by side so it can be inspected and re-dropped when fixed."""
    dest = quarantine_dir / source / f"{sha256}{path.suffix.lower()}"
    if not dest.exists():
        _atomic_copy(path, dest)
    report = dest.with_name(dest.name + ".error.json")
    report.write_text(json.dumps({"source_path": str(path), **error.as_dict()}, indent=2, default=str))
    return dest


def arrow_schema(parsed: ParsedFile) -> pa.Schema:
    """The Arrow schema of the file's batches, known before the first one is parsed."""
    import polars as pl

    return pl.DataFrame(schema=parsed.schema).to_arrow().schema


def _atomic_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
