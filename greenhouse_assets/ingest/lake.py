"""The file lake: original bytes by content hash, parsed Parquet, quarantined files.

Writes go to a local spool file and are published whole (`LakeStore`: renamed into a local lake,
uploaded to object storage), so a crash never leaves a half-written object where a reader could find it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.lake_store import LakeStore
from greenhouse_assets.ingest.readers import ParsedFile

HASH_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def original_key(source: str, sha256: str, received_at: datetime, suffix: str) -> str:
    """`<lake>/raw/<source>/<yyyy>/<mm>/<sha256>.<ext>`, as the contract fixes it."""
    return f"raw/{source}/{received_at:%Y}/{received_at:%m}/{sha256}{suffix.lower()}"


def parquet_key(source: str, sha256: str) -> str:
    return f"parquet/{source}/{sha256}.parquet"


class ContentChanged(RuntimeError):
    """The landed file no longer holds the content it was detected with: it is a new version, for a new run."""


class OriginalCopy:
    """The landed bytes copied into the lake by a background thread while the file is parsed and
    staged, hashed on the way: one read serves both the copy and the proof that the file still holds
    the content `sha256` names. Content the lake already holds is only hashed (the hash names the
    bytes, so a copy is final).

    Use as a context manager: `keep()` waits for the thread, checks the hash and stores the copy
    write-once (`LakeStore.put_once`, which verifies the stored object's hash); leaving the block
    without keeping stops the copy and removes what it wrote.
    """

    def __init__(self, path: Path, store: LakeStore, key: str, sha256: str) -> None:
        self.path, self.store, self.key, self.sha256 = path, store, key, sha256
        self.tmp: Path | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="original")
        self._digest: Future | None = None
        self._abandoned = threading.Event()

    def __enter__(self) -> OriginalCopy:
        self._digest = self._pool.submit(self._copy)
        return self

    def _copy(self) -> str:
        digest = hashlib.sha256()
        if not self.store.exists(self.key):
            self.tmp = self.store.spool(self.key)
        with open(self.path, "rb") as source, open(self.tmp, "wb") if self.tmp else nullcontext() as copy:
            while (chunk := source.read(HASH_CHUNK)) and not self._abandoned.is_set():
                digest.update(chunk)
                if copy is not None:
                    copy.write(chunk)
        return digest.hexdigest()

    def keep(self) -> str:
        """The stored original's URI."""
        found = self._digest.result()
        if found != self.sha256:
            raise ContentChanged(
                f"{self.path} changed after it was detected: its content now hashes to {found}, not "
                f"{self.sha256}. The landing sensor will pick up the new content as a new version."
            )
        if self.tmp is not None:
            tmp, self.tmp = self.tmp, None
            return self.store.put_once(tmp, self.key, self.sha256)
        return self.store.uri(self.key)

    def __exit__(self, exc_type, exc, tb) -> None:
        self._abandoned.set()  # once kept, the copy is complete: this only stops an unwanted one early
        try:
            wait([self._digest])
        finally:
            self._pool.shutdown()
            if self.tmp is not None:
                self.tmp.unlink(missing_ok=True)


class ParquetSink:
    """One Parquet file written from tables as they come, renamed into place only when complete.

    A writer thread compresses table n while the caller produces table n+1 (both release the GIL);
    at most one table waits in it. Use as a context manager: leaving it with an exception removes
    the partial file, leaving it normally publishes the file (`uri` is then where it is).
    """

    def __init__(self, store: LakeStore, key: str, empty_schema: pa.Schema) -> None:
        self.store, self.key, self.empty_schema = store, key, empty_schema
        self.tmp: Path | None = None
        self.uri: str | None = None
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._pending: Future | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")

    def __enter__(self) -> ParquetSink:
        self.tmp = self.store.spool(self.key)
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
                self.uri = self.store.publish(self.tmp, self.key)
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


def quarantine(path: Path, store: LakeStore, source: str, sha256: str, error: IngestError) -> str:
    """Keep a bad file and its error side by side so it can be inspected and re-dropped when fixed; the
    copy's URI. Write-once like an original, under the hash of the bytes actually copied (the caller's
    `sha256` names the key, as the file was detected)."""
    key = f"quarantine/{source}/{sha256}{path.suffix.lower()}"
    if not store.exists(key):
        tmp = store.spool(key)
        digest = hashlib.sha256()
        with open(path, "rb") as src, open(tmp, "wb") as copy:
            while chunk := src.read(HASH_CHUNK):
                digest.update(chunk)
                copy.write(chunk)
        store.put_once(tmp, key, digest.hexdigest())
    report = json.dumps({"source_path": str(path), **error.as_dict()}, indent=2, default=str)
    store.write_bytes(str(PurePosixPath(key).with_name(PurePosixPath(key).name + ".error.json")), report.encode())
    return store.uri(key)


def arrow_schema(parsed: ParsedFile) -> pa.Schema:
    """The Arrow schema of the file's batches, known before the first one is parsed."""
    import polars as pl

    return pl.DataFrame(schema=parsed.schema).to_arrow().schema
