"""Raw + staging through real Dagster runs on the real cluster: real files, versions, duplicates, bad files."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from greenhouse_assets.database import libpq_url
from greenhouse_assets.ingest.command import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry

REGISTRY = SourceRegistry.load()


def _ingest(path: Path, instance) -> dict:
    return ingest_file(path, instance, REGISTRY)


def _query(url: str, query, params=()) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(query, params).fetchall()


def _land(landing: Path, source: Path, relative: str) -> Path:
    dest = landing / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    return dest


@pytest.fixture
def landing(clean_platform, tmp_path) -> Path:
    return tmp_path / "landing"


def test_every_real_file_loads_into_its_source_table(landing, instance, real_data, database_url):
    files = sorted(p for p in real_data.rglob("*") if p.is_file())
    reports = [_ingest(_land(landing, f, f.relative_to(real_data).as_posix()), instance) for f in files]

    assert [r["status"] for r in reports] == ["loaded"] * len(files), [r for r in reports if r["status"] != "loaded"]
    by_name = {Path(r["path"]).name: r for r in reports}
    assert by_name["NO3_LAMPEGRP_1.csv"]["source"] == "knudjepsen"
    assert {r["source"] for r in reports} == {"knudjepsen", "aarslev"}
    for report in reports:
        table = f"raw_{report['source']}"
        staged = _query(database_url, sql.SQL("SELECT count(*) FROM staging.{} WHERE _file_id = %s").format(
            sql.Identifier(table)), (report["file_id"],))[0][0]
        rows_read, rows_staged, status, active = _query(
            database_url, "SELECT rows_read, rows_staged, status, is_active FROM metadata.files WHERE file_id = %s",
            (report["file_id"],))[0]
        assert staged == rows_read == rows_staged == report["rows"] > 0
        assert (status, active) == ("loaded", True)

    zones = dict(_query(database_url, """SELECT f.path, string_agg(DISTINCT c.zone, ',' ORDER BY c.zone)
                                          FROM metadata.files f JOIN metadata.file_columns c USING (file_id)
                                          GROUP BY f.path"""))
    assert zones["knudjepsen/NO3_LAMPEGRP_1.csv"] == "NO3"
    assert zones["aarslev/celle5/output-2014-03-01-00-00.csv"] == "celle5"
    # Both "Celle 5: " columns arrive as distinct staged columns.
    columns = [r[0] for r in _query(database_url, """SELECT column_name FROM information_schema.columns
                                                    WHERE table_schema = 'staging' AND table_name = 'raw_aarslev'""")]
    assert {"Celle 5: ", "Celle 5:  #2"} <= set(columns)
    # Every staged row is traceable: file version -> Parquet -> original bytes.
    for report in reports[:3]:
        raw_uri, parquet_uri, sha = _query(database_url, "SELECT raw_uri, parquet_uri, sha256 FROM metadata.files "
                                                         "WHERE file_id = %s", (report["file_id"],))[0]
        original = Path(raw_uri.removeprefix("file://"))
        assert original.read_bytes() == Path(report["path"]).read_bytes()
        assert original.name.startswith(sha)
        assert pq.read_metadata(parquet_uri.removeprefix("file://")).num_rows == report["rows"]


def test_dst_spring_forward_becomes_continuous_utc(landing, instance, real_data, database_url):
    march = real_data / "aarslev" / "celle5" / "output-2014-03-01-00-00.csv"
    report = _ingest(_land(landing, march, "aarslev/celle5/output-2014-03-01-00-00.csv"), instance)
    times = [r[0] for r in _query(database_url, """SELECT time AT TIME ZONE 'UTC' FROM staging.raw_aarslev
        WHERE _file_id = %s AND time >= '2014-03-30 00:00Z' AND time < '2014-03-30 02:00Z' ORDER BY time""",
                                  (report["file_id"],))]
    steps = {(b - a).total_seconds() for a, b in zip(times, times[1:])}
    assert steps == {600.0}, "10-minute steps in UTC across the jump: no invented and no duplicated hour"
    assert len(times) == len(set(times))


def test_reingesting_identical_content_is_a_recorded_duplicate(landing, instance, real_data, database_url):
    source = real_data / "aarslev" / "december2013" / "MortenSDUData.csv"
    first = _ingest(_land(landing, source, "aarslev/december2013/MortenSDUData.csv"), instance)
    again = _ingest(landing / "aarslev/december2013/MortenSDUData.csv", instance)
    copy = _ingest(_land(landing, source, "aarslev/elsewhere/MortenSDUData.csv"), instance)

    assert first["status"] == "loaded"
    assert again["status"] == copy["status"] == "duplicate"
    assert _query(database_url, "SELECT count(*) FROM staging.raw_aarslev")[0][0] == first["rows"]
    assert _query(database_url, "SELECT count(*), count(DISTINCT duplicate_of) FROM metadata.files "
                                "WHERE status = 'duplicate'")[0] == (2, 1)


def test_new_content_at_the_same_path_replaces_the_old_version_and_can_roll_back(landing, instance, real_data,
                                                                                   database_url):
    path = _land(landing, real_data / "aarslev" / "december2013" / "MortenSDUData.csv", "aarslev/m/MortenSDUData.csv")
    v1 = _ingest(path, instance)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-10]), encoding="utf-8")  # the export re-run with fewer hours
    v2 = _ingest(path, instance)

    rows = dict(_query(database_url, "SELECT file_id, (status, is_active, version)::text FROM metadata.files"))
    assert rows[v1["file_id"]] == "(deactivated,f,1)"
    assert rows[v2["file_id"]] == "(loaded,t,2)"
    staged = dict(_query(database_url, "SELECT _status, count(*) FROM staging.raw_aarslev GROUP BY 1"))
    assert staged == {"deactivated": v1["rows"], "loaded": v2["rows"]}

    _query(database_url, "SELECT metadata.set_file_active(%s, true)", (v1["file_id"],))
    rows = dict(_query(database_url, "SELECT file_id, is_active FROM metadata.files"))
    assert rows == {v1["file_id"]: True, v2["file_id"]: False}


def test_bad_files_are_quarantined_with_a_specific_error_and_good_files_still_load(landing, instance, real_data,
                                                                                     database_url, tmp_path):
    truncated = landing / "knudjepsen" / "NO3_LAMPEGRP_1.csv"
    truncated.parent.mkdir(parents=True)
    content = (real_data / "knudjepsen" / "NO3_LAMPEGRP_1.csv").read_bytes()[:5000]
    truncated.write_bytes(content[: content.rfind(b";")])  # cut mid-row
    gz = landing / "generic" / "export.csv"
    gz.parent.mkdir(parents=True)
    gz.write_bytes(gzip.compress(b"time;value\n2014-01-01 00:00;1\n"))
    good = _land(landing, real_data / "aarslev" / "januar2014" / "MortenSDUData.csv", "aarslev/j/MortenSDUData.csv")

    reports = [_ingest(p, instance) for p in (truncated, gz, good)]
    assert [r["status"] for r in reports] == ["quarantined", "quarantined", "loaded"]
    assert "row" in reports[0]["error"] and "NO3_LAMPEGRP_1.csv" in reports[0]["error"]
    assert "gzip" in reports[1]["error"]

    error, detail, uri = _query(database_url, "SELECT error, error_detail, raw_uri FROM metadata.files "
                                              "WHERE file_id = %s", (reports[0]["file_id"],))[0]
    assert error == reports[0]["error"] and detail["row"] is not None
    quarantined = Path(uri.removeprefix("file://"))
    assert quarantined.read_bytes() == truncated.read_bytes()
    assert json.loads(quarantined.with_name(quarantined.name + ".error.json").read_text())["row"] == detail["row"]
    assert _query(database_url, "SELECT to_regclass('staging.raw_knudjepsen')")[0][0] is None, "nothing half-loaded"


def test_hostile_and_evolving_columns_are_quoted_added_and_widened(landing, instance, database_url):
    hostile = 'x"; DROP TABLE staging.raw_aarslev; --'
    first = landing / "lab" / "export-1.csv"
    first.parent.mkdir(parents=True)
    first.write_text(f'time,temp,"{hostile.replace(chr(34), chr(34) * 2)}"\n2014-01-01 00:00,20.5,1\n'
                     "2014-01-01 00:10,20.7,2\n", encoding="utf-8")
    second = landing / "lab" / "export-2.csv"
    second.write_text("time,temp,humidity\n2014-01-02 00:00,warm,55\n", encoding="utf-8")

    reports = [_ingest(first, instance), _ingest(second, instance)]
    assert [r["status"] for r in reports] == ["loaded", "loaded"], reports
    table = f"raw_{reports[0]['source']}"
    types = dict(_query(database_url, "SELECT column_name, data_type FROM information_schema.columns "
                                      "WHERE table_schema = 'staging' AND table_name = %s", (table,)))
    assert hostile in types
    assert types["temp"] == "text" and types["humidity"] == "double precision"
    changes = _query(database_url, "SELECT column_name, change, old_type, new_type FROM metadata.schema_changes "
                                   "WHERE change <> 'create_table' ORDER BY change_id")
    assert ("temp", "widen_type", "double precision", "text") in changes
    assert ("humidity", "add_column", None, "double precision") in changes
    assert sorted(r[0] for r in _query(database_url, sql.SQL("SELECT temp FROM staging.{}").format(
        sql.Identifier(table)))) == ["20.5", "20.7", "warm"]
