"""Quality: GX suites on staging, dbt tests on measurements (one owner per rule), scores, anomalies,
allow-list, analyst access.

One platform for the module (two real files through the ingest job, one dbt build); tests run in
file order and each leaves the platform as it found it.
"""

from __future__ import annotations

import os
import shutil

import dagster as dg
import psycopg
import pytest
from conftest import CONTRACT_TABLES, REAL_DATA
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.quality.metrics import quality_metrics
from greenhouse_assets.defs.resources import resources
from greenhouse_assets.defs.transform.dbt import MEASUREMENTS, timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.quality import suites

# One month of a research cell, CSV and its sMAP JSON (~60k values): small enough for a quick build.
FILES = ["aarslev/celle5/output-2014-03-01-00-00.csv", "aarslev/celle5/output-2014-03-01-00-00.csv.json"]
RESOURCES = {**resources().resources, **transform_resources().resources}
QUALITY = dg.AssetKey(["quality", "quality_metrics"])


def build(instance, *, full_refresh=False, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [timeseries_dbt, quality_metrics],
        instance=instance,
        resources=RESOURCES,
        selection=selection,
        run_config=dg.RunConfig(ops={"timeseries_dbt": {"config": {"full_refresh": full_refresh}}}),
        raise_on_error=False,
    )


def query(url, text, params=None):
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(text, params).fetchall()


def materializations(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> list:
    return [e.materialization for e in result.get_asset_materialization_events() if e.asset_key == key]


def evaluation(result: dg.ExecuteInProcessResult, test: str):
    """The evaluation of the dbt test `test` on measurements (its check name adds the arguments)."""
    (found,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == MEASUREMENTS and e.check_name.startswith(f"{test}_measurements")
    ]
    return found


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """Both files ingested through the `ingest_file` job (staging checks run there), then one build."""
    root = tmp_path_factory.mktemp("quality")
    with psycopg.connect(libpq_url(os.environ["GREENHOUSE_ADMIN_URL"]), autocommit=True) as conn:  # a harness reset
        conn.execute(f"TRUNCATE {CONTRACT_TABLES} RESTART IDENTITY CASCADE")
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'staging'").fetchall():
            conn.execute(sql.SQL("DROP TABLE staging.{}").format(sql.Identifier(table)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GREENHOUSE_LANDING_DIR", str(root / "landing"))
        mp.setenv("GREENHOUSE_LAKE_URL", str(root / "lake"))
        instance = dg.DagsterInstance.ephemeral()
        reports = {}
        for relative in FILES:
            landed = root / "landing" / relative
            landed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REAL_DATA / relative, landed)
            reports[relative] = ingest_file(landed, instance, SourceRegistry.load())
        assert {r["status"] for r in reports.values()} == {"loaded"}, reports
        result = build(instance)
        assert result.success
        yield instance, reports, result


@pytest.mark.pure
def test_suites_follow_the_seeds():
    for name, text in suites.rendered().items():
        assert (suites.SUITES_DIR / f"{name}.json").read_text(encoding="utf-8") == text, (
            "run python -m greenhouse_assets.quality.suites"
        )


@pytest.mark.pure
def test_allow_list_parses_and_rejects_unknown_names(tmp_path):
    assert SourceRegistry.load().allow.allows("aarslev", "aarslev", "co2")  # `all` everywhere by default
    source = settings.SOURCE_REGISTRY.read_text(encoding="utf-8")
    restricted = tmp_path / "sources.yaml"
    restricted.write_text(
        source.replace("  variables: all", "  variables: [co2]").replace("  sites: all", "  sites: [aarslev]"),
        encoding="utf-8",
    )
    registry = SourceRegistry.load(restricted)
    assert {(r["site"], r["variable"]) for r in registry.allow_rows()} == {("aarslev", "co2")}
    restricted.write_text(source.replace("  variables: all", "  variables: [no_such_variable]"), encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_variable"):
        SourceRegistry.load(restricted)


def test_staging_checks_run_per_file_version_in_the_ingest_run(platform):
    instance, reports, _ = platform
    for relative, report in reports.items():
        run = instance.get_run_by_id(report["run_id"])
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        by_name = {e.check_name: e for e in evaluations}
        assert set(by_name) == {"timestamps_usable", "timestamps_monotonic", "completeness"}, relative
        assert by_name["timestamps_usable"].passed, by_name["timestamps_usable"].metadata
        assert by_name["timestamps_usable"].partition == run.tags["dagster/partition"]


def test_measurement_checks_and_quality_metrics(platform, database_url):
    _, reports, result = platform
    for test in ("series_allowed", "unit_matches_vocabulary", "out_of_range_share", "daily_completeness"):
        assert evaluation(result, test).passed, evaluation(result, test).metadata
    # Warn-severity dbt tests: reported, never blocking (a failure is a WARN, as the tests below show).
    assert evaluation(result, "series_allowed").blocking
    assert not evaluation(result, "out_of_range_share").blocking
    assert not evaluation(result, "daily_completeness").blocking
    metrics = {
        (f, m): v
        for f, m, v in query(
            database_url, "SELECT file_id, metric, value FROM metadata.quality_metrics WHERE file_id IS NOT NULL"
        )
    }
    csv_id, json_id = (reports[f]["file_id"] for f in FILES)
    for metric in ("completeness", "consistency", "timeliness", "validity", "accuracy", "uniqueness", "aggregate"):
        assert 0 <= metrics[(csv_id, metric)] <= 1
    # The JSON carries the CSV's streams at lower precedence: it wins no key, so it has no values to judge.
    assert metrics[(json_id, "values")] == 0 and metrics[(json_id, "validity")] is None
    assert metrics[(csv_id, "rejected_by_allow_list")] == 0
    days = query(
        database_url,
        "SELECT count(DISTINCT day) FROM metadata.quality_metrics WHERE metric = 'aggregate' AND day IS NOT NULL",
    )[0][0]
    assert days >= 28
    (materialization,) = materializations(result, QUALITY)
    assert "daily_score_plot" in materialization.metadata
    # Idempotent: a re-run replaces the rows instead of adding to them.
    before = query(database_url, "SELECT count(*) FROM metadata.quality_metrics")[0][0]
    assert dg.materialize([quality_metrics], resources=RESOURCES, instance=dg.DagsterInstance.ephemeral()).success
    assert query(database_url, "SELECT count(*) FROM metadata.quality_metrics")[0][0] == before


def test_a_spike_is_flagged_anomaly_and_counted(platform, database_url):
    instance, reports, _ = platform
    file_id = reports[FILES[0]]["file_id"]
    (column,) = query(
        database_url,
        "SELECT staged_column FROM metadata.file_columns WHERE file_id = %s AND variable = 'air_temperature'",
        (file_id,),
    )[0]
    target = sql.Identifier(column)
    with psycopg.connect(libpq_url(database_url)) as conn:
        # A mid-file reading jumps to 44 °C: inside the physical range, far outside its neighbourhood.
        row, time, original = conn.execute(
            sql.SQL(
                "SELECT _row_number, time, {c} FROM staging.raw_aarslev WHERE _file_id = %s AND {c} IS NOT NULL"
                " ORDER BY _row_number OFFSET 2000 LIMIT 1"
            ).format(c=target),
            (file_id,),
        ).fetchone()
        conn.execute(
            sql.SQL("UPDATE staging.raw_aarslev SET {c} = 44 WHERE _file_id = %s AND _row_number = %s").format(
                c=target
            ),
            (file_id, row),
        )
    try:
        assert build(instance, full_refresh=True).success
        (flag,) = query(
            database_url,
            "SELECT quality_flag FROM timeseries.measurements WHERE time = %s"
            " AND zone = 'celle5' AND variable = 'air_temperature'",
            (time,),
        )[0]
        assert flag == "anomaly"
        (counted,) = query(
            database_url,
            "SELECT value FROM metadata.quality_metrics WHERE file_id = %s AND metric = 'anomalies'",
            (file_id,),
        )[0]
        assert counted >= 1
    finally:
        with psycopg.connect(libpq_url(database_url)) as conn:
            conn.execute(
                sql.SQL("UPDATE staging.raw_aarslev SET {c} = %s WHERE _file_id = %s AND _row_number = %s").format(
                    c=target
                ),
                (original, file_id, row),
            )
        assert build(instance, full_refresh=True).success


def test_allow_list_keeps_rejected_values_in_staging_and_counts_them(platform, database_url, tmp_path):
    instance, reports, _ = platform
    source = settings.SOURCE_REGISTRY.read_text(encoding="utf-8")
    restricted = tmp_path / "sources.yaml"
    restricted.write_text(source.replace("  variables: all", "  variables: [co2]"), encoding="utf-8")
    rows = SourceRegistry.load(restricted).allow_rows()
    staged_before = query(database_url, "SELECT count(*) FROM staging.raw_aarslev")[0][0]
    with psycopg.connect(libpq_url(database_url)) as conn:
        # What `dbt seed` loads from the regenerated allow_list.csv; the build below selects only the model.
        conn.execute("DELETE FROM timeseries.allow_list")
        conn.cursor().executemany("INSERT INTO timeseries.allow_list VALUES (%(source)s, %(site)s, %(variable)s)", rows)
    try:
        assert build(instance, full_refresh=True, selection=[MEASUREMENTS, QUALITY]).success
        assert query(database_url, "SELECT DISTINCT variable FROM timeseries.measurements") == [("co2",)]
        assert query(database_url, "SELECT count(*) FROM staging.raw_aarslev")[0][0] == staged_before
        aarslev_id = reports[FILES[0]]["file_id"]
        (rejected,) = query(
            database_url,
            "SELECT value FROM metadata.quality_metrics WHERE file_id = %s AND metric = 'rejected_by_allow_list'",
            (aarslev_id,),
        )[0]
        columns = query(
            database_url,
            "SELECT staged_column FROM metadata.file_columns WHERE file_id = %s"
            " AND variable IS NOT NULL AND variable <> 'co2'",
            (aarslev_id,),
        )
        # No parameters: column names contain '%', which psycopg would read as a placeholder.
        cells = query(
            database_url,
            sql.SQL("SELECT {} FROM staging.raw_aarslev WHERE _file_id = {}").format(
                sql.SQL(" + ").join(sql.SQL("count({})").format(sql.Identifier(c)) for (c,) in columns),
                sql.Literal(aarslev_id),
            ),
        )[0][0]
        assert rejected == cells > 0
    finally:
        assert build(instance, full_refresh=True).success  # reseeds allow_list from the CSV


def test_a_failed_error_check_blocks_downstream_in_the_same_run(platform, database_url):
    instance, _, _ = platform
    with psycopg.connect(libpq_url(database_url)) as conn:
        # A series the allow-list does not admit: only the dbt test `series_allowed` catches it.
        conn.execute(
            "UPDATE timeseries.measurements SET site = 'elsewhere' WHERE ctid ="
            " (SELECT ctid FROM timeseries.measurements WHERE variable = 'air_temperature' LIMIT 1)"
        )
    result = build(instance, selection=[MEASUREMENTS, QUALITY])  # incremental: the bad row stays
    failed = evaluation(result, "series_allowed")
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert materializations(result, MEASUREMENTS) and not materializations(result, QUALITY)
    assert build(instance, full_refresh=True).success


def test_a_variable_mostly_out_of_range_warns(platform, database_url):
    """The range check judges the flags the model stored: more than 1 % of a variable out of range is a
    unit or mapping error (WARN, the build goes on)."""
    instance, _, _ = platform
    with psycopg.connect(libpq_url(database_url)) as conn:
        flagged = conn.execute(
            "UPDATE timeseries.measurements SET quality_flag = 'out_of_range'"
            " WHERE variable = 'co2' AND quality_flag = 'ok' RETURNING time, site, zone"
        ).fetchall()
    assert flagged
    try:
        result = build(instance, selection=[MEASUREMENTS])  # incremental: no version changed, the flags stay
        assert result.success
        warned = evaluation(result, "out_of_range_share")
        assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    finally:
        with psycopg.connect(libpq_url(database_url)) as conn:
            conn.execute(
                "UPDATE timeseries.measurements m SET quality_flag = 'ok'"
                " FROM unnest(%s::timestamptz[], %s::text[], %s::text[]) AS k (time, site, zone)"
                " WHERE m.variable = 'co2' AND (m.time, m.site, m.zone) = (k.time, k.site, k.zone)",
                [list(column) for column in zip(*flagged)],
            )


def test_days_with_gaps_warn(platform, database_url):
    """Every series keeps only 00-06 UTC of each day: a quarter of its readings, below half (WARN)."""
    instance, _, _ = platform
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("DELETE FROM timeseries.measurements WHERE extract(hour FROM time AT TIME ZONE 'UTC') >= 6")
    try:
        result = build(instance, selection=[MEASUREMENTS])
        assert result.success
        warned = evaluation(result, "daily_completeness")
        assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    finally:
        assert build(instance, full_refresh=True).success


def test_a_failing_dbt_test_fails_the_build_once_and_names_the_test(platform, database_url):
    """The database is up, so the failure is the data's: no retry (DB_RETRY is for a lost database)."""
    instance, _, _ = platform
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "UPDATE timeseries.measurements SET unit = 'furlongs' WHERE ctid ="
            " (SELECT ctid FROM timeseries.measurements WHERE variable = 'air_temperature' LIMIT 1)"
        )
    try:
        result = build(instance, selection=[MEASUREMENTS])  # incremental: the bad row stays, the test fails
        assert not result.success
        assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        (failure,) = [e.step_failure_data for e in result.all_events if e.is_step_failure]
        description = failure.user_failure_data.description
        assert description.startswith("dbt build failed with the database up, so it is not retried")
        assert "unit_matches_vocabulary_measurements_unit: Got 1 result" in description, description
    finally:
        assert build(instance, full_refresh=True).success


def test_analyst_reads_every_table_and_view_and_writes_nothing(platform, database_url):
    with psycopg.connect(libpq_url(settings.owner_url()), autocommit=True) as owner:
        # Created after the migrations, like dbt's views and the loader's tables.
        owner.execute("CREATE VIEW features.analyst_probe AS SELECT 1 AS x")
    try:
        relations = query(
            database_url,
            """SELECT n.nspname, c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('metadata', 'staging', 'timeseries', 'features', 'moga') AND c.relkind IN ('r', 'v', 'm', 'p')""",
        )
        names = {f"{s}.{t}" for s, t in relations}
        assert {
            "timeseries.aarslev_data",
            "timeseries.knudjepsen_data",
            "timeseries.allow_list",
            "features.analyst_probe",
            "staging.raw_aarslev",
        } <= names
        analyst = libpq_url(settings.role_url("analyst"))
        with psycopg.connect(analyst) as conn:
            for schema, table in relations:
                conn.execute(
                    sql.SQL("SELECT * FROM {}.{} LIMIT 1").format(sql.Identifier(schema), sql.Identifier(table))
                )
            for statement in (
                "DELETE FROM timeseries.measurements",
                "CREATE TEMP TABLE scratch (x int)",
                "SELECT metadata.set_file_active(1, false)",
            ):
                with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
                    conn.execute(statement)
                conn.rollback()
            # Behind the read-only default, the privileges themselves refuse every write.
            conn.execute("SET default_transaction_read_only = off")
            conn.commit()
            for statement in (
                "INSERT INTO metadata.files (source, path, sha256, bytes, status) VALUES ('x','x','x',1,'received')",
                "UPDATE timeseries.measurements SET value = 0",
                "DELETE FROM staging.raw_aarslev",
                "TRUNCATE timeseries.allow_list",
                "CREATE TABLE moga.scratch (x int)",
                "DROP VIEW features.analyst_probe",
                "SELECT metadata.set_file_active(1, false)",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
                conn.rollback()
    finally:
        with psycopg.connect(libpq_url(settings.owner_url()), autocommit=True) as owner:
            owner.execute("DROP VIEW features.analyst_probe")
