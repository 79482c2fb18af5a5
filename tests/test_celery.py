"""Runs across worker processes (issue 17, item 4): Dagster's Celery executor, Redis as the broker.

Real components: a `redis-server` of the test's own on a free port (never the machine's 6379), two
Celery workers (`celery -A greenhouse_assets.celery_workers worker`, one process each), and a backfill of
February 2014's day-feature partitions as four weekly runs at once, each run's orchestrator in a thread
of this process, its step a Celery task. As soon as one worker has started a step it is killed with
SIGKILL (the worker and its pool process); the task, acknowledged only after the step (acks_late), is
delivered again once the broker's visibility timeout has passed, and the other worker runs the step.
Every run succeeds, each day's windows and features exist exactly once.

Measurements are written straight into `timeseries.measurements` (one site, one zone, three variables,
5-minute values): the feature layer reads only that table, and ingest/dbt are tested elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from helpers import free_port

from greenhouse_assets import celery_workers
from greenhouse_assets.database import libpq_url

pytestmark = pytest.mark.xdist_group("test_celery")

FIRST_DAY, DAYS, DAYS_PER_RUN = date(2014, 2, 1), 28, 7
VARIABLES = ("air_temperature", "co2", "relative_humidity")
VISIBILITY_TIMEOUT_S = 20  # > any step here; a dead worker's task is delivered again after this
WORKERS = ("worker-a", "worker-b")
START_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(server).exists():
        pytest.fail("redis-server is not installed: `make test` installs it (Debian's redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not answer within 30 s")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


class Worker:
    """One Celery worker process (in a session of its own, so its pool process dies with it)."""

    def __init__(self, name: str, env: dict, log: Path):
        self.name, self.log = name, log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "greenhouse_assets.celery_workers",
                "worker",
                "-n",
                f"{name}@%h",
                "-c",
                "1",
                "-Q",
                "dagster",
                "--prefetch-multiplier=1",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=open(log, "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
        return " ready." in self.log.read_text()

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def workers(redis_url, tmp_path_factory) -> Iterator[dict[str, Worker]]:
    env = {
        **os.environ,
        "GREENHOUSE_EXECUTOR": "celery",
        "GREENHOUSE_CELERY_BROKER": redis_url,
        "GREENHOUSE_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
    }
    logs = tmp_path_factory.mktemp("celery")
    started = {name: Worker(name, env, logs / f"{name}.log") for name in WORKERS}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(w.ready() for w in started.values()):
            assert time.monotonic() < deadline, "the Celery workers did not start in time"
            time.sleep(0.5)
        yield started
    finally:
        for worker in started.values():
            worker.stop()


@pytest.fixture
def february(clean_platform, admin_url) -> None:
    """Four weeks of 5-minute values (and the next day's first 18 h, which the last rolling windows read)."""
    with psycopg.connect(libpq_url(admin_url)) as conn:
        conn.execute(
            """
            INSERT INTO timeseries.measurements (time, site, zone, variable, value, unit, file_id, quality_flag)
            SELECT t, 'knudjepsen', 'NO3', v, 20 + 5 * sin(extract(epoch FROM t) / 13751) + i, 'x', 1, 'ok'
            FROM generate_series(%s::timestamptz, %s::timestamptz, interval '5 minutes') AS t,
                 unnest(%s::text[]) WITH ORDINALITY AS vars(v, i)""",
            (f"{FIRST_DAY} 00:00+00", f"{FIRST_DAY + timedelta(days=DAYS)} 18:00+00", list(VARIABLES)),
        )


def step_workers(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The workers that took the run's step, in order (dagster-celery's engine event per task start)."""
    names = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        metadata = record.dagster_event.engine_event_data.metadata or {}
        if "Celery worker" in metadata:
            names.append(metadata["Celery worker"].value.split("@")[0])
    return names


def started_steps(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START))


class KillFirstWorkerMidStep(threading.Thread):
    """SIGKILL the first worker that starts a step of the backfill, while the step runs."""

    def __init__(self, workers: dict[str, Worker]):
        super().__init__(daemon=True)
        self.workers, self.victim, self.run_id, self.done = workers, None, None, threading.Event()

    def run(self) -> None:
        with dg.DagsterInstance.get() as instance:
            while not self.done.is_set():
                for run in instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": "test-celery"})):
                    taken_by = step_workers(instance, run.run_id)
                    if len(taken_by) == 1 and started_steps(instance, run.run_id) == 1:
                        self.workers[taken_by[0]].kill()  # started, not finished: mid-step
                        self.victim, self.run_id = taken_by[0], run.run_id
                        return
                time.sleep(0.05)


def test_backfill_across_two_workers_survives_a_killed_worker(february, workers, redis_url, database_url, monkeypatch):
    monkeypatch.setenv("GREENHOUSE_CELERY_BROKER", redis_url)
    monkeypatch.setenv("GREENHOUSE_CELERY_VISIBILITY_TIMEOUT", str(VISIBILITY_TIMEOUT_S))
    killer = KillFirstWorkerMidStep(workers)
    killer.start()
    results = []
    try:
        with dg.DagsterInstance.get() as instance:
            for first in range(0, DAYS, DAYS_PER_RUN):  # a month's backfill, a week per run
                results.append(
                    dg.execute_job(
                        dg.reconstructable(celery_workers.features_backfill_job),
                        instance,
                        tags={
                            "dagster/asset_partition_range_start": str(FIRST_DAY + timedelta(days=first)),
                            "dagster/asset_partition_range_end": str(
                                FIRST_DAY + timedelta(days=first + DAYS_PER_RUN - 1)
                            ),
                            "dagster/backfill": "test-celery",
                        },
                    )
                )
            assert [r.success for r in results] == [True] * len(results)
            assert killer.victim, "no worker was killed: none was seen running a step"
            survivor = next(name for name in WORKERS if name != killer.victim)
            assert step_workers(instance, killer.run_id) == [killer.victim, survivor], (
                "the killed worker's step ran again on the other worker"
            )
            assert len(instance.all_logs(killer.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)) == 1
            spread = {name for r in results for name in step_workers(instance, r.run_id)}
            assert spread == set(WORKERS)
    finally:
        killer.done.set()
        killer.join()

    with psycopg.connect(libpq_url(database_url)) as conn:
        windows = conn.execute("""
            SELECT window_kind, count(*), count(DISTINCT (window_kind, window_start, site, zone, variable)),
                   count(DISTINCT window_start::date), count(DISTINCT variable)
            FROM features.windows GROUP BY 1 ORDER BY 1""").fetchall()
        features = conn.execute("""
            SELECT count(*), count(DISTINCT (window_kind, window_start, site, zone, variable, feature))
            FROM features.extracted_features""").fetchone()
    per_day = {"day": 1, "rolling_24h": 4}  # the calendar day; rolling 24 h windows starting 00, 06, 12, 18 UTC
    assert [kind for kind, *_ in windows] == sorted(per_day)
    for kind, rows, distinct, days, series in windows:
        assert series >= len(VARIABLES)
        assert (rows, distinct, days) == (DAYS * per_day[kind] * series,) * 2 + (DAYS,), kind
    assert features[0] > 0 and features[0] == features[1], "a feature row written twice"


def test_greenhouse_executor_chooses_how_steps_run(monkeypatch):
    from greenhouse_assets.defs.automation.executor import run_executor

    monkeypatch.delenv("GREENHOUSE_EXECUTOR", raising=False)
    assert run_executor().name == "in_process"
    monkeypatch.setenv("GREENHOUSE_CELERY_BROKER", "redis://broker.example:6380/2")
    monkeypatch.setenv("GREENHOUSE_EXECUTOR", "celery")
    celery = run_executor()
    config = celery.apply_config_mapping({}).value["config"]
    assert celery.name == "celery" and config["broker"] == config["backend"] == "redis://broker.example:6380/2"
    assert config["config_source"]["task_acks_late"] and config["config_source"]["task_reject_on_worker_lost"]
    assert config["retries"] == {"enabled": {}}
    monkeypatch.setenv("GREENHOUSE_EXECUTOR", "k8s")
    assert run_executor().name == "k8s"
    monkeypatch.setenv("GREENHOUSE_EXECUTOR", "dask")
    with pytest.raises(ValueError, match="expected one of in_process, celery, k8s"):
        run_executor()
