"""Run workers forked from a warm process, so a run does not start Python and import the world again.

Why: Dagster's default launcher has the code server spawn a fresh Python for every run, which imports
Dagster, loads the code location (the dbt manifest turned into assets) and, for the staging checks,
imports Great Expectations, before a second of work. A landed file is one run, so an archive of
hundreds of files paid that start hundreds of times, two at a time on two cores (README → Benchmarks,
`bench/archive.py`: the start of an ingest run against its step).

How: `WarmRunLauncher` (dagster.yaml `run_launcher`) keeps one warm process per code location that has
loaded the job's code location and imported `preload_modules`; each run is a fork of it
(copy-on-write, milliseconds) that runs what `dagster api execute_run` runs: the same run, events,
run status and failure handling, in its own process. The run queue's `max_concurrent_runs` still bounds
how many run at once. The warm process is replaced when a file of the project changes (so `dagster dev`
never runs stale code: the next run loads the new code), and when it died; a run that cannot go this
way (another Python, or the warm process fails to start) goes the default way, through the code server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.launcher import DefaultRunLauncher, LaunchRunContext
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value

PID_TAG = "greenhouse/run_worker_pid"
# What the warm process watches for changes, under the code location's working directory.
WATCHED = ("greenhouse_assets", "dbt_project")
UNWATCHED_DIRS = {"__pycache__", "target", "logs", "dbt_packages", ".venv"}


def project_fingerprint(root: Path) -> str:
    """Newest modification time and file count of the project files a run loads (code, config, dbt)."""
    newest, count = 0, 0
    paths = []  # the dbt manifest (target/<database>/) is re-parsed only when these files change
    for top in WATCHED:
        for folder, dirs, files in os.walk(root / top):
            dirs[:] = [d for d in dirs if d not in UNWATCHED_DIRS and not d.startswith(".")]
            paths += [Path(folder) / name for name in files]
    for path in paths:
        try:
            newest = max(newest, path.stat().st_mtime_ns)
            count += 1
        except FileNotFoundError:
            continue
    return f"{newest}:{count}"


class WarmRunLauncher(DefaultRunLauncher):
    """Launch each run as a fork of a warm process that has the code location loaded (module docstring)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload_modules: list[str] | None = None):
        super().__init__(inst_data=inst_data)
        self._preload = list(preload_modules or [])
        self._workers: dict[str, _WarmProcess] = {}  # per code location origin
        self._lock = threading.Lock()

    @classmethod
    def config_type(cls):
        return {
            "preload_modules": dg.Field(
                [str],
                is_required=False,
                default_value=[],
                description="Modules the warm process imports after the code location.",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, preload_modules=config_value.get("preload_modules"))

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None or origin.executable_path != sys.executable:
            super().launch_run(context)
            return
        try:
            with self._lock:
                pid = self._worker(origin).start(run.run_id, self._instance.get_ref())
        except (OSError, WarmProcessError) as error:
            self._instance.report_engine_event(
                f"No warm run worker ({error}): launching through the code server.", run, cls=self.__class__
            )
            super().launch_run(context)
            return
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(pid)})
        self._instance.report_engine_event(
            f"Forked run worker (pid {pid}) from the warm process.", run, cls=self.__class__
        )

    def _worker(self, origin) -> _WarmProcess:
        key = serialize_value(origin.repository_origin)
        root = Path(origin.repository_origin.code_pointer.working_directory or os.getcwd())
        fingerprint = project_fingerprint(root)
        worker = self._workers.get(key)
        if worker is None or not worker.usable(fingerprint):
            if worker is not None:
                worker.close()
            worker = self._workers[key] = _WarmProcess(origin, root, fingerprint, self._preload)
        return worker

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or PID_TAG not in run.tags:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        try:  # the worker turns SIGINT into Dagster's interruption: the run ends as canceled
            os.kill(int(run.tags[PID_TAG]), signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            for worker in self._workers.values():
                worker.close()
            self._workers.clear()


class WarmProcessError(RuntimeError):
    pass


class _WarmProcess:
    """The warm process: `python -m greenhouse_assets.run_workers`, one JSON line per request and answer."""

    def __init__(self, origin, root: Path, fingerprint: str, preload: list[str]):
        self.fingerprint = fingerprint
        self.process = subprocess.Popen(
            [sys.executable, "-m", "greenhouse_assets.run_workers"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        self._send({"origin": serialize_value(origin), "preload": preload})

    def usable(self, fingerprint: str) -> bool:
        return self.process.poll() is None and fingerprint == self.fingerprint

    def start(self, run_id: str, instance_ref) -> int:
        """Fork a worker for the run; its pid. Waits while the warm process is still loading."""
        self._send({"run_id": run_id, "instance_ref": serialize_value(instance_ref)})
        answer = self.process.stdout.readline()
        if not answer:
            raise WarmProcessError(f"the warm process exited with {self.process.wait()}")
        reply = json.loads(answer)
        if "error" in reply:
            raise WarmProcessError(reply["error"])
        return reply["pid"]

    def _send(self, message: dict) -> None:
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError as error:
            raise WarmProcessError(f"the warm process exited with {self.process.wait()}") from error

    def close(self) -> None:
        """Stop the warm process; workers it forked run on to their end."""
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _serve() -> None:
    """The warm process: load the code location, then fork a worker per request until stdin closes."""
    import importlib
    import traceback

    from dagster._utils.hosted_user_process import recon_job_from_origin

    # Answers go through a descriptor of their own; anything printed (by loading, or dbt's subprocesses)
    # goes to the log, not into the answers.
    requests, answers = sys.stdin, os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    setup = json.loads(requests.readline())
    error = None
    try:
        origin = deserialize_value(setup["origin"])
        recon_job_from_origin(origin).get_definition()
        for module in setup["preload"]:
            importlib.import_module(module)
    except Exception:  # noqa: BLE001 - reported with every request, which then goes the default way
        error = traceback.format_exc()
    # Workers are not waited for here: the kernel reaps them (their exit status is the run's record).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in requests:
        if error is not None:
            answers.write(json.dumps({"error": f"loading the code location failed: {error}"}) + "\n")
            answers.flush()
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            answers.close()  # the worker must not hold the pipes: the launcher reads EOF when the warm process dies
            requests.close()
            _work(request["run_id"], request["instance_ref"])
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()


def _work(run_id: str, instance_ref: str) -> None:
    """In the forked worker: what `dagster api execute_run` does for the run; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the run waits for its own children (dbt)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        from dagster._cli.api import _execute_run_command_body
        from dagster._core.instance import DagsterInstance
        from dagster._utils.interrupts import capture_interrupts

        with capture_interrupts(), DagsterInstance.from_ref(deserialize_value(instance_ref)) as instance:
            code = _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=False)
    except BaseException:  # noqa: BLE001 - a worker must never fall back into the warm process's loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve()
