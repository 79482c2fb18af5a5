"""dbt's partial parsing for the builds Dagster runs: a build re-parses only the project files that changed.

dagster-dbt gives each invocation a target folder of its own (`target/<op>-<run>-<id>`, never removed)
and seeds it with `target/partial_parse.msgpack`; the platform parses into `target/<database>`
(transform/project.py), so that file never existed and every build parsed the whole project
(~8 s of ~17 s of dbt time on the loaded machine). Here a build runs in a folder of its own under
its database's target folder (builds may run side by side), seeded with that database's saved
parse. dbt still checks every file's checksum, the vars, the profile (host, database...) and its own
version against it, so an edited model (under `dagster dev`) is re-parsed and a saved parse never
serves another database. A parse the build refreshed replaces the saved one (atomically: other
builds may be copying it). The folder is removed after a successful build and kept after a failed
one, whose error names its `dbt.log`; only the newest `KEPT_FAILED_BUILDS` failed ones are kept, so an
automation failing again and again does not fill the disk with them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SAVED = "partial_parse.msgpack"
_PARSE_EVENTS = ("PartialParsingEnabled", "UnableToPartialParse")
KEPT_FAILED_BUILDS = 5
FAILED = "FAILED"  # marks a failed build's folder: only those are pruned, never a build still running


@contextmanager
def build_target(database_target: Path) -> Iterator[Path]:
    """A fresh target folder under `database_target` holding a copy of its saved parse."""
    database_target.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="build-", dir=database_target))
    saved, seeded = database_target / SAVED, folder / SAVED
    try:
        shutil.copyfile(saved, seeded)
        seeded_at = seeded.stat().st_mtime_ns
    except FileNotFoundError:  # not parsed yet: dbt parses in full and saves its parse here
        seeded_at = None
    try:
        yield folder
    except BaseException:
        (folder / FAILED).touch()
        _prune_failed(database_target)
        raise
    finally:
        if seeded.exists() and seeded.stat().st_mtime_ns != seeded_at:  # dbt wrote it: it parsed something
            os.replace(seeded, saved)
    shutil.rmtree(folder, ignore_errors=True)


def _prune_failed(database_target: Path) -> None:
    """Remove all but the newest `KEPT_FAILED_BUILDS` failed build folders (by when they failed). Never
    raises: it runs while a build's own error is on its way up, and another failing build may be pruning too."""
    failed = []
    for marker in database_target.glob(f"build-*/{FAILED}"):
        try:
            failed.append((marker.stat().st_mtime_ns, marker.parent))
        except OSError:  # pruned by another build meanwhile
            continue
    for _failed_at, folder in sorted(failed)[:-KEPT_FAILED_BUILDS]:
        shutil.rmtree(folder, ignore_errors=True)


def summary(folder: Path) -> str:
    """How the dbt invocation that logged to `folder` parsed the project, from its `dbt.log` (JSON lines).
    A diagnostic: a log dbt was told not to write (`DBT_LOG_LEVEL_FILE`) is said so, never an error."""
    outcome = "dbt parse: not in dbt.log (partial parsing is logged at debug level)"
    log_path = folder / "dbt.log"
    if not log_path.exists():
        return "dbt parse: no dbt.log"
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            if not any(name in line for name in _PARSE_EVENTS):
                continue
            event = json.loads(line)
            data = event["data"]
            if event["info"]["name"] == "UnableToPartialParse":  # may follow PartialParsingEnabled
                outcome = f"dbt parse: full, {data['reason']}"
            elif event["info"]["name"] == "PartialParsingEnabled":
                outcome = (
                    f"dbt parse: partial, {data.get('added', 0)} files added, "
                    f"{data.get('changed', 0)} changed, {data.get('deleted', 0)} deleted"
                )
    return outcome
