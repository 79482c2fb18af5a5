"""The dbt project as dagster-dbt sees it, with a manifest that is always there and current.

The manifest is built (one `dbt parse`, a few seconds; partial parsing makes later ones faster)
whenever it is missing, older than any project file, or made for another database, and only then.
Not `DbtProject.prepare_if_dev()`: under `dagster dev` it runs `dbt parse` unconditionally, and
`dagster dev`'s environment reaches every process that loads this code location, so each run
(one per landed file) paid a dbt start and parse (5-13 s on 2 cores) before doing any work. The
mtime check picks up edits to the project just the same.
"""

from __future__ import annotations

import json
import os
import sys
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


def _needs_parse(manifest: Path, project_dir: Path, database: str) -> bool:
    """Missing, older than a project file, or parsed for another database (relation names embed it)."""
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project_dir):
        return True
    nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {}).values()
    return any(node.get("database") not in (None, database) for node in nodes)


@cache
def dbt_project() -> DbtProject:
    _put_venv_dbt_on_path()
    env = export_dbt_env()
    project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
    if _needs_parse(project.manifest_path, project.project_dir, env["GREENHOUSE_PG_DB"]):
        project.preparer.prepare(project)
    return project
