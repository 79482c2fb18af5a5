"""`dagster dev` (webserver + daemon) in a subprocess on a free port, and a GraphQL client for it;
with `auth`, `greenhouse dev --auth` instead: the same behind nginx, plus the read-only webserver.

Shared by tests/test_e2e.py and bench/latency.py: both need the real daemon (sensors, declarative
automation, run queue) on the same storage the platform uses, not an in-process imitation.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.database import libpq_url
from greenhouse_assets.settings import ROLES, with_database, with_user

RUN_TIMES = """query Runs($after: Float) {
  runsOrError(filter: {createdAfter: $after}, limit: 200) {
    ... on Runs { results { runId status startTime endTime assetSelection { path }
                            tags { key value } } }
    ... on PythonError { message }
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dagster:
    def __init__(self, port: int, log: Path, auth: tuple[str, str] | None = None):
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.auth = auth

    def as_user(self, user: str, password: str) -> Dagster:
        """The same stack, its GraphQL requests sent with these credentials (basic auth)."""
        client = Dagster(0, self.log, (user, password))
        client.url = self.url
        return client

    def graphql(self, query: str, **variables) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {"Content-Type": "application/json"}
        if self.auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
        request = urllib.request.Request(f"{self.url}/graphql", body, headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def runs(self, after: float) -> list[dict]:
        """Runs created after `after` (epoch s), oldest first, tags as a dict."""
        results = self.graphql(RUN_TIMES, after=after)["runsOrError"]
        if "results" not in results:
            raise RuntimeError(results["message"])
        runs = [
            {
                **r,
                "tags": {t["key"]: t["value"] for t in r["tags"]},
                "assets": ["/".join(a["path"]) for a in r["assetSelection"] or []],
            }
            for r in results["results"]
        ]
        return sorted(runs, key=lambda r: r["startTime"] or float("inf"))

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


@contextmanager
def dagster_dev(env: dict[str, str], log: Path, timeout: float = 120, auth: tuple[str, str] | None = None):
    """Start `dagster dev` in its own process group; yield once GraphQL answers; stop the group after.

    With `auth` (the operator's user name and password): `greenhouse dev --auth`, with the operator and
    viewer credentials already in `env`; the client sends the operator's."""
    port = free_port()
    bindir = Path(sys.executable).parent
    if auth:
        command = [str(bindir / "greenhouse"), "dev", "--auth", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [
            str(bindir / "dagster"),
            "dev",
            "-w",
            str(settings.PROJECT_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=settings.PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = Dagster(port, log, auth)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {process.returncode}:\n{client.log_tail()}")
            try:
                client.graphql("{ version }")
                break
            except OSError:  # refused, or nginx's 502 while the webserver starts
                if time.monotonic() > deadline:
                    raise TimeoutError(f"dagster dev not answering after {timeout} s:\n{client.log_tail()}") from None
                time.sleep(1)
        yield client
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the group `dagster dev` leads (webserver, daemon, code servers, runs), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def platform_under_dagster_dev(
    platform_url: str, log: Path, auth: tuple[str, str] | None = None, timeout: float = 120, **env: str
) -> Iterator[Dagster]:
    """`dagster dev` on the test platform database with a Dagster storage database of its own (so the
    daemon's automation state starts empty), the test's landing folder and lake, 5 s / 10 s sensor
    intervals (the plan's: 600 s, its default), and `env` on top (`auth`: see `dagster_dev`). dbt's bookkeeping of earlier tests' runs is dropped first."""
    with psycopg.connect(libpq_url(platform_url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS timeseries.measurement_file_state, timeseries.measurement_changes")
    # The cluster administrator creates the storage database, owned by Dagster's role, as `greenhouse db up` does.
    admin = with_database(os.environ["GREENHOUSE_ADMIN_URL"], "postgres")
    storage_name = f"dagster_e2e_{os.getpid()}"
    storage = sql.Identifier(storage_name)
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(storage))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(storage, sql.Identifier(ROLES["dagster"])))
    settings_env = {
        "DAGSTER_DATABASE_URL": with_user(with_database(platform_url, storage_name), ROLES["dagster"], None),
        "GREENHOUSE_LANDING_DIR": os.environ["GREENHOUSE_LANDING_DIR"],
        "GREENHOUSE_LAKE_URL": os.environ["GREENHOUSE_LAKE_URL"],
        "GREENHOUSE_SENSOR_INTERVAL": "5",
        "GREENHOUSE_MOGA_INTERVAL": "10",
        # The product's default: the day-ahead plan and backtest (tests/test_plan.py) are not what these stacks
        # test; at 10 s they ran beside MOGA on the two cores, and the tests waited for them to finish too.
        "GREENHOUSE_PLAN_INTERVAL": "600",
        **env,
    }
    try:
        with dagster_dev(settings_env, log, timeout=timeout, auth=auth) as dagster:
            yield dagster
    finally:
        with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(storage))
