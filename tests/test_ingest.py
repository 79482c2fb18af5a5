"""Raw + staging through real Dagster runs on the real cluster: real files, versions, duplicates, bad files."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from greenhouse_assets.database import libpq_url
from greenhouse_assets.in_process import ingest_file
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
        staged = _query(
            database_url,
            sql.SQL("SELECT count(*) FROM staging.{} WHERE _file_id = %s").format(sql.Identifier(table)),
            (report["file_id"],),
        )[0][0]
        rows_read, rows_staged, status, active = _query(
            database_url,
            "SELECT rows_read, rows_staged, status, is_active FROM metadata.files WHERE file_id = %s",
            (report["file_id"],),
        )[0]
        assert staged == rows_read == rows_staged == report["rows"] > 0
        assert (status, active) == ("loaded", True)

    zones = dict(
        _query(
            database_url,
            """SELECT f.path, string_agg(DISTINCT c.zone, ',' ORDER BY c.zone)
                                          FROM metadata.files f JOIN metadata.file_columns c USING (file_id)
                                          GROUP BY f.path""",
        )
    )
    assert zones["knudjepsen/NO3_LAMPEGRP_1.csv"] == "NO3"
    assert zones["aarslev/celle5/output-2014-03-01-00-00.csv"] == "celle5"
    # Both "Celle 5: " columns arrive as distinct staged columns.
    columns = [
        r[0]
        for r in _query(
            database_url,
            """SELECT column_name FROM information_schema.columns
                                                    WHERE table_schema = 'staging' AND table_name = 'raw_aarslev'""",
        )
    ]
    assert {"Celle 5: ", "Celle 5:  #2"} <= set(columns)
    # Every staged row is traceable: file version -> Parquet -> original bytes.
    for report in reports[:3]:
        raw_uri, parquet_uri, sha = _query(
            database_url,
            "SELECT raw_uri, parquet_uri, sha256 FROM metadata.files WHERE file_id = %s",
            (report["file_id"],),
        )[0]
        original = Path(raw_uri.removeprefix("file://"))
        assert original.read_bytes() == Path(report["path"]).read_bytes()
        assert original.name.startswith(sha)
        assert pq.read_metadata(parquet_uri.removeprefix("file://")).num_rows == report["rows"]


def test_greenhouse_ingest_prints_a_json_report_per_file(landing, real_data, capsys):
    from greenhouse_assets.in_process import ingest_paths

    source = real_data / "aarslev" / "december2013" / "MortenSDUData.csv"
    first = _land(landing, source, "aarslev/a/MortenSDUData.csv")
    second = _land(landing, source, "aarslev/b/MortenSDUData.csv")

    assert ingest_paths([landing], as_json=True) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["path"], r["status"]) for r in reports] == [(str(first), "loaded"), (str(second), "duplicate")]


def test_the_greenhouse_ingest_process_flushes_its_reports_and_records_its_runs_before_it_ends(
    landing, instance, real_data
):
    """The command ends with `os._exit` (cli._end_process): its output, piped (block-buffered), must
    still arrive whole, the exit code must be the command's, and the runs must be in the instance."""
    source = real_data / "aarslev" / "december2013" / "MortenSDUData.csv"
    first = _land(landing, source, "aarslev/a/MortenSDUData.csv")
    _land(landing, source, "aarslev/b/MortenSDUData.csv")

    done = subprocess.run(
        [str(Path(sys.executable).parent / "greenhouse"), "ingest", str(landing), "--json"],
        capture_output=True,
        text=True,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["status"] for r in reports] == ["loaded", "duplicate"]
    run = instance.get_run_by_id(reports[0]["run_id"])
    assert run is not None and run.is_success and run.tags["greenhouse/path"] == str(first)
    checks = [
        e
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert len(checks) == 3


def test_dst_spring_forward_becomes_continuous_utc(landing, instance, real_data, database_url):
    march = real_data / "aarslev" / "celle5" / "output-2014-03-01-00-00.csv"
    report = _ingest(_land(landing, march, "aarslev/celle5/output-2014-03-01-00-00.csv"), instance)
    times = [
        r[0]
        for r in _query(
            database_url,
            """SELECT time AT TIME ZONE 'UTC' FROM staging.raw_aarslev
        WHERE _file_id = %s AND time >= '2014-03-30 00:00Z' AND time < '2014-03-30 02:00Z' ORDER BY time""",
            (report["file_id"],),
        )
    ]
    steps = {(b - a).total_seconds() for a, b in zip(times, times[1:])}
    assert steps == {600.0}, "10-minute steps in UTC across the jump: no invented and no duplicated hour"
    assert len(times) == len(set(times))


def test_values_read_by_a_rule_are_recorded_per_file_version(landing, instance, real_data, database_url, tmp_path):
    """Both decimal marks in a real cell month, and a generated October month with the repeated hour: each
    loads, and metadata.files, the schema version, the raw materialization and the report say what was
    resolved."""
    from greenhouse_assets.defs.ingest.raw import RAW_FILES
    from greenhouse_dev.sample import generate_sample

    lines = (real_data / "aarslev" / "celle5" / "output-2014-02-01-00-00.csv").read_bytes().split(b"\r\n")
    mixed, points = [lines[0]], 0
    for number, line in enumerate(lines[1:], 2):
        if number % 10 == 0:  # every 10th line keeps its decimal points, the rest get decimal commas
            points += sum(b"." in field for field in line.split(b";")[2:])
            mixed.append(line)
        else:
            mixed.append(b";".join(line.split(b";")[:2] + [f.replace(b".", b",") for f in line.split(b";")[2:]]))
    months = landing / "aarslev" / "celle5"
    months.mkdir(parents=True)
    (months / "output-2014-02-01-00-00.csv").write_bytes(b"\r\n".join(mixed))
    generate_sample(tmp_path / "sample", days=3, start="2014-10-25")
    october = months / "output-2014-10-01-00-00.csv"
    shutil.copyfile(tmp_path / "sample" / "aarslev" / "celle5" / october.name, october)

    reports = {path.name: _ingest(path, instance) for path in (months / "output-2014-02-01-00-00.csv", october)}

    assert [r["status"] for r in reports.values()] == ["loaded", "loaded"], reports
    assert reports["output-2014-02-01-00-00.csv"]["resolutions"] == {
        "nonexistent_local_times": 0,
        "ambiguous_local_times": 0,
        "other_decimal_marks": points,
    }
    assert points > 100
    assert reports[october.name]["resolutions"] == {
        "nonexistent_local_times": 0,
        "ambiguous_local_times": 12,
        "other_decimal_marks": 0,
    }
    detection, resolutions = _query(
        database_url,
        """SELECT v.detection, f.resolutions FROM metadata.files f
        JOIN metadata.schema_versions v USING (schema_version_id) WHERE f.file_id = %s""",
        (reports["output-2014-02-01-00-00.csv"]["file_id"],),
    )[0]
    assert (detection["decimal"], detection["decimal_primary"]) == ("mixed", ",")
    assert resolutions["other_decimal_marks"] == points
    materialization = instance.get_latest_materialization_event(RAW_FILES).asset_materialization
    assert materialization.metadata["resolutions"].value == reports[october.name]["resolutions"]
    # the repeated hour: first pass summer time, second standard time, as staged
    staged = _query(
        database_url,
        """SELECT to_char(time AT TIME ZONE 'UTC', 'HH24:MI') FROM staging.raw_aarslev
        WHERE _file_id = %s AND time >= '2014-10-26 00:00Z' AND time < '2014-10-26 02:00Z' ORDER BY _row_number""",
        (reports[october.name]["file_id"],),
    )
    assert [t for (t,) in staged] == [f"{h:02d}:{m:02d}" for h in (0, 1) for m in range(0, 60, 10)]


def test_reingesting_identical_content_is_a_recorded_duplicate(landing, instance, real_data, database_url):
    source = real_data / "aarslev" / "december2013" / "MortenSDUData.csv"
    first = _ingest(_land(landing, source, "aarslev/december2013/MortenSDUData.csv"), instance)
    again = _ingest(landing / "aarslev/december2013/MortenSDUData.csv", instance)
    copy = _ingest(_land(landing, source, "aarslev/elsewhere/MortenSDUData.csv"), instance)

    assert first["status"] == "loaded"
    assert again["status"] == copy["status"] == "duplicate"
    assert _query(database_url, "SELECT count(*) FROM staging.raw_aarslev")[0][0] == first["rows"]
    assert _query(
        database_url, "SELECT count(*), count(DISTINCT duplicate_of) FROM metadata.files WHERE status = 'duplicate'"
    )[0] == (2, 1)


def test_new_content_at_the_same_path_replaces_the_old_version_and_can_roll_back(
    landing, instance, real_data, database_url
):
    path = _land(landing, real_data / "aarslev" / "december2013" / "MortenSDUData.csv", "aarslev/m/MortenSDUData.csv")
    original = path.read_bytes()
    v1 = _ingest(path, instance)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-10]), encoding="utf-8")  # the export re-run with fewer hours
    v2 = _ingest(path, instance)

    rows = dict(_query(database_url, "SELECT file_id, (status, is_active, version)::text FROM metadata.files"))
    assert rows[v1["file_id"]] == "(deactivated,f,1)"
    assert rows[v2["file_id"]] == "(loaded,t,2)"
    staged = dict(_query(database_url, "SELECT _status, count(*) FROM staging.raw_aarslev GROUP BY 1"))
    assert staged == {"deactivated": v1["rows"], "loaded": v2["rows"]}

    path.write_bytes(original)  # the path put back to its first version: a rollback by file, as the sensor does it
    v3 = _ingest(path, instance)
    assert (v3["status"], v3["file_id"], v3["rows"]) == ("reactivated", v1["file_id"], v1["rows"])
    rows = dict(_query(database_url, "SELECT file_id, (status, is_active, duplicate_of)::text FROM metadata.files"))
    assert rows == {
        v1["file_id"]: "(loaded,t,)",
        v2["file_id"]: "(deactivated,f,)",
        max(rows): f"(duplicate,f,{v1['file_id']})",
    }, "the receipt is recorded as a duplicate of v1"
    staged = dict(_query(database_url, "SELECT _status, count(*) FROM staging.raw_aarslev GROUP BY 1"))
    assert staged == {"loaded": v1["rows"], "deactivated": v2["rows"]}
    again = _ingest(path, instance)
    assert again["status"] == "duplicate", "the active version landing again changes nothing"

    _query(database_url, "SELECT metadata.set_file_active(%s, true)", (v2["file_id"],))  # rollback by SQL
    rows = dict(_query(database_url, "SELECT file_id, is_active FROM metadata.files WHERE status <> 'duplicate'"))
    assert rows == {v1["file_id"]: False, v2["file_id"]: True}


def test_bad_files_are_quarantined_with_a_specific_error_and_good_files_still_load(
    landing, instance, real_data, database_url, tmp_path
):
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

    error, detail, uri = _query(
        database_url,
        "SELECT error, error_detail, raw_uri FROM metadata.files WHERE file_id = %s",
        (reports[0]["file_id"],),
    )[0]
    assert error == reports[0]["error"] and detail["row"] is not None
    quarantined = Path(uri.removeprefix("file://"))
    assert quarantined.read_bytes() == truncated.read_bytes()
    assert json.loads(quarantined.with_name(quarantined.name + ".error.json").read_text())["row"] == detail["row"]
    assert _query(database_url, "SELECT to_regclass('staging.raw_knudjepsen')")[0][0] is None, "nothing half-loaded"


def test_hostile_and_evolving_columns_are_quoted_added_and_widened(landing, instance, database_url):
    hostile = 'x"; DROP TABLE staging.raw_aarslev; --'
    first = landing / "lab" / "export-1.csv"
    first.parent.mkdir(parents=True)
    first.write_text(
        f'time,temp,"{hostile.replace(chr(34), chr(34) * 2)}"\n2014-01-01 00:00,20.5,1\n2014-01-01 00:10,20.7,2\n',
        encoding="utf-8",
    )
    second = landing / "lab" / "export-2.csv"
    second.write_text("time,temp,humidity\n2014-01-02 00:00,warm,55\n", encoding="utf-8")

    reports = [_ingest(first, instance), _ingest(second, instance)]
    assert [r["status"] for r in reports] == ["loaded", "loaded"], reports
    table = f"raw_{reports[0]['source']}"
    types = dict(
        _query(
            database_url,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = %s",
            (table,),
        )
    )
    assert hostile in types
    assert types["temp"] == "text" and types["humidity"] == "double precision"
    changes = _query(
        database_url,
        "SELECT column_name, change, old_type, new_type FROM metadata.schema_changes "
        "WHERE change <> 'create_table' ORDER BY change_id",
    )
    assert ("temp", "widen_type", "double precision", "text") in changes
    assert ("humidity", "add_column", None, "double precision") in changes
    assert sorted(
        r[0] for r in _query(database_url, sql.SQL("SELECT temp FROM staging.{}").format(sql.Identifier(table)))
    ) == ["20.5", "20.7", "warm"]


def test_version_bookkeeping_comes_from_column_defaults_also_on_a_table_created_without_them(
    landing, instance, real_data, database_url
):
    """Only `_file_id`, `_row_number` and the file's columns are copied; the server fills in the rest."""
    with psycopg.connect(libpq_url(database_url)) as conn:  # as the loader created tables before the defaults
        conn.execute("""CREATE TABLE staging.raw_aarslev (_file_id bigint NOT NULL, _row_number bigint NOT NULL,
            _source_file text, _ingested_at timestamptz NOT NULL, _status text NOT NULL,
            PRIMARY KEY (_file_id, _row_number))""")
    first = _ingest(
        _land(landing, real_data / "aarslev" / "december2013" / "MortenSDUData.csv", "aarslev/d/MortenSDUData.csv"),
        instance,
    )
    second = _ingest(
        _land(landing, real_data / "aarslev" / "januar2014" / "MortenSDUData.csv", "aarslev/j/MortenSDUData.csv"),
        instance,
    )

    staged = _query(
        database_url,
        """SELECT s._file_id, s._source_file, s._status, count(*),
                                            bool_and(s._ingested_at = f.loaded_at)
                                     FROM staging.raw_aarslev s JOIN metadata.files f ON f.file_id = s._file_id
                                     GROUP BY 1, 2, 3 ORDER BY 1""",
    )
    assert staged == [
        (first["file_id"], "aarslev/d/MortenSDUData.csv", "loaded", first["rows"], True),
        (second["file_id"], "aarslev/j/MortenSDUData.csv", "loaded", second["rows"], True),
    ]
    with pytest.raises(psycopg.errors.UndefinedObject), psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("INSERT INTO staging.raw_aarslev (_file_id, _row_number) VALUES (-1, 1)")  # not in a load


def test_a_clock_that_steps_back_loads_and_warns_at_its_row(landing, instance, real_data, database_url):
    """A time going back in file order is not unusable data: the file loads, the run succeeds, and the
    WARN check names the first line whose time goes back (the blocking check judges only usability)."""
    lines = (real_data / "knudjepsen" / "NO3_LAMPEGRP_1.csv").read_bytes().split(b"\r\n")[:40]
    lines[20], lines[21] = lines[21], lines[20]  # file lines 21 and 22: line 22 is five minutes earlier
    landed = landing / "NO3_LAMPEGRP_1.csv"
    landed.write_bytes(b"\r\n".join(lines) + b"\r\n")
    report = _ingest(landed, instance)

    assert report["status"] == "loaded", report
    assert _query(
        database_url, "SELECT status, excluded_by_check FROM metadata.files WHERE file_id = %s", (report["file_id"],)
    ) == [("loaded", None)]
    evaluations = {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data
        for e in instance.all_logs(report["run_id"])
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert evaluations["timestamps_usable"].passed
    monotonic = evaluations["timestamps_monotonic"]
    assert not monotonic.passed and monotonic.severity.value == "WARN"
    assert monotonic.metadata["first_backward_row"].value == 22 and monotonic.metadata["backward_steps"].value == 1
    assert (monotonic.metadata["repeated_rows"].value, monotonic.metadata["conflicting_timestamps"].value) == (0, 0)
    failures = {f["expectation"]: f["observed"] for f in monotonic.metadata["failures"].value}
    assert failures["expect_column_values_to_be_null"]["partial_unexpected_list"] == [22]
    assert evaluations["completeness"].passed


def test_a_bad_value_after_rows_were_copied_leaves_nothing_of_the_file(
    landing, instance, real_data, database_url, tmp_path
):
    """Staging copies batches while later ones are parsed: an error in the third batch must still undo it all."""
    good = _land(landing, real_data / "knudjepsen" / "NO3_LAMPEGRP_1.csv", "knudjepsen/NO3_LAMPEGRP_1.csv")
    loaded = _ingest(good, instance)
    lines = good.read_bytes().split(b"\r\n")
    header, data = lines[:3], [line for line in lines[3:] if line]
    long = header + data + data  # ~211k rows: three batches of 100k
    bad_line = 200_000
    fields = long[bad_line - 1].split(b";")
    long[bad_line - 1] = b";".join([fields[0], b"20.3.1", *fields[2:]])  # two marks: no number in any locale
    bad = landing / "knudjepsen" / "NO4_LAMPEGRP_1.csv"
    bad.write_bytes(b"\r\n".join(long) + b"\r\n")

    report = _ingest(bad, instance)

    assert report["status"] == "quarantined"
    detail = _query(database_url, "SELECT error_detail FROM metadata.files WHERE file_id = %s", (report["file_id"],))[
        0
    ][0]
    assert (detail["row"], detail["found"]) == (bad_line, "20.3.1") and "decimal comma" in detail["expected"]
    assert _query(database_url, "SELECT _file_id, count(*) FROM staging.raw_knudjepsen GROUP BY 1") == [
        (loaded["file_id"], loaded["rows"])
    ]
    lake = tmp_path / "lake"
    kept, original = _query(
        database_url, "SELECT parquet_uri, raw_uri FROM metadata.files WHERE file_id = %s", (loaded["file_id"],)
    )[0]
    assert sorted((lake / "parquet").rglob("*.parquet")) == [Path(kept.removeprefix("file://"))]
    assert [p for p in (lake / "raw").rglob("*") if p.is_file()] == [Path(original.removeprefix("file://"))]
    assert not list(lake.rglob("*.tmp")), "no partial Parquet or original copy left behind"


def test_content_rewritten_after_the_sensor_hashed_it_fails_the_run_and_leaves_nothing(
    landing, instance, real_data, database_url, tmp_path
):
    """The run trusts the sensor's hash for the duplicate check and checks it while copying the original."""
    from greenhouse_assets.definitions import defs
    from greenhouse_assets.defs.ingest.raw import RAW_FILES, raw_run_config
    from greenhouse_assets.defs.ingest.staging import staging_key
    from greenhouse_assets.ingest.file_registry import partition_key_for
    from greenhouse_assets.ingest.lake import sha256_of

    path = _land(landing, real_data / "aarslev" / "december2013" / "MortenSDUData.csv", "aarslev/d/MortenSDUData.csv")
    seen = sha256_of(path)
    partition = partition_key_for("aarslev", seen)
    instance.add_dynamic_partitions("file_versions", [partition])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-10]), encoding="utf-8")  # rewritten between the sensor's tick and the run

    result = defs.resolve_job_def("ingest_file").execute_in_process(
        instance=instance,
        partition_key=partition,
        asset_selection=[RAW_FILES, staging_key("aarslev")],
        run_config=raw_run_config(path, seen),
        raise_on_error=False,
    )

    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert len(failures) == 1 and not any(e.is_step_up_for_retry for e in result.all_events), "no retry can help"
    assert "changed after it was detected" in failures[0].step_failure_data.user_failure_data.description
    assert _query(database_url, "SELECT count(*) FROM metadata.files") == [(0,)]
    assert _query(database_url, "SELECT to_regclass('staging.raw_aarslev')")[0][0] is None
    assert not [p for p in (tmp_path / "lake").rglob("*") if p.is_file()]


def test_received_but_unstaged_content_is_staged_when_it_lands_again_and_staging_reruns_alone(
    landing, instance, real_data, database_url
):
    import dagster as dg

    from greenhouse_assets.definitions import defs
    from greenhouse_assets.defs.ingest.raw import RAW_FILES, raw_run_config
    from greenhouse_assets.defs.ingest.staging import staging_key
    from greenhouse_assets.ingest.file_registry import partition_key_for
    from greenhouse_assets.ingest.lake import sha256_of

    path = _land(landing, real_data / "aarslev" / "december2013" / "MortenSDUData.csv", "aarslev/d/MortenSDUData.csv")
    partition = partition_key_for("aarslev", sha256_of(path))
    instance.add_dynamic_partitions("file_versions", [partition])
    job = defs.resolve_job_def("ingest_file")

    def run(selection: list[dg.AssetKey], **kwargs) -> dg.ExecuteInProcessResult:
        return job.execute_in_process(instance=instance, partition_key=partition, asset_selection=selection, **kwargs)

    assert run([RAW_FILES], run_config=raw_run_config(path)).success  # raw alone: parsed and registered
    ((file_id, status),) = _query(database_url, "SELECT file_id, status FROM metadata.files")
    assert status == "received" and _query(database_url, "SELECT to_regclass('staging.raw_aarslev')")[0][0] is None

    report = _ingest(path, instance)  # the same content lands again: staged under its id, not a duplicate
    assert (report["status"], report["file_id"]) == ("loaded", file_id)
    assert _query(database_url, "SELECT count(*) FROM metadata.files") == [(1,)]

    assert run([staging_key("aarslev")]).success  # staging alone: re-loaded from the version's Parquet
    assert _query(database_url, "SELECT _file_id, _status, count(*) FROM staging.raw_aarslev GROUP BY 1, 2") == [
        (file_id, "loaded", report["rows"])
    ]
    loads = _query(database_url, "SELECT count(*) FROM metadata.audit_log WHERE asset = 'staging/raw_aarslev'")
    assert loads == [(2,)]
