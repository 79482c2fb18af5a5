"""The dbt project as dagster-dbt sees it, with a manifest that is always there and current.

The manifest is built (one `dbt parse`, a few seconds; partial parsing makes later ones faster)
whenever it is missing or older than any project file, and only then. Relation names embed the
database, so each database gets its own target folder (`target/<database>`): test processes on
databases of their own never take each other's manifest for stale and re-parse in turn.
Not `DbtProject.prepare_if_dev()`: under `dagster dev` it runs `dbt parse` unconditionally, and
`dagster dev`'s environment reaches every process that loads this code location, so each run
(one per landed file) paid a dbt start and parse (5-13 s on 2 cores) before doing any work. The
mtime check picks up edits to the project just the same. Processes that find it stale at the same
moment (a code server and its first runs, parallel test workers) parse one after the other under a
file lock, so none reads a manifest another is half-way through writing.
Not dagster-dbt's preparer either: after parsing, it overwrites the seeds' checksums in the saved
`partial_parse.msgpack` (for a project moved after it was parsed; ours is parsed where it runs, and
`target/` is not in the image), so every build then re-parsed the six seeds and `measurements.sql`,
which refs them. Builds reuse this saved parse (transform/partial_parse.py).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from greenhouse_assets import settings
from greenhouse_assets.transform.profile import export_dbt_env

_GENERATED = {"target", "logs", "dbt_packages"}


def _newest_source_mtime(project_dir: Path) -> float:
    return max(
        p.stat().st_mtime
        for p in project_dir.rglob("*")
        if p.is_file() and not _GENERATED.intersection(p.relative_to(project_dir).parts)
    )


def _put_venv_dbt_on_path() -> None:
    """dagster-dbt runs `dbt` from PATH (also when preparing); use this interpreter's, activated or not."""
    bin_dir = str(Path(sys.executable).parent)
    if (Path(bin_dir) / "dbt").exists() and bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])


def database_target(database: str) -> Path:
    """`database`'s target folder, relative to the project: relation names embed the database."""
    return Path("target") / database


def _parse(project: DbtProject) -> None:
    """`dbt parse` into the project's target folder (partial when a saved parse is there)."""
    target = str(project.project_dir / project.target_path)
    subprocess.run(
        ["dbt", "parse", "--quiet", "--target-path", target, "--log-path", target],
        cwd=project.project_dir,
        # No anonymous usage statistics (dagster-dbt turns them off too): a network call per parse.
        env={**os.environ, "DBT_PROFILES_DIR": str(project.profiles_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        check=True,
    )


def _needs_parse(manifest: Path, project_dir: Path) -> bool:
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project_dir)


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@cache
def dbt_project() -> DbtProject:
    _put_venv_dbt_on_path()
    env = export_dbt_env()
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target_path=database_target(env["GREENHOUSE_PG_DB"]),
    )
    if _needs_parse(project.manifest_path, project.project_dir):
        with _exclusive(project.manifest_path.parent / ".parse.lock"):
            if _needs_parse(project.manifest_path, project.project_dir):  # unless another process just did
                _parse(project)
    return project
