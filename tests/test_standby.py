"""The hot standby (issue 17, item 5): `greenhouse db standby`, analysts on it, and a failover.

Real servers only: a scratch primary (`localdb` on a free port in its own directory, never the shared
cluster) and its standby made by `localdb.standby()` (pg_basebackup -R over a replication slot, on
GREENHOUSE_STANDBY_PORT). The standby is synchronous: the primary's commits wait until the standby has
flushed them. The failover test shows what that buys: the primary is crashed (`pg_ctl stop -m
immediate`) while a file's staging COPY runs and while another connection commits numbered rows as fast
as it can; the standby is promoted (`greenhouse db promote`), every row whose commit returned is on it,
and with DATABASE_URL on it `greenhouse ingest` of both files loads each exactly once.

Dagster's run storage stays on the shared test cluster (conftest), as in test_db_failure.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from helpers import Scratch, free_port, make_knudjepsen_file, scratch_cluster

from greenhouse_assets import cli, database, migrate
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_dev import localdb

# Its clusters are module-scoped: one worker runs every test here (`make test` runs two pytest-xdist workers).
pytestmark = pytest.mark.xdist_group("test_standby")

FIRST_ROWS = 5_000  # loaded and committed before the crash
SECOND_ROWS = 150_000  # its staging COPY runs about a second: time to see it and crash the primary under it


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[Scratch, Scratch]]:
    """A migrated scratch primary and its synchronous standby under the primary's `standby/` folder."""
    with scratch_cluster() as primary, pytest.MonkeyPatch.context() as mp:
        standby = Scratch(primary.local_dir / "standby", free_port())
        primary.use(mp)
        mp.setenv("GREENHOUSE_STANDBY_PORT", str(standby.port))
        mp.setenv("DATABASE_URL", primary.url())  # the scratch cluster's own URL: localdb manages it as local
        assert localdb.up() == 0
        migrate.upgrade(url=primary.url())
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE public.commit_probe (id integer PRIMARY KEY)")
        try:
            assert localdb.standby() == 0
            yield primary, standby
        finally:
            standby.stop()


def test_standby_streams_synchronously_and_analysts_read_it(clusters, monkeypatch, capsys):
    primary, standby = clusters
    with psycopg.connect(primary.url("postgres")) as conn:
        assert conn.execute(
            "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s", [localdb.STANDBY_NAME]
        ).fetchone() == ("streaming", "sync")
        assert conn.execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = %s", [localdb.STANDBY_NAME]
        ).fetchone() == (True,)
    analyst = f"postgresql://greenhouse_analyst@127.0.0.1:{standby.port}/greenhouse"
    monkeypatch.setenv("GREENHOUSE_ANALYST_URL", analyst)
    assert cli.main(["db", "url", "--role", "analyst"]) == 0
    assert capsys.readouterr().out.strip() == analyst
    with psycopg.connect(analyst) as conn:
        assert conn.execute("SELECT pg_is_in_recovery(), current_user").fetchone() == (True, "greenhouse_analyst")
        assert conn.execute("SELECT count(*) FROM metadata.files").fetchone() == (0,)
    with psycopg.connect(standby.url()) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO public.commit_probe VALUES (-1)")  # even the superuser cannot write there


class CommitProbe(threading.Thread):
    """Commits numbered rows on the primary one by one until it fails; `acknowledged` are those whose
    COMMIT returned, i.e. what a client was told is durable."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.acknowledged, self.stopped = url, [], threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while not self.stopped.is_set():
                    conn.execute("INSERT INTO public.commit_probe VALUES (%s)", [len(self.acknowledged)])
                    self.acknowledged.append(len(self.acknowledged))
        except psycopg.Error:
            pass  # the primary crashed under it


class CrashMidCopy(threading.Thread):
    """Crash the primary (immediate shutdown: no checkpoint, clients cut off) once a staging COPY is active."""

    def __init__(self, primary: Scratch):
        super().__init__(daemon=True)
        self.primary, self.copy_seen, self.done = primary, None, threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            while not self.done.is_set() and self.copy_seen is None:
                row = conn.execute(
                    "SELECT query FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'COPY %%staging%%'"
                ).fetchone()
                self.copy_seen = row[0] if row else None
                time.sleep(0.01)
        if self.copy_seen:
            self.primary.stop("immediate")


@contextmanager
def crash_while_committing(primary: Scratch) -> Iterator[tuple[CommitProbe, CrashMidCopy]]:
    probe, crash = CommitProbe(primary.url()), CrashMidCopy(primary)
    probe.start()
    crash.start()
    try:
        yield probe, crash
    finally:
        crash.done.set()
        crash.join()
        probe.stopped.set()
        probe.join()


def staged_per_file(url: str) -> dict[int, tuple[int, int]]:
    with psycopg.connect(url) as conn:
        return {
            file_id: (rows, distinct)
            for file_id, rows, distinct in conn.execute(
                "SELECT _file_id, count(*), count(DISTINCT _row_number) FROM staging.raw_knudjepsen GROUP BY 1"
            )
        }


def test_failover_mid_ingest_loses_no_commit_and_reruns_load_each_file_once(clusters, instance, tmp_path, monkeypatch):
    primary, standby = clusters
    monkeypatch.setenv("GREENHOUSE_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("GREENHOUSE_LAKE_URL", str(tmp_path / "lake"))
    folder = tmp_path / "landing" / "knudjepsen"
    folder.mkdir(parents=True)
    first = make_knudjepsen_file(folder / "NO3_LAMPEGRP_1.csv", FIRST_ROWS)
    second = make_knudjepsen_file(folder / "NO4_LAMPEGRP_2.csv", SECOND_ROWS)
    registry = SourceRegistry.load()
    assert ingest_file(first, instance, registry)["status"] == "loaded"

    with crash_while_committing(primary) as (probe, crash):
        # DB_RETRY retries the step 3 times and gives up; then `ingest` cannot read the registry to report.
        with pytest.raises(database.DatabaseUnavailable):
            ingest_file(second, instance, registry)
    assert crash.copy_seen, "the primary was never crashed: no staging COPY was seen"
    (run,) = instance.get_runs(dg.RunsFilter(tags={"greenhouse/path": str(second)}))
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert len(probe.acknowledged) > 10, "the probe committed too little to show anything"

    assert localdb.promote() == 0
    monkeypatch.setenv("DATABASE_URL", standby.url())  # the pipeline follows the new primary
    with psycopg.connect(standby.url()) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        on_standby = {i for (i,) in conn.execute("SELECT id FROM public.commit_probe")}
    lost = sorted(set(probe.acknowledged) - on_standby)
    assert not lost, f"commits acknowledged by the primary but missing after failover: {lost[:10]}"

    reports = {Path(r["path"]).name: r for r in (ingest_file(p, instance, registry) for p in (first, second))}
    assert reports[first.name]["status"] == "duplicate", reports[first.name]
    assert reports[second.name]["status"] == "loaded", reports[second.name]
    with psycopg.connect(standby.url()) as conn:
        versions = conn.execute(
            "SELECT path, status, rows_staged, is_active FROM metadata.files "
            "WHERE status <> 'duplicate' ORDER BY file_id"
        ).fetchall()
        loads = conn.execute("SELECT count(*) FROM metadata.audit_log WHERE operation = 'load'").fetchone()[0]
    assert [(Path(p).name, s, n, a) for p, s, n, a in versions] == [
        (first.name, "loaded", FIRST_ROWS, True),
        (second.name, "loaded", SECOND_ROWS, True),
    ]
    assert sorted(staged_per_file(standby.url()).values()) == [(FIRST_ROWS, FIRST_ROWS), (SECOND_ROWS, SECOND_ROWS)]
    assert loads == 2, "one staging load per file"
