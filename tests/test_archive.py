"""`greenhouse run --input DIR` on an archive: every real file plus generated fixtures, through every layer.

The expected numbers come from a separate, plain parse of each file with Python's csv/json (the
registry is used only to say which column is which variable and zone): staged rows per file, and
observations per variable as distinct (time, site, zone, variable) keys, since overlapping files
(cell CSV and its sMAP JSON, hourly MortenSDU on the hour) merge on that key.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from archive_fixtures import build_all
from greenhouse_assets import settings
from greenhouse_assets.database import libpq_url
from greenhouse_assets.ingest.registry import SourceRegistry

REGISTRY = SourceRegistry.load()
UTC_PLUS_1 = timezone(timedelta(hours=1))
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
Key = tuple[datetime, str, str, str]  # time (UTC), site, zone, variable


def _mapped(path: Path, names: list[str]) -> list[tuple[int, str, str, str]]:
    """(column index, site, zone, variable) of each column the registry maps to a variable."""
    source, rule = REGISTRY.match(path)
    out = []
    for index, name in enumerate(names):
        hit = next((m for m in rule.mappings if m.matches(name)), None)
        if hit is not None:
            out.append((index, source.site, rule.zone.zone_for(path, name), hit.variable))
    return out


def _delimited(path: Path, delimiter: str, header_rows: int) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""), delimiter=delimiter))
    return rows[0], rows[header_rows:]


def _cells(path: Path, names: list[str], rows: list[list[str]], when) -> tuple[int, Iterator[Key]]:
    columns = _mapped(path, names)

    def keys() -> Iterator[Key]:
        for row in rows:
            time = when(row)
            if time is None:
                continue
            for index, site, zone, variable in columns:
                if index < len(row) and row[index].strip():
                    yield time.astimezone(UTC), site, zone, variable
    return len(rows), keys()


def knudjepsen(path: Path):
    """Three header rows, `;`, every field quoted, dd-mm-yyyy HH:MM:SS on a fixed UTC+1 clock."""
    names, rows = _delimited(path, ";", 3)
    return _cells(path, names, rows, lambda r: datetime.strptime(r[0], "%d-%m-%Y %H:%M:%S").replace(
        tzinfo=UTC_PLUS_1) if r and r[0] else None)


def cell_csv(path: Path):
    """`Date;Time` in Danish local time with DST."""
    names, rows = _delimited(path, ";", 1)
    return _cells(path, names, rows, lambda r: datetime.strptime(f"{r[0]} {r[1]}", "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=COPENHAGEN))


def morten_sdu(path: Path):
    """`Start,End` hourly intervals on a fixed UTC+1 clock; time = Start."""
    names, rows = _delimited(path, ",", 1)
    return _cells(path, names, rows, lambda r: datetime.strptime(r[0], "%Y-%m-%d %H:%M").replace(tzinfo=UTC_PLUS_1))


def weather(path: Path):
    """Epoch milliseconds (UTC) in `timestamp`."""
    names, rows = _delimited(path, ";", 1)
    return _cells(path, names, rows, lambda r: datetime.fromtimestamp(int(r[0]) / 1000, UTC))


def cell_smap(path: Path):
    """sMAP streams: epochs that are the logger's wall clock read as UTC+1, localised as Danish time."""
    streams = json.loads(path.read_text(encoding="utf-8"))
    columns = {name: (site, zone, variable) for index, site, zone, variable in
               _mapped(path, list(streams)) for name in [list(streams)[index]]}
    epochs = {t for stream in streams.values() for t, _ in stream["Readings"]}

    def keys() -> Iterator[Key]:
        for name, (site, zone, variable) in columns.items():
            for epoch_ms, value in streams[name]["Readings"]:
                if value is not None:
                    wall = datetime.fromtimestamp(epoch_ms / 1000, UTC_PLUS_1).replace(tzinfo=None)
                    yield wall.replace(tzinfo=COPENHAGEN).astimezone(UTC), site, zone, variable
    return len(epochs), keys()


# Registry rule name -> parser returning (rows, observation keys). Fixtures of new formats add theirs.
PARSERS = {"lamp_group_export": knudjepsen, "cell_csv": cell_csv, "cell_smap": cell_smap,
           "morten_sdu": morten_sdu, "weather": weather}


@pytest.fixture
def archive(clean_platform, real_data, tmp_path) -> tuple[Path, dict[str, dict]]:
    """The archive folder (outside the landing folder, as a user's would be) and what each file must become."""
    root = tmp_path / "archive"
    expected: dict[str, dict] = {}
    for path in sorted(p for p in real_data.rglob("*") if p.is_file()):
        relative = path.relative_to(real_data).as_posix()
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / relative)
        expected[relative] = {"status": "loaded"}
    for file in build_all(real_data):
        (root / file.relative).parent.mkdir(parents=True, exist_ok=True)
        (root / file.relative).write_bytes(file.content)
        expected[file.relative] = {"status": file.status, "reason": file.reason, "duplicate_of": file.duplicate_of}
    return root, expected


def test_an_archive_runs_through_every_layer_with_counts_from_the_files(archive, database_url):
    root, expected = archive
    completed = subprocess.run([sys.executable, "-m", "greenhouse_assets.cli", "run", "--input", str(root)],
                               env={**os.environ, "GREENHOUSE_LOG_LEVEL": "WARNING"}, cwd=settings.PROJECT_ROOT,
                               capture_output=True, text=True, timeout=1200)
    out = completed.stdout
    assert "\nfiles: " in out, completed.stderr[-5000:]
    summary = out[out.rindex("\nfiles: "):]

    with psycopg.connect(libpq_url(database_url)) as conn:
        versions = {}
        for path, file_id, status, rows_staged, duplicate_of, active in conn.execute(
                "SELECT path, file_id, status, rows_staged, duplicate_of, is_active FROM metadata.files"):
            versions[Path(path).relative_to(root).as_posix()] = (file_id, status, rows_staged, duplicate_of, active)
        staged = dict(conn.execute(
            "SELECT _file_id, count(*) FROM staging.raw_aarslev GROUP BY 1 UNION ALL "
            "SELECT _file_id, count(*) FROM staging.raw_knudjepsen GROUP BY 1").fetchall())
        observed = dict(conn.execute("SELECT variable, count(*) FROM timeseries.measurements GROUP BY 1").fetchall())
        models = conn.execute("SELECT DISTINCT ON (site, zone, objective) site, zone, objective, r2 "
                              "FROM moga.objective_models ORDER BY site, zone, objective, created_at DESC").fetchall()
        results = {(site, zone) for site, zone in conn.execute(
            "SELECT DISTINCT r.site, r.zone FROM moga.runs r JOIN moga.solutions s USING (moga_run_id)")}
        features = conn.execute("SELECT count(*) FROM features.extracted_features").fetchone()[0]

    # Every file: recorded with the status it must have; loaded ones staged with as many rows as the file has.
    assert {p: v[1] for p, v in versions.items()} == {p: e["status"] for p, e in expected.items()}, summary
    keys: set = set()
    for relative, want in expected.items():
        file_id, status, rows_staged, duplicate_of, active = versions[relative]
        if want["status"] == "duplicate":
            assert duplicate_of == versions[want["duplicate_of"]][0]
        if want["status"] != "loaded":
            assert file_id not in staged
            continue
        _source, rule = REGISTRY.match(root / relative)
        rows, file_keys = PARSERS[rule.name](root / relative)
        assert (rows_staged, staged[file_id], active) == (rows, rows, True), relative
        keys |= set(file_keys)
    # Observations: one per distinct (time, site, zone, variable) of the non-empty mapped cells of every file.
    assert observed == dict(Counter(variable for _, _, _, variable in keys))
    assert features > 0

    # The table of files that did not go through names each with its reason; exit 2 unless a check blocked.
    rejected = {p: e for p, e in expected.items() if e["status"] not in ("loaded", "duplicate")}
    table = summary[summary.index("files not loaded"):]
    for relative, want in rejected.items():
        line = next(line for line in table.splitlines() if f" {relative} " in line)
        assert want["status"] in line and want["reason"] in line, line

    # MOGA: results for every zone whose objective models pass validation (R² ≥ 0.7 where fitted).
    by_zone = defaultdict(dict)
    for site, zone, objective, r2 in models:
        by_zone[(site, zone)][objective] = r2
    passing = {z for z, m in by_zone.items() if {"energy", "growth"} <= m.keys()
               and all(r2 is None or r2 >= 0.7 for r2 in m.values())}
    assert passing, "at least one zone's models pass on the real data"
    failed_checks = re.findall(r"FAILED: (\S+)", summary)
    if failed_checks:
        # Before per-zone MOGA gating: a zone whose models fail validation blocks the optimiser for all zones.
        # The run then fails (1), and the summary says which zones lack results and why.
        assert failed_checks == ["moga_objective_models:objective_models_validated"], summary
        assert completed.returncode == 1, summary
        for site, zone in by_zone:
            assert re.search(rf"no result for {site}/{zone}: .+", summary), summary
    else:
        assert completed.returncode == 2, summary
        assert passing <= results, summary
        for site, zone in set(by_zone) - results:
            assert re.search(rf"no result for {site}/{zone}: .+", summary), summary


def test_exit_status_says_rejected_files_apart_from_failures():
    from greenhouse_assets.main_job import CheckTally, exit_status

    def status(*statuses: str, ok: bool = True, failed_checks: tuple[str, ...] = ()) -> int:
        return exit_status([{"status": s} for s in statuses], ok, CheckTally(failed=list(failed_checks)))

    assert status("loaded", "duplicate", "reactivated") == 0
    assert status("loaded", "quarantined") == status("loaded", "excluded") == status("deactivated") == 2
    assert status("loaded", "failed") == status("quarantined", "failed") == 1
    assert status("loaded", ok=False) == 1
    assert status("quarantined", failed_checks=("moga_objective_models:objective_models_validated",)) == 1
