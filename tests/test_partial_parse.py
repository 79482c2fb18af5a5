"""dbt builds reuse their database's saved parse (transform/partial_parse.py) without serving a stale
or foreign one: an edited model is re-parsed, and another database's parse is not used."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from greenhouse_assets import settings
from greenhouse_assets.transform import partial_parse

MODEL = "models/timeseries/electricity_prices.sql"


def dbt_parse(project: Path, target: Path, database: str) -> None:
    """`dbt parse` as a build's dbt parses (JSON log in the target folder, as under dagster-dbt)."""
    env = {
        **os.environ,
        "GREENHOUSE_PG_DB": database,
        "DBT_PROFILES_DIR": str(project),
        "DBT_LOG_FORMAT": "json",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--target-path", str(target), "--log-path", str(target)],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.mark.pure
def test_an_edited_model_is_reparsed_and_another_database_parses_in_full(tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    saved = project / "target" / "db_a"
    dbt_parse(project, saved, "db_a")  # what the code location does (transform/project.py)
    model = project / MODEL
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")

    with partial_parse.build_target(saved) as folder:
        dbt_parse(project, folder, "db_a")
        assert partial_parse.summary(folder) == "dbt parse: partial, 0 files added, 1 changed, 0 deleted"
        manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    assert "-- edited" in manifest  # the build sees the edit
    assert not folder.exists()
    with partial_parse.build_target(saved) as folder:  # the refreshed parse was saved for the next build
        dbt_parse(project, folder, "db_a")
        assert partial_parse.summary(folder) == "dbt parse: partial, 0 files added, 0 changed, 0 deleted"

    other = project / "target" / "db_b"
    other.mkdir()
    shutil.copyfile(saved / partial_parse.SAVED, other / partial_parse.SAVED)  # a foreign parse, put there
    with partial_parse.build_target(other) as folder:
        dbt_parse(project, folder, "db_b")
        assert partial_parse.summary(folder).startswith("dbt parse: full, profile has changed")


@pytest.mark.pure
def test_failed_builds_keep_their_folder_but_only_the_newest_few(tmp_path):
    """A failed build's folder (its dbt.log) stays for the error to point at, but an automation failing
    again and again keeps only the newest KEPT_FAILED_BUILDS, and a build still running is never touched."""
    saved = tmp_path / "target" / "db_a"
    with partial_parse.build_target(saved) as running:  # a build running beside the failing ones
        failed = []
        for attempt in range(partial_parse.KEPT_FAILED_BUILDS + 3):
            with pytest.raises(RuntimeError), partial_parse.build_target(saved) as folder:
                (folder / "dbt.log").write_text(f"attempt {attempt}\n", encoding="utf-8")
                failed.append(folder)
                raise RuntimeError("dbt build failed")
            os.utime(folder / partial_parse.FAILED, ns=(attempt * 10**9, attempt * 10**9))
        assert running.exists()
    assert not running.exists()  # it succeeded: removed
    kept = sorted(saved.glob("build-*"))
    assert kept == sorted(failed[-partial_parse.KEPT_FAILED_BUILDS :])
    assert all((folder / "dbt.log").exists() for folder in kept)
