"""The warm run launcher (greenhouse_assets/run_workers.py): runs forked from one warm process end as Dagster's
own launch would have them end (success, failure, cancel), and changed project files get a new warm process."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob

from greenhouse_assets import run_workers

LAUNCHER = {"module": "greenhouse_assets.run_workers", "class": "WarmRunLauncher"}


@dg.op(config_schema={"fail": bool, "sleep": float})
def work(context) -> int:
    if context.op_config["sleep"]:
        time.sleep(context.op_config["sleep"])
    if context.op_config["fail"]:
        raise ValueError("this run fails on purpose")
    context.log.info(f"worked in process {os.getpid()}")
    return os.getpid()


@dg.job
def work_job():
    work()


@pytest.fixture
def instance(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path), overrides={"run_launcher": LAUNCHER}) as instance:
        yield instance
        instance.run_launcher.dispose()


def launch(instance, fail: bool = False, sleep: float = 0.0) -> str:
    origin = ReconstructableJob.for_file(__file__, "work_job").get_python_origin()  # loadable from any folder
    run = instance.create_run_for_job(
        job_def=work_job,
        job_code_origin=origin,
        run_config={"ops": {"work": {"config": {"fail": fail, "sleep": sleep}}}},
    )
    instance.launch_run(run.run_id, workspace=None)
    return run.run_id


def finished(instance, run_id: str, timeout: float = 300) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        assert time.monotonic() < deadline, f"run {run_id} still {run.status} after {timeout} s"
        time.sleep(0.5)
    return run


def messages(instance, run_id: str) -> list[str]:
    return [record.event_log_entry.message or "" for record in instance.get_records_for_run(run_id).records]


def test_runs_are_forked_from_one_warm_process_and_end_as_dagster_records_them(instance):
    first, failing = launch(instance), launch(instance, fail=True)
    assert finished(instance, first).status == dg.DagsterRunStatus.SUCCESS
    assert finished(instance, failing).status == dg.DagsterRunStatus.FAILURE
    (failure,) = instance.get_records_for_run(failing, of_type=dg.DagsterEventType.STEP_FAILURE).records
    assert "this run fails on purpose" in failure.event_log_entry.dagster_event.step_failure_data.error.to_string()
    (warm,) = instance.run_launcher._workers.values()
    pids = {int(instance.get_run_by_id(r).tags[run_workers.PID_TAG]) for r in (first, failing)}
    assert len(pids) == 2 and warm.process.pid not in pids, "each run in its own forked worker"
    assert any("Forked run worker" in m for m in messages(instance, first))
    assert warm.process.poll() is None, "a failed run leaves the warm process serving"
    again = launch(instance)
    assert finished(instance, again).status == dg.DagsterRunStatus.SUCCESS
    assert list(instance.run_launcher._workers.values()) == [warm], "the same warm process"


def test_a_changed_project_file_gets_a_new_warm_process(instance, monkeypatch):
    assert finished(instance, launch(instance)).status == dg.DagsterRunStatus.SUCCESS
    (old,) = instance.run_launcher._workers.values()
    monkeypatch.setattr(run_workers, "project_fingerprint", lambda root: "changed")
    assert finished(instance, launch(instance)).status == dg.DagsterRunStatus.SUCCESS
    (new,) = instance.run_launcher._workers.values()
    assert new is not old and old.process.poll() is not None, "the old warm process was stopped"


def test_a_terminated_run_is_canceled(instance):
    run_id = launch(instance, sleep=120)
    deadline = time.monotonic() + 300
    while not any('Started execution of step "work"' in m for m in messages(instance, run_id)):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert instance.run_launcher.terminate(run_id)
    assert finished(instance, run_id, timeout=60).status == dg.DagsterRunStatus.CANCELED


@pytest.mark.pure
def test_the_fingerprint_follows_code_and_the_dbt_project_not_its_artifacts(tmp_path):
    (tmp_path / "greenhouse_assets").mkdir()
    code = tmp_path / "greenhouse_assets" / "module.py"
    code.write_text("x = 1\n")
    before = run_workers.project_fingerprint(tmp_path)
    cached = tmp_path / "greenhouse_assets" / "__pycache__" / "module.pyc"
    cached.parent.mkdir()
    cached.write_bytes(b"")
    assert run_workers.project_fingerprint(tmp_path) == before, "bytecode is not code"
    # A manifest parsed for another database (a test process, a benchmark) is not new code.
    manifest = tmp_path / "dbt_project" / "target" / "greenhouse_test_1" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    assert run_workers.project_fingerprint(tmp_path) == before, "dbt artifacts are not code"
    model = tmp_path / "dbt_project" / "models" / "m.sql"
    model.parent.mkdir(parents=True)
    model.write_text("select 1")
    with_model = run_workers.project_fingerprint(tmp_path)
    assert with_model != before
    os.utime(code, ns=(code.stat().st_mtime_ns + 2 * 10**9,) * 2)
    assert run_workers.project_fingerprint(tmp_path) != with_model
