"""Audit rows commit with the data they record, in every layer, or neither commits.

A trigger (made by the administrator; the pipeline role may not) makes the audit insert of one asset
fail. The write it records must then be gone too: raw registration, staging rows, the dbt model, the
feature day, the MOGA models. Each test then drops the trigger and runs the same write again, to show
the data and its audit row do appear when the audit insert works.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import dagster as dg
import psycopg
from test_features import D1, diurnal_day, insert

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.features.assets import extracted_features
from greenhouse_assets.defs.moga.models import moga_objective_models
from greenhouse_assets.defs.resources import PostgresResource, resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry

CSV = "timestamp;air_temperature\r\n" + "".join(f"2014-01-01 00:{m:02d}:00;{20 + m / 10}\r\n" for m in range(0, 60, 10))


@contextmanager
def failing_audit(admin_url: str, asset: str):
    """While inside: inserting an audit row for `asset` raises, as a full disk or a revoked grant would."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute("""CREATE OR REPLACE FUNCTION metadata.test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                            IF NEW.asset = TG_ARGV[0] THEN RAISE EXCEPTION 'audit insert refused for %', NEW.asset; END IF;
                            RETURN NEW;
                        END $$""")
        conn.execute(
            f"CREATE TRIGGER test_fail_audit BEFORE INSERT ON metadata.audit_log FOR EACH ROW "
            f"EXECUTE FUNCTION metadata.test_fail_audit('{asset}')"
        )
    try:
        yield
    finally:
        with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
            conn.execute("DROP TRIGGER test_fail_audit ON metadata.audit_log")
            conn.execute("DROP FUNCTION metadata.test_fail_audit()")


def count(url: str, query: str, *params) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(query, params).fetchone()[0]


def audited(url: str, asset: str) -> int:
    return count(url, "SELECT count(*) FROM metadata.audit_log WHERE asset = %s", asset)


def _land(tmp_path, name: str = "readings_2014.csv"):
    landed = tmp_path / "landing" / name
    landed.write_text(CSV, encoding="utf-8")
    return landed


def test_raw_registration_and_its_audit_row_commit_together(clean_platform, admin_url, instance, tmp_path):
    landed = _land(tmp_path)
    with failing_audit(admin_url, "raw/files"):
        assert ingest_file(landed, instance, SourceRegistry.load())["status"] == "failed"
    assert count(clean_platform, "SELECT count(*) FROM metadata.files") == 0
    assert count(clean_platform, "SELECT count(*) FROM metadata.audit_log") == 0
    assert count(clean_platform, "SELECT count(*) FROM metadata.lineage") == 0
    assert count(clean_platform, "SELECT to_regclass('staging.raw_generic') IS NULL")  # the load rolled back

    assert ingest_file(landed, instance, SourceRegistry.load())["status"] == "loaded"
    assert count(clean_platform, "SELECT count(*) FROM metadata.files WHERE status = 'loaded'") == 1
    assert audited(clean_platform, "raw/files") == 1 and audited(clean_platform, "staging/raw_generic") == 1


def test_staged_rows_and_their_audit_row_commit_together(clean_platform, admin_url, instance, tmp_path):
    landed = _land(tmp_path)
    with failing_audit(admin_url, "staging/raw_generic"):
        assert ingest_file(landed, instance, SourceRegistry.load())["status"] == "failed"
    # The version was registered (raw committed with its own audit row) but never staged.
    assert count(clean_platform, "SELECT count(*) FROM metadata.files WHERE status = 'received'") == 1
    assert audited(clean_platform, "raw/files") >= 1 and audited(clean_platform, "staging/raw_generic") == 0
    assert count(clean_platform, "SELECT to_regclass('staging.raw_generic') IS NULL")
    assert count(clean_platform, "SELECT count(*) FROM metadata.lineage WHERE to_ref = 'staging.raw_generic'") == 0

    assert ingest_file(landed, instance, SourceRegistry.load())["status"] == "loaded"
    assert count(clean_platform, "SELECT count(*) FROM staging.raw_generic") == 6
    assert audited(clean_platform, "staging/raw_generic") == 1


def _dbt(instance):
    return dg.materialize(
        [timeseries_dbt],
        instance=instance,
        resources={**resources().resources, **transform_resources().resources},
        raise_on_error=False,
    )


def test_a_dbt_model_and_its_audit_row_commit_together(clean_platform, admin_url, instance, tmp_path):
    assert ingest_file(_land(tmp_path), instance, SourceRegistry.load())["status"] == "loaded"
    with failing_audit(admin_url, "timeseries/measurements"):
        assert not _dbt(instance).success
    assert count(clean_platform, "SELECT count(*) FROM timeseries.measurements") == 0
    # The model's bookkeeping rolled back with it (created in the same transaction on a first build).
    assert (
        count(clean_platform, "SELECT to_regclass('timeseries.measurement_file_state') IS NULL")
        or count(clean_platform, "SELECT count(*) FROM timeseries.measurement_file_state") == 0
    )
    assert audited(clean_platform, "timeseries/measurements") == 0
    assert count(clean_platform, "SELECT count(*) FROM metadata.lineage WHERE to_ref = 'timeseries.measurements'") == 0
    # Other models committed with their own audit rows (a view audits its (re)creation).
    assert audited(clean_platform, "timeseries/column_mappings") >= 1

    result = _dbt(instance)
    assert result.success
    assert count(clean_platform, "SELECT count(*) FROM timeseries.measurements") == 6
    ((actor, run_id, rows, file_ids),) = (
        psycopg.connect(libpq_url(clean_platform))
        .execute(
            "SELECT actor, run_id, rows_affected, input_file_ids FROM metadata.audit_log "
            "WHERE asset = 'timeseries/measurements'"
        )
        .fetchall()
    )
    assert actor and run_id == result.run_id and rows == 6 and len(file_ids) == 1


def _features(instance, url: str, partition: str):
    return dg.materialize(
        [extracted_features],
        instance=instance,
        partition_key=partition,
        resources={"postgres": PostgresResource(url=url)},
        raise_on_error=False,
    )


def test_a_feature_day_and_its_audit_row_commit_together(clean_platform, admin_url, instance):
    insert(clean_platform, diurnal_day(D1))
    with failing_audit(admin_url, "features/extracted_features"):
        assert not _features(instance, clean_platform, "2014-03-01").success
    assert count(clean_platform, "SELECT count(*) FROM features.windows") == 0
    assert count(clean_platform, "SELECT count(*) FROM features.extracted_features") == 0
    assert audited(clean_platform, "features/extracted_features") == 0

    assert _features(instance, clean_platform, "2014-03-01").success
    assert count(clean_platform, "SELECT count(*) FROM features.extracted_features") > 0
    assert audited(clean_platform, "features/extracted_features") == 1


def test_moga_models_and_their_audit_row_commit_together(clean_platform, admin_url, instance):
    insert(clean_platform, diurnal_day(D1) + diurnal_day(D1 + timedelta(days=1)))
    for day in ("2014-03-01", "2014-03-02"):
        assert _features(instance, clean_platform, day).success
    resources = {"postgres": PostgresResource(url=clean_platform)}
    with failing_audit(admin_url, "moga_objective_models"):
        assert not dg.materialize(
            [moga_objective_models], instance=instance, resources=resources, raise_on_error=False
        ).success
    assert count(clean_platform, "SELECT count(*) FROM moga.objective_models") == 0
    assert audited(clean_platform, "moga_objective_models") == 0

    assert dg.materialize([moga_objective_models], instance=instance, resources=resources).success
    assert count(clean_platform, "SELECT count(*) FROM moga.objective_models") > 0
    assert audited(clean_platform, "moga_objective_models") == 1
