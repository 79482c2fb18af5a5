"""`greenhouse db up|stop|status|url` against real PostgreSQL clusters, no mocks.

The first run on a machine installs PostgreSQL/build tools and builds TimescaleDB (about a minute).
The shared cluster on settings.local_port() (55432) is left running for the rest of the suite;
start/stop and DATABASE_URL cases use a scratch cluster on a free port in its own directory.

Not covered: a server whose pg_available_extensions lacks timescaledb, because every cluster on
this machine shares the PostgreSQL install where `up()` put the extension files; the closest real
case, a server that has the files but does not preload the library, is covered instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from helpers import free_port, scratch_cluster
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_dev import localdb

# Its clusters are module-scoped: one worker runs every test here (`make test` runs two pytest-xdist workers).
pytestmark = pytest.mark.xdist_group("test_localdb")


@pytest.fixture(autouse=True)
def _no_external_database(monkeypatch):
    """Tests choose their database explicitly; an outer DATABASE_URL must not leak in."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_DATABASE_URL", raising=False)


@pytest.fixture(scope="module")
def shared_cluster() -> str:
    """The project's cluster, brought up once and left running for other test modules."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DATABASE_URL", raising=False)
        mp.delenv("DAGSTER_DATABASE_URL", raising=False)
        assert localdb.up() == 0
    return settings.local_url()


@pytest.fixture(scope="module")
def scratch():
    """A second cluster in a temp dir, stopped and deleted at the end of the module."""
    with scratch_cluster() as info:
        yield info


# --------------------------------------------------------------------------- url()


def test_url_honours_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example.org:6543/platform")
    assert localdb.url() == "postgresql://someone@db.example.org:6543/platform"


@pytest.mark.pure
def test_url_defaults_to_local_cluster_and_port(monkeypatch):
    assert localdb.url() == settings.local_url()
    monkeypatch.setenv("GREENHOUSE_PG_PORT", "55111")
    assert localdb.url() == "postgresql://greenhouse_pipeline@127.0.0.1:55111/greenhouse"


# --------------------------------------------------------------------------- the shared cluster


def test_up_is_idempotent(shared_cluster, capsys):
    capsys.readouterr()
    assert localdb.up() == 0
    assert localdb.up() == 0
    out = capsys.readouterr().out
    assert f"already running on port {settings.local_port()}" in out
    assert "TimescaleDB 2." in out
    assert shared_cluster in out


def test_timescaledb_works_through_url(shared_cluster):
    # As the owner: only the database's owner may create tables in `public` (PostgreSQL 15).
    with psycopg.connect(settings.owner_url()) as conn:
        (version,) = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        assert version.startswith("2.")
        name = f"localdb_probe_{uuid.uuid4().hex[:8]}"
        table = sql.Identifier(name)
        conn.execute(sql.SQL("CREATE TABLE {} (ts timestamptz NOT NULL, value float8)").format(table))
        conn.execute("SELECT create_hypertable(%s, 'ts')", [name])
        conn.execute(sql.SQL("INSERT INTO {} VALUES (now(), 1.5)").format(table))
        (chunks,) = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = %s", [name]
        ).fetchone()
        assert chunks == 1
        conn.rollback()  # leaves nothing behind


def test_cluster_has_dagster_database_and_listens_on_loopback_only(shared_cluster):
    with psycopg.connect(settings.dagster_database_url()) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == settings.DAGSTER_DB
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW fsync").fetchone()[0] == "on"


def test_status_reports_running(shared_cluster, capsys):
    assert localdb.status() == 0
    out = capsys.readouterr().out
    assert f"running on port {settings.local_port()}" in out and "PostgreSQL 1" in out


def test_cli_treats_exported_local_url_as_local(shared_cluster):
    """`greenhouse` exports DATABASE_URL=<local url> before dispatching: that must still mean "local"."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_DATABASE_URL")}
    for action in ("up", "status"):
        done = subprocess.run(
            [sys.executable, "-m", "greenhouse_dev.cli", "db", action],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert f"port {settings.local_port()}" in done.stdout


# --------------------------------------------------------------------------- a scratch cluster


def test_scratch_cluster_start_stop_restart(scratch, monkeypatch, capsys):
    scratch.use(monkeypatch)
    assert localdb.status() == 3
    assert "not initialised" in capsys.readouterr().out

    assert localdb.up() == 0
    out = capsys.readouterr().out
    assert "initialising a new cluster" in out and f"started on port {scratch.port}" in out
    assert localdb.status() == 0

    assert localdb.stop() == 0
    assert localdb.status() == 3
    assert "stopped" in capsys.readouterr().out
    assert localdb.stop() == 0
    assert "not running" in capsys.readouterr().out

    assert localdb.up() == 0  # existing data dir: just start it
    out = capsys.readouterr().out
    assert "initialising" not in out and f"started on port {scratch.port}" in out
    with psycopg.connect(localdb.url()) as conn:
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()


def test_database_url_server_gets_extension_and_dagster_database(scratch, monkeypatch, capsys):
    with pytest.MonkeyPatch.context() as mp:
        scratch.use(mp)
        assert localdb.up() == 0
    suffix = uuid.uuid4().hex[:8]
    platform_db, dagster_db = f"ext_{suffix}", f"dagster_{suffix}"
    with psycopg.connect(scratch.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(platform_db)))
    monkeypatch.setenv("DATABASE_URL", scratch.url(platform_db))
    monkeypatch.setenv("DAGSTER_DATABASE_URL", scratch.url(dagster_db))

    assert localdb.up() == 0
    assert localdb.status() == 0
    out = capsys.readouterr().out
    assert "using DATABASE_URL" in out and "TimescaleDB 2." in out
    with psycopg.connect(scratch.url(platform_db)) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    with psycopg.connect(scratch.url(dagster_db)) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == dagster_db


def test_database_url_server_without_preloaded_timescaledb_fails_clearly(scratch, monkeypatch, capsys):
    """Extension files present but the library not preloaded: a real server that cannot enable it."""
    scratch.use(monkeypatch)
    assert localdb.up() == 0
    assert localdb.stop() == 0
    cluster = localdb._Cluster()
    pg_ctl = localdb._bindir_for(cluster) / "pg_ctl"
    start = [pg_ctl, "start", "-D", cluster.pgdata, "-w", "-l", cluster.log]
    start += ["-o", "-c shared_preload_libraries=''"]
    as_user = localdb._as_user(localdb._os_user(cluster), start)
    subprocess.run(localdb._strs(as_user), check=True, cwd=cluster.root)
    try:
        with psycopg.connect(scratch.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE no_preload")
        monkeypatch.setenv("DATABASE_URL", scratch.url("no_preload"))
        # Another server than the local cluster's (a DATABASE_URL on the local address, as any role, is local).
        monkeypatch.setenv("GREENHOUSE_PG_PORT", str(free_port()))
        capsys.readouterr()
        assert localdb.up() == 1
        err = capsys.readouterr().err
        assert "could not be enabled" in err and "shared_preload_libraries" in err
    finally:
        monkeypatch.setenv("GREENHOUSE_PG_PORT", str(scratch.port))
        monkeypatch.delenv("DATABASE_URL")
        assert localdb.stop() == 0


def test_unreachable_database_url_fails_clearly(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://greenhouse@127.0.0.1:{free_port()}/greenhouse")
    assert localdb.up() == 1
    assert "cannot connect to postgresql://greenhouse@127.0.0.1" in capsys.readouterr().err
    assert localdb.status() == 3


@pytest.mark.pure
@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another OS user")
def test_untraversable_project_path_fails_clearly(monkeypatch, capsys):
    root = Path(tempfile.mkdtemp(prefix="greenhouse-localdb-closed-"))  # mode 0700
    try:
        monkeypatch.setenv("GREENHOUSE_LOCAL_DIR", str(root / "local"))
        monkeypatch.setenv("GREENHOUSE_PG_PORT", str(free_port()))
        assert localdb.up() == 1
        err = capsys.readouterr().err
        assert f"cannot enter {root} (mode 0o700)" in err and "chmod o+x" in err
    finally:
        shutil.rmtree(root, ignore_errors=True)
