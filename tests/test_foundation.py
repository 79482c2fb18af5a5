"""The ground floor: migrations, roles, definitions, and Dagster's Postgres storage."""

from __future__ import annotations

import os

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from greenhouse_assets import migrate, settings
from greenhouse_assets.database import libpq_url
from greenhouse_assets.settings import with_database
from tests.conftest import recreate_database

CONTRACT_TABLES = [
    ("metadata", "files"),
    ("metadata", "schema_versions"),
    ("metadata", "quality_metrics"),
    ("metadata", "lineage"),
    ("metadata", "audit_log"),
    ("timeseries", "measurements"),
    ("features", "extracted_features"),
    ("features", "feature_importance"),
    ("features", "feature_metadata"),
    ("moga", "runs"),
    ("moga", "solutions"),
]


def _tables(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('metadata', 'staging', 'timeseries', 'features', 'moga')"
        ).fetchall()
    return set(rows)


def _hypertables(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT hypertable_schema || '.' || hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
    return {r[0] for r in rows}


def test_migrations_upgrade_downgrade_upgrade_on_a_fresh_database():
    # As the administrator: reverting 0001 drops what the writer and analyst roles own (DROP OWNED), which
    # only a role with their privileges may do.
    url = with_database(os.environ["GREENHOUSE_ADMIN_URL"], "greenhouse_migrations_test")
    recreate_database(with_database(url, "postgres"), "greenhouse_migrations_test")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")

    migrate.upgrade(url=url)
    assert set(CONTRACT_TABLES) <= _tables(url)
    assert "timeseries.measurements" in _hypertables(url)

    migrate.downgrade(url=url)
    assert not set(CONTRACT_TABLES) & _tables(url)

    migrate.upgrade(url=url)
    migrate.upgrade(url=url)  # idempotent: already at head
    assert set(CONTRACT_TABLES) <= _tables(url)
    assert {"timeseries.measurements", "features.extracted_features"} <= _hypertables(url)


def test_analyst_reads_contract_tables_and_cannot_write():
    with psycopg.connect(libpq_url(settings.role_url("analyst"))) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("greenhouse_analyst",)
        for schema, table in CONTRACT_TABLES:
            conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        conn.execute("SET default_transaction_read_only = off")
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO metadata.lineage (from_kind, from_ref, to_kind, to_ref) VALUES ('a','b','c','d')")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE timeseries.analyst_scratch (x int)")


def test_analyst_sessions_are_bounded():
    """A runaway query or a forgotten open transaction of an analyst cannot hold the database for long."""
    with psycopg.connect(libpq_url(settings.role_url("analyst"))) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5min",)
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("5min",)
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user").fetchone() == (10,)
        conn.execute("SET statement_timeout = '100ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")


def test_the_pipeline_connects_as_its_own_role_without_superuser_or_role_rights(database_url):
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT current_user, session_user").fetchone() == ("greenhouse_pipeline",) * 2
        assert conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False, False, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE pipeline_made_this LOGIN")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER ROLE greenhouse_analyst CONNECTION LIMIT -1")


def test_the_pipeline_only_appends_to_the_audit_log(database_url):
    with psycopg.connect(libpq_url(database_url)) as conn:
        audit_id = conn.execute(
            "INSERT INTO metadata.audit_log (actor, asset, operation) VALUES ('test', 'a', 'load') RETURNING audit_id"
        ).fetchone()[0]
        conn.commit()
        for statement in (
            "UPDATE metadata.audit_log SET actor = 'someone else'",
            "DELETE FROM metadata.audit_log",
            "TRUNCATE metadata.audit_log",
            "DELETE FROM metadata.lineage",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
        assert conn.execute("SELECT actor FROM metadata.audit_log WHERE audit_id = %s", (audit_id,)).fetchone() == (
            "test",
        )


def test_the_pipeline_cannot_drop_or_create_outside_the_schemas_it_owns(database_url):
    with psycopg.connect(libpq_url(database_url)) as conn:
        for statement in (
            "DROP TABLE metadata.files CASCADE",
            "DROP TABLE metadata.audit_log",
            "DROP TABLE features.extracted_features",
            "DROP TABLE moga.runs CASCADE",
            "ALTER TABLE metadata.files ADD COLUMN x int",
            "CREATE TABLE metadata.scratch (x int)",
            "CREATE TABLE features.scratch (x int)",
            "TRUNCATE moga.solutions",
            "DROP SCHEMA moga CASCADE",
            "CREATE SCHEMA pipeline_scratch",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
        # Its own schemas: what the loader and dbt do there (created, changed, dropped; rolled back here).
        conn.execute("CREATE TABLE staging.raw_scratch (x int)")
        conn.execute("ALTER TABLE staging.raw_scratch ADD COLUMN y text")
        conn.execute("CREATE VIEW timeseries.scratch AS SELECT 1 AS x")
        conn.execute("COMMENT ON TABLE timeseries.measurements IS 'dbt persists docs'")
        conn.rollback()


@pytest.mark.pure
def test_db_url_prints_each_role(monkeypatch, capsys):
    from greenhouse_assets.cli import main

    monkeypatch.setenv("DATABASE_URL", "postgresql://greenhouse_pipeline:pw@db.example.org:6543/platform")
    monkeypatch.setenv("GREENHOUSE_ANALYST_PASSWORD", "read")
    monkeypatch.delenv("GREENHOUSE_OWNER_URL", raising=False)
    monkeypatch.delenv("GREENHOUSE_OWNER_PASSWORD", raising=False)
    printed = {}
    for role in ("pipeline", "analyst", "owner"):
        assert main(["db", "url", "--role", role]) == 0
        printed[role] = capsys.readouterr().out.strip()
    assert printed == {
        "pipeline": "postgresql://greenhouse_pipeline:pw@db.example.org:6543/platform",
        "analyst": "postgresql://greenhouse_analyst:read@db.example.org:6543/platform",
        "owner": "postgresql://greenhouse_owner@db.example.org:6543/platform",
    }


def test_definitions_load_and_resolve():
    from greenhouse_assets.definitions import defs

    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {"raw/files", "staging/raw_aarslev", "staging/raw_knudjepsen"} <= keys
    assert defs.resolve_sensor_def("landing_sensor")
    assert defs.resolve_job_def("ingest_file")
    dg.Definitions.validate_loadable(defs)


def test_materialization_is_recorded_in_the_postgres_event_log(instance):
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert settings.PROJECT_ROOT.joinpath("dagster.yaml").is_file()

    @dg.asset(name="storage_probe")
    def storage_probe() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"probe": 1})

    result = dg.materialize([storage_probe], instance=instance)
    assert result.success
    with psycopg.connect(libpq_url(os.environ["DAGSTER_DATABASE_URL"])) as conn:
        count = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        ).fetchone()[0]
    assert count == 1


# Libraries only some runs use. Every process that loads the code location imports what
# `greenhouse_assets.definitions` imports, and under `dagster dev` that is every run (one per landed file).
HEAVY_LIBRARIES = ("sklearn", "matplotlib", "tsfresh", "pymoo", "great_expectations", "openlineage", "pandas")


def test_loading_the_code_location_imports_no_heavy_library():
    """Defining the graph imports none of scikit-learn, matplotlib, tsfresh, pymoo, Great Expectations,
    OpenLineage or pandas: the assets and checks that use them import them when they run."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\nimport greenhouse_assets.definitions\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY_LIBRARIES)!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_IS_DEV_CLI": "1"},
    )  # as under `dagster dev`
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_loading_the_code_location_under_dagster_dev_does_not_parse_dbt(tmp_path):
    """Under `dagster dev` every run process loads the code location; with a current manifest it must not
    start `dbt parse` (dagster-dbt's `prepare_if_dev` would, at every load)."""
    import subprocess
    import sys

    from greenhouse_assets.transform.project import dbt_project

    manifest = dbt_project().manifest_path  # current after this (parsed here if it was not)
    before = manifest.stat().st_mtime_ns
    subprocess.run(
        [sys.executable, "-c", "import greenhouse_assets.definitions"],
        check=True,
        env={**os.environ, "DAGSTER_IS_DEV_CLI": "1"},
    )
    assert manifest.stat().st_mtime_ns == before
