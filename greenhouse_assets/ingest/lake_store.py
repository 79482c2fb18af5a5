"""Where the lake's objects live: a local folder or `s3://bucket/prefix`, through fsspec (s3fs for S3).

Every reader and writer of the lake goes through `LakeStore`. Objects are written whole: a local
file is written beside its place and renamed in; an S3 object is uploaded from a local spool file in
one PUT (or a multipart upload), which S3 makes visible only when complete. Originals are
write-once (`put_once`): never overwritten, and their SHA-256 verified once stored.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

import fsspec
from fsspec.implementations.local import LocalFileSystem

from greenhouse_assets import settings

HASH_CHUNK = 1 << 20
SINGLE_PUT_LIMIT = 5 * 2**30  # S3's largest single PUT; past it a multipart upload, verified by reading back


class LakeIntegrityError(RuntimeError):
    """A stored original does not hash to the content it was written from."""


def sha256_of_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


class LakeStore:
    """The lake at `url`. Keys are `/`-separated paths under the lake's root (`raw/...`, `moga/...`)."""

    def __init__(self, url: str | os.PathLike) -> None:
        self.url = str(url)
        self.fs, root = fsspec.url_to_fs(self.url, **settings.lake_storage_options(self.url))
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = str(Path(root).resolve()) if self.local else root.rstrip("/")

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def uri(self, key: str) -> str:
        """What `metadata.files` and `dagster/uri` record: `file:///...` or `s3://bucket/...`."""
        return Path(self.path(key)).as_uri() if self.local else f"s3://{self.path(key)}"

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        with self.fs.open(self.path(key), "rb") as handle:
            yield handle

    def spool(self, key: str) -> Path:
        """A local file to write `key`'s content into before it is published: beside its place in a local
        lake (the rename is then atomic), in the spool folder for object storage."""
        if self.local:
            dest = Path(self.path(key))
            dest.parent.mkdir(parents=True, exist_ok=True)
            return dest.with_name(dest.name + ".tmp")
        folder = settings.lake_spool_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="lake-", suffix="-" + key.rsplit("/", 1)[-1], dir=folder)
        os.close(handle)
        return Path(name)

    def publish(self, spooled: Path, key: str) -> str:
        """Put a derived object (Parquet, chart, CSV, error report) in place, replacing any earlier one."""
        try:
            if self.local:
                os.replace(spooled, self.path(key))
            else:
                self.fs.put_file(str(spooled), self.path(key))
        finally:
            spooled.unlink(missing_ok=True)
        return self.uri(key)

    def write_bytes(self, key: str, data: bytes) -> str:
        spooled = self.spool(key)
        spooled.write_bytes(data)
        return self.publish(spooled, key)

    def put_once(self, spooled: Path, key: str, sha256: str) -> str:
        """Store an original: written only if `key` holds nothing yet, and verified to hash to `sha256`.

        Local: a hard link is created only where no file is (atomic), then the stored file is hashed.
        S3: a conditional PUT (`If-None-Match: *`) with the content's SHA-256 checksum, which the server
        checks on receipt; the stored object's checksum is then compared (or, where the server keeps
        none, the object read back and hashed). A server that does not implement conditional writes is
        asked whether the key exists first (check-then-put: two writers of one key could then both
        write, harmless here as the key names the content's hash).
        """
        try:
            if self.local:
                try:
                    os.link(spooled, self.path(key))
                except FileExistsError:
                    return self.uri(key)
            else:
                self._put_once_s3(spooled, key, sha256)
        finally:
            spooled.unlink(missing_ok=True)
        self.verify(key, sha256)
        return self.uri(key)

    def verify(self, key: str, sha256: str) -> None:
        stored = self._stored_sha256(key)
        if stored != sha256:
            raise LakeIntegrityError(
                f"{self.uri(key)} hashes to {stored}, not {sha256}: the lake's copy is not the content that was written"
            )

    def _put_once_s3(self, spooled: Path, key: str, sha256: str) -> None:
        bucket, name, _ = self.fs.split_path(self.path(key))
        if not self._conditional_put:
            if self.exists(key):
                return
        condition = {"IfNoneMatch": "*"} if self._conditional_put else {}
        try:
            if spooled.stat().st_size < SINGLE_PUT_LIMIT:
                checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
                with open(spooled, "rb") as body:
                    self.fs.call_s3(
                        "put_object", Bucket=bucket, Key=name, Body=body, ChecksumSHA256=checksum, **condition
                    )
            else:
                self.fs.put_file(str(spooled), self.path(key), mode="create" if condition else "overwrite")
        except OSError as error:
            code = _s3_error_code(error)
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return  # already stored: write-once
            if code in ("BadDigest", "InvalidDigest"):
                raise LakeIntegrityError(
                    f"{self.uri(key)}: the server received bytes that do not hash to {sha256}; nothing was stored"
                ) from error
            if code == "NotImplemented" and condition:
                self.__dict__["_conditional_put"] = False
                return self._put_once_s3(spooled, key, sha256)
            raise
        finally:
            self.fs.invalidate_cache(self.path(key))

    @cached_property
    def _conditional_put(self) -> bool:
        return settings.lake_conditional_put()

    def _stored_sha256(self, key: str) -> str:
        if not self.local:
            bucket, name, _ = self.fs.split_path(self.path(key))
            head = self.fs.call_s3("head_object", Bucket=bucket, Key=name, ChecksumMode="ENABLED")
            checksum = head.get("ChecksumSHA256")
            if checksum and "-" not in checksum:  # a multipart object's checksum is of its parts, not its content
                return base64.b64decode(checksum).hex()
        with self.open(key) as handle:
            return sha256_of_stream(handle)


@contextmanager
def open_uri(uri: str) -> Iterator[BinaryIO]:
    """Read an object by the URI the lake recorded for it, wherever the lake is configured now."""
    with fsspec.open(uri, "rb", **settings.lake_storage_options(uri)) as handle:
        yield handle


@contextmanager
def local_copy(uri: str, relative: str) -> Iterator[Path]:
    """A recorded object as a local file at `<folder>/<relative>` (yielded: the folder), kept while the
    block runs: for a reader that needs a path, and to which a file's landing path still matters (its
    source rule). Downloaded from object storage, copied from a local lake."""
    folder = Path(tempfile.mkdtemp(prefix="lake-", dir=_mkdir(settings.lake_spool_dir())))
    try:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if uri.startswith("file://"):
            shutil.copyfile(url2pathname(urlparse(uri).path), target)
        else:
            fs, path = fsspec.url_to_fs(uri, **settings.lake_storage_options(uri))
            fs.get_file(path, str(target))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _s3_error_code(error: BaseException) -> str | None:
    """The S3 error code behind s3fs's translated OSError (botocore's ClientError is its cause)."""
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    return (response or {}).get("Error", {}).get("Code")
