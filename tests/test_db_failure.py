"""The platform database stops in the middle of an ingestion run (issue 8, item 4).

The step fails with an error that says the database connection was lost or refused, names the
database and says what Dagster does next; `DB_RETRY` retries it with backoff (2 s, 6 s, 14 s); once
the database is back an attempt completes, and nothing is duplicated or left half-loaded. When the
database stays down through every retry the run fails saying so, leaves nothing of the file behind,
and re-executing it from failure once the database is back loads the file exactly once.

Real components only: the ingestion is `greenhouse ingest`'s in-process run of the landing sensor's
job on a generated Knudjepsen export; the platform data lives in a scratch PostgreSQL + TimescaleDB
cluster (`localdb` on a free port, in its own directory), really stopped with `pg_ctl stop -m fast`
as soon as another connection sees the staging COPY active in pg_stat_activity, and started again
with `localdb.up()` (`greenhouse db up`).

Dagster's run and event storage stays on the shared test cluster (conftest's DAGSTER_DATABASE_URL),
so the failed attempts and retries are recorded and can be asserted. In a deployment both databases
live on one server: if the whole server goes, the run worker cannot record anything either.
dagster-postgres opens a connection per write and retries that for about 10 s, so a shorter blip
is survived by both; after that the run worker exits without recording a failure and the run stays
STARTED until run monitoring marks it failed (or resumes it), which needs `run_monitoring: enabled:
true` in dagster.yaml, the daemon, and a run launcher that can check run workers (Docker,
Kubernetes; not the default launcher of `dagster dev`).
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from conftest import recreate_database
from helpers import Scratch, make_knudjepsen_file, scratch_cluster

from greenhouse_assets import database, migrate, settings
from greenhouse_assets.database import libpq_url
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_dev import localdb

# Its scratch cluster is module-scoped: one worker runs every test here (`make test` runs two pytest-xdist workers).
pytestmark = pytest.mark.xdist_group("test_db_failure")

ROWS = 150_000  # its staging COPY runs about a second: time to see it and stop the server under it
LANDED_AS = Path("knudjepsen") / "NO3_LAMPEGRP_1.csv"
DOWN_FOR_S = 3  # stopped and down this long: the first retry (2 s) finds it down, a later one up
RETRY_EVENTS = {
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
    dg.DagsterEventType.STEP_RESTARTED,
    dg.DagsterEventType.STEP_FAILURE,
}


def ingest_job() -> dg.JobDefinition:
    """The sensor's per-file job, by reference: re-execution (`dg.reconstructable`) loads it itself."""
    from greenhouse_assets.definitions import defs

    return defs.resolve_job_def("ingest_file")


@dataclass
class PlatformState:
    """What a fresh platform database holds after one file was landed (so every row is that file's)."""

    files: list[tuple]  # (file_id, status, rows_read, rows_staged, is_active) of the content's versions
    staged: tuple[int, int, list[int]]  # staged rows, distinct (_file_id, _row_number), the _file_ids
    loads: int  # staging 'load' rows in metadata.audit_log

    @classmethod
    def read(cls, url: str, sha256: str) -> PlatformState:
        with psycopg.connect(libpq_url(url)) as conn:
            files = conn.execute(
                "SELECT file_id, status, rows_read, rows_staged, is_active FROM metadata.files "
                "WHERE sha256 = %s ORDER BY file_id",
                (sha256,),
            ).fetchall()
            staged = (0, 0, [])
            if conn.execute("SELECT to_regclass('staging.raw_knudjepsen')").fetchone()[0]:
                staged = conn.execute(
                    "SELECT count(*), count(DISTINCT (_file_id, _row_number)), "
                    "coalesce(array_agg(DISTINCT _file_id), '{}') FROM staging.raw_knudjepsen"
                ).fetchone()
            loads = conn.execute("SELECT count(*) FROM metadata.audit_log WHERE operation = 'load'").fetchone()[0]
        return cls(files, staged, loads)


@dataclass
class Interrupted:
    run: dg.DagsterRun
    events: list[dg.EventLogEntry]  # retries and step failures of the run
    after: PlatformState  # once the run ended and the database was up


class StopMidCopy(threading.Thread):
    """Stop the scratch server as soon as a staging COPY is active in it, as seen from another
    connection; with `restart_after`, start it again that many seconds after it stopped."""

    def __init__(self, scratch: Scratch, restart_after: float | None):
        super().__init__(daemon=True)
        self.scratch, self.restart_after = scratch, restart_after
        self.copy_seen: str | None = None
        self.error: BaseException | None = None
        self.run_ended = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(libpq_url(self.scratch.url()), autocommit=True) as conn:
                while not self.run_ended.is_set():
                    row = conn.execute(
                        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'active' AND query ILIKE 'COPY %%staging%%'"
                    ).fetchone()
                    if row:
                        self.copy_seen = row[0]
                        break
                    time.sleep(0.01)
            if self.copy_seen is None:
                return
            self.scratch.stop("fast")
            if self.restart_after is not None:
                time.sleep(self.restart_after)
                assert localdb.up() == 0
        except BaseException as error:  # re-raised in the test's thread by `stopping_mid_copy`
            self.error = error


@contextmanager
def stopping_mid_copy(scratch: Scratch, restart_after: float | None) -> Iterator[StopMidCopy]:
    stopper = StopMidCopy(scratch, restart_after)
    stopper.start()
    try:
        yield stopper
    finally:
        stopper.run_ended.set()
        stopper.join()
    if stopper.error is not None:
        raise stopper.error
    assert stopper.copy_seen, "the run ended before any staging COPY was seen: the file is too small to interrupt"


@pytest.fixture(scope="module")
def platform() -> Iterator[Scratch]:
    """The platform database on a scratch cluster, so stopping it never touches the shared one."""
    with scratch_cluster() as scratch, pytest.MonkeyPatch.context() as mp:
        scratch.use(mp)
        mp.setenv("DATABASE_URL", scratch.url())  # the scratch cluster's own URL: localdb manages it as local
        assert localdb.up() == 0
        yield scratch


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return make_knudjepsen_file(tmp_path_factory.mktemp("export") / LANDED_AS.name, ROWS)


@contextmanager
def fresh_platform(scratch: Scratch, export: Path, folder: Path) -> Iterator[Path]:
    """An empty, migrated platform database and the export in a landing folder and lake of its own."""
    recreate_database(scratch.url("postgres"), settings.PLATFORM_DB)
    assert localdb.up() == 0  # enables TimescaleDB in the new database
    migrate.upgrade(url=scratch.url())
    landed = folder / "landing" / LANDED_AS
    landed.parent.mkdir(parents=True)
    shutil.copyfile(export, landed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GREENHOUSE_LANDING_DIR", str(folder / "landing"))
        mp.setenv("GREENHOUSE_LAKE_URL", str(folder / "lake"))
        yield landed


def interrupted(instance: dg.DagsterInstance, run_id: str, url: str, sha256: str) -> Interrupted:
    events = list(instance.all_logs(run_id, of_type=RETRY_EVENTS))
    return Interrupted(instance.get_run_by_id(run_id), events, PlatformState.read(url, sha256))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lost_mid_copy(platform, export, instance, tmp_path_factory) -> Interrupted:
    """The server stops during the staging COPY and starts again DOWN_FOR_S seconds later."""
    with fresh_platform(platform, export, tmp_path_factory.mktemp("lost_mid_copy")) as landed:
        with stopping_mid_copy(platform, restart_after=DOWN_FOR_S):
            report = ingest_file(landed, instance, SourceRegistry.load())
        return interrupted(instance, report["run_id"], platform.url(), sha256_of(landed))


@dataclass
class GaveUp:
    failed: Interrupted
    ingest_error: database.DatabaseUnavailable  # what `greenhouse ingest` said after the run
    reexecution: dg.JobExecutionResult
    after_reexecution: PlatformState


@pytest.fixture(scope="module")
def down_through_retries(platform, export, instance, tmp_path_factory) -> GaveUp:
    """The server stops during the staging COPY and stays down until the run has failed; then it is
    started and the run re-executed from failure, as the run's page in the UI offers."""
    with fresh_platform(platform, export, tmp_path_factory.mktemp("down_through_retries")) as landed:
        with stopping_mid_copy(platform, restart_after=None):
            # `ingest_file` reads the file registry once the run has ended: the database is still down.
            with pytest.raises(database.DatabaseUnavailable) as raised:
                ingest_file(landed, instance, SourceRegistry.load())
        (run,) = instance.get_runs(dg.RunsFilter(tags={"greenhouse/path": str(landed)}))
        assert localdb.up() == 0
        failed = interrupted(instance, run.run_id, platform.url(), sha256_of(landed))
        reexecution = dg.execute_job(  # the UI sends the failed run's config and tags along; the API needs them
            dg.reconstructable(ingest_job),
            instance,
            run_config=run.run_config,
            tags=run.tags,
            reexecution_options=dg.ReexecutionOptions.from_failure(run.run_id, instance),
        )
        return GaveUp(failed, raised.value, reexecution, PlatformState.read(platform.url(), sha256_of(landed)))


def of_type(events: list[dg.EventLogEntry], event_type: dg.DagsterEventType) -> list[dg.DagsterEvent]:
    return [e.dagster_event for e in events if e.dagster_event.event_type == event_type]


def assert_loaded_exactly_once(state: PlatformState) -> None:
    assert [(status, rows_read, rows_staged, active) for _, status, rows_read, rows_staged, active in state.files] == [
        ("loaded", ROWS, ROWS, True)
    ], "one version of the content, loaded with every row"
    file_id = state.files[0][0]
    assert state.staged == (ROWS, ROWS, [file_id]), "every data row staged once, all of that version"
    assert state.loads == 1, "one staging load in the audit log"


def test_database_stopped_mid_copy_is_retried_until_the_file_loads_once(lost_mid_copy):
    assert lost_mid_copy.run.status == dg.DagsterRunStatus.SUCCESS
    retries = of_type(lost_mid_copy.events, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    restarts = of_type(lost_mid_copy.events, dg.DagsterEventType.STEP_RESTARTED)
    assert retries, "no attempt failed: the server went down only after the staging transaction had committed"
    assert len(restarts) == len(retries)
    assert [r.event_specific_data.seconds_to_wait for r in retries] == [2, 6, 14][: len(retries)]  # DB_RETRY backoff
    assert not of_type(lost_mid_copy.events, dg.DagsterEventType.STEP_FAILURE)
    assert_loaded_exactly_once(lost_mid_copy.after)


def test_database_down_through_every_retry_fails_the_run_and_leaves_nothing_of_the_file(down_through_retries, platform):
    failed = down_through_retries.failed
    assert failed.run.status == dg.DagsterRunStatus.FAILURE
    assert [
        r.event_specific_data.seconds_to_wait for r in of_type(failed.events, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    ] == [2, 6, 14]
    assert len(of_type(failed.events, dg.DagsterEventType.STEP_RESTARTED)) == 3
    assert len(of_type(failed.events, dg.DagsterEventType.STEP_FAILURE)) == 1
    # No version of the content claims to be loaded: whatever the registry holds is `received` at most.
    assert all(
        status == "received" and rows_staged is None and not active
        for _, status, _, rows_staged, active in failed.after.files
    )
    assert failed.after.staged == (0, 0, [])
    assert failed.after.loads == 0
    # `greenhouse ingest` reads the registry after the run, and says why it cannot.
    assert str(down_through_retries.ingest_error).startswith(f"cannot connect to {database.where(platform.url())}")


def test_reexecution_after_the_database_is_back_loads_the_file_exactly_once(down_through_retries):
    assert down_through_retries.reexecution.success
    assert_loaded_exactly_once(down_through_retries.after_reexecution)


def test_each_failed_attempt_says_the_database_was_lost_which_one_and_what_happens_next(
    lost_mid_copy, down_through_retries, platform
):
    where = database.where(platform.url())
    retries = [
        retry
        for scenario in (lost_mid_copy, down_through_retries.failed)
        for retry in of_type(scenario.events, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    ]
    assert len(retries) >= 4  # at least one in the first run, all three in the second
    for retry in retries:
        error = retry.event_specific_data.error.cause  # the retry request is caused by the attempt's failure
        assert error.cls_name == "Failure", f"not the Failure of explain_lost_database:\n{error.to_string()}"
        assert where in error.message, error.message
        assert "lost the connection to" in error.message.lower() or "cannot connect to" in error.message.lower(), (
            error.message
        )
        assert f"Dagster retries this step in {retry.event_specific_data.seconds_to_wait:g} s" in error.message
    gave_up = of_type(down_through_retries.failed.events, dg.DagsterEventType.STEP_FAILURE)[0].step_failure_data
    assert gave_up.user_failure_data, gave_up.error.to_string()
    description = gave_up.user_failure_data.description  # what alerts and the run page show
    assert where in description and "Attempt 4 of 4" in description and "No retries left" in description
