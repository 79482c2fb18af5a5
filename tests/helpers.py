"""Shared by test modules (and importable by benchmarks, with `tests/` on sys.path, like `e2e.stack`).

- `scratch_cluster()`: a second PostgreSQL + TimescaleDB cluster on a free port in a temp dir, for
  tests that stop and start a server: the shared cluster on 55432 is never stopped.
- `make_knudjepsen_file()`: a Knudjepsen export of any length, made of the real file's rows.
- `stage()`: one file received into the lake and loaded into staging, as an ingest run does, without Dagster.
- `Webhook`: a local incoming webhook on a free port that records the alerts it accepts and can be
  told to fail (HTTP 500) the next POSTs or every POST (the `webhook` fixture in conftest).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REAL_DATA

from greenhouse_assets import settings
from greenhouse_assets.database import At
from greenhouse_assets.ingest.lake_store import LakeStore
from greenhouse_assets.ingest.pipeline import receive_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.ingest.staging import load_parquet
from greenhouse_dev import localdb

REAL_KNUDJEPSEN = REAL_DATA / "knudjepsen" / "NO3_LAMPEGRP_1.csv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Scratch:
    local_dir: Path
    port: int

    def use(self, mp: pytest.MonkeyPatch) -> None:
        """Point `greenhouse_dev.localdb` (up/stop/status) at this cluster."""
        mp.setenv("GREENHOUSE_LOCAL_DIR", str(self.local_dir))
        mp.setenv("GREENHOUSE_PG_PORT", str(self.port))

    def url(self, database: str = settings.PLATFORM_DB) -> str:
        return f"postgresql://{settings.LOCAL_USER}@127.0.0.1:{self.port}/{database}"

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m <mode> -w`, however the server was started; one process, so the signal
        goes out at once (`localdb.stop()` checks with `pg_ctl status` first)."""
        with pytest.MonkeyPatch.context() as mp:
            self.use(mp)
            cluster = localdb._Cluster()
            if (cluster.pgdata / "postmaster.pid").exists():
                cmd = [localdb._bindir_for(cluster) / "pg_ctl", "stop", "-D", cluster.pgdata, "-m", mode, "-w"]
                subprocess.run(
                    localdb._strs(localdb._as_user(localdb._os_user(cluster), cmd)), check=True, capture_output=True
                )


@contextmanager
def scratch_cluster() -> Iterator[Scratch]:
    """A cluster directory on a free port; stopped and deleted at the end."""
    root = Path(tempfile.mkdtemp(prefix="greenhouse-localdb-test-"))
    root.chmod(0o755)  # mkdtemp makes it 0700; the server's OS user must be able to enter it
    info = Scratch(root / "local", free_port())
    try:
        yield info
    finally:
        try:
            info.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def make_knudjepsen_file(dest: Path, rows: int) -> Path:
    """Repeat the real file's data rows, each repetition shifted past the previous one."""
    lines = REAL_KNUDJEPSEN.read_bytes().decode("utf-8").split("\r\n")
    header, data = lines[:3], [line for line in lines[3:] if line and not line.startswith('"";')]
    first = datetime.strptime(data[0][1:20], "%d-%m-%Y %H:%M:%S")
    last = datetime.strptime(data[-1][1:20], "%d-%m-%Y %H:%M:%S")
    span = last - first + timedelta(minutes=5)
    with open(dest, "w", encoding="utf-8", newline="") as out:
        out.write("\r\n".join(header) + "\r\n")
        written, repetition = 0, 0
        while written < rows:
            shift = span * repetition
            for line in data[: rows - written]:
                stamp = datetime.strptime(line[1:20], "%d-%m-%Y %H:%M:%S") + shift
                out.write(f'"{stamp:%d-%m-%Y %H:%M:%S}"{line[21:]}\r\n')
            written += min(len(data), rows - written)
            repetition += 1
    return dest


def stage(url: str, path: Path, root: Path, lake: Path, registry: SourceRegistry | None = None):
    """Receive `path` (under the landing folder `root`) into the lake at `lake` and load its Parquet into
    staging; the receive outcome (file id, source, detection) for the test to look at."""
    outcome = receive_file(
        path, landing_root=root, store=LakeStore(lake), database=At(url), registry=registry or SourceRegistry.load()
    )
    assert outcome.status == "received", outcome.error
    load_parquet(
        At(url),
        file_id=outcome.file_id,
        source=outcome.source,
        source_file=outcome.path,
        parquet=Path(outcome.parquet_uri.removeprefix("file://")),
        run_id=None,
        actor="test",
        partition_key=outcome.partition_key,
    )
    return outcome


class Webhook:
    """A local incoming webhook: `received` holds the alerts it accepted (parsed JSON, answered 204),
    `attempts` every POST it got, failed or not. `fail_next(n)` answers the next n POSTs with HTTP 500;
    `fail_always = True` answers every POST with 500 until set back."""

    def __init__(self):
        self.received: list[dict] = []
        self.attempts: list[dict] = []
        self.failures_left = 0
        self.fail_always = False
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook._lock:
                    hook.attempts.append(body)
                    fail = hook.fail_always or hook.failures_left > 0
                    if fail and not hook.fail_always:
                        hook.failures_left -= 1
                    if not fail:
                        hook.received.append(body)
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self.failures_left = count

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def clock_reset_export(rows: int = 600, reset_after: int = 400) -> bytes:
    """The real Knudjepsen export's first `rows` data rows, its logger clock reset to 1970-01-01 after
    `reset_after` of them: a file that reads fine but whose times cannot be real."""
    lines = REAL_KNUDJEPSEN.read_bytes().decode("utf-8").split("\r\n")
    header, data = lines[:3], [line for line in lines[3:] if line and not line.startswith('"";')][:rows]
    epoch = datetime(1970, 1, 1)
    data[reset_after:] = [
        f'"{epoch + timedelta(minutes=5 * i):%d-%m-%Y %H:%M:%S}"{line[21:]}'
        for i, line in enumerate(data[reset_after:])
    ]
    return ("\r\n".join(header + data) + "\r\n").encode("utf-8")


def batch_members(request) -> dict[str, dict]:
    """A landing-sensor batch request's partition key -> its file's config (empty for a one-file run)."""
    return request.run_config["ops"]["ingest_file_version"]["config"].get("batch", {})


def requested_files(requests, landing: Path) -> dict[str, str]:
    """Landing-relative path -> partition key, for every file the landing sensor's requests run."""
    files = {}
    for request in requests:
        members = batch_members(request)
        if members:
            files |= {Path(member["path"]).relative_to(landing).as_posix(): key for key, member in members.items()}
        else:
            files[request.tags["greenhouse/path"]] = request.partition_key
    return files


def run_request(instance, request, tags: dict | None = None):
    """A requested run of the `ingest_file` job, executed in process as the daemon would launch it: one
    partition, or a batch's range (its tags name the range)."""
    from greenhouse_assets.definitions import defs

    return defs.resolve_job_def("ingest_file").execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        instance=instance,
        tags=tags or request.tags,
        raise_on_error=False,
    )
