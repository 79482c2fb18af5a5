"""A new file and a rollback recompute only their days, and MOGA recomputes when a data day completes:
the features sensor and the MOGA chain's conditions, evaluated for real after real ingest + dbt runs."""

import json
from datetime import date

import dagster as dg
import psycopg
import pytest

from greenhouse_assets.database import libpq_url
from greenhouse_assets.definitions import defs
from greenhouse_assets.defs.automation.policies import COMPLETES_DAY_TAG
from greenhouse_assets.defs.automation.sensors import MOGA_TARGETS, completes_day, features_sensor
from greenhouse_assets.defs.features.assets import extracted_features
from greenhouse_assets.defs.resources import PostgresResource, resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry


def _tick(instance, url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"postgres": PostgresResource(url=url)}
    )
    return features_sensor(context)


def _ranges(result: dg.SensorResult) -> list[tuple[str, str]]:
    return [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in result.run_requests
    ]


def test_a_new_file_requests_only_the_days_it_covers(clean_platform, instance, real_data, tmp_path):
    registry = SourceRegistry.load()
    landing = tmp_path / "landing"

    def transform() -> None:
        build = dg.materialize(
            [timeseries_dbt], instance=instance, resources={**resources().resources, **transform_resources().resources}
        )
        assert build.success

    def land_and_transform(relative: str) -> int:
        dest = landing / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((real_data / relative).read_bytes())
        report = ingest_file(dest, instance, registry)
        assert report["status"] == "loaded"
        transform()
        return report["file_id"]

    def set_active(file_id: int, active: bool) -> None:
        with psycopg.connect(libpq_url(clean_platform)) as conn:
            conn.execute("SELECT metadata.set_file_active(%s, %s)", (file_id, active))
        transform()

    december = land_and_transform("aarslev/december2013/MortenSDUData.csv")
    first = _tick(instance, clean_platform, None)
    # December 2013 on the UTC+1 clock is 30 Nov 23:00 .. 31 Dec 22:00 UTC; partitions start on 1 Dec.
    assert _ranges(first) == [("2013-12-01", "2013-12-31")]
    assert not _tick(instance, clean_platform, first.cursor).run_requests, "nothing new, nothing requested"

    land_and_transform("aarslev/januar2014/MortenSDUData.csv")
    second = _tick(instance, clean_platform, first.cursor)
    # January is 31 Dec 23:00 .. 31 Jan 22:00 UTC, recomputed with the 3 h anomaly margin on each side
    # (31 Dec 20:00 .. 1 Feb 01:00): those days plus the day before, nothing of December before that.
    assert _ranges(second) == [("2013-12-30", "2014-02-01")]
    assert json.loads(second.cursor)["change_id"] > json.loads(first.cursor)["change_id"]

    # Rollback: December's rows leave measurements, so its days (with the margin) are recomputed. (A
    # reactivation is the same kind of change to measurements: a version the table did not reflect.)
    set_active(december, False)
    assert _ranges(_tick(instance, clean_platform, second.cursor)) == [("2013-12-01", "2014-01-01")]


def test_moga_runs_when_a_data_day_completes_not_for_the_day_in_progress(clean_platform, instance, real_data, tmp_path):
    """Three slices of one hourly export (UTC+1) land one after another: the first completes days, the
    second only adds hours to the day in progress, the third crosses midnight and completes that day."""
    registry = SourceRegistry.load()
    header, *rows = (real_data / "aarslev/december2013/MortenSDUData.csv").read_bytes().splitlines(keepends=True)
    moga_keys = MOGA_TARGETS.resolve(defs.resolve_asset_graph())
    cursor: str | None = None
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=MOGA_TARGETS)

    def land(name: str, first: int, last: int) -> str:
        """Rows first..last (hour k is 1 Dec 00:00 + k h, UTC+1) as a file; ingest, dbt, the features
        sensor's tick and its runs, as the daemon would launch them; the completes_day tag they carry."""
        nonlocal cursor
        dest = tmp_path / "landing" / "aarslev" / "december2013" / f"MortenSDUData_{name}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(header + b"".join(rows[first : last + 1]))
        assert ingest_file(dest, instance, registry)["status"] == "loaded"
        assert dg.materialize(
            [timeseries_dbt], instance=instance, resources={**resources().resources, **transform_resources().resources}
        ).success
        tick = _tick(instance, clean_platform, cursor)
        cursor = tick.cursor
        assert tick.run_requests, "every landing recomputes its days"
        for request in tick.run_requests:
            assert dg.materialize(
                [extracted_features],
                instance=instance,
                tags=request.tags,
                resources={"postgres": PostgresResource(url=clean_platform)},
            ).success
        (tag,) = {r.tags[COMPLETES_DAY_TAG] for r in tick.run_requests}
        return tag

    def moga_requested() -> set[dg.AssetKey]:
        nonlocal evaluation
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=MOGA_TARGETS, cursor=evaluation.cursor
        )
        return {key for key in moga_keys if evaluation.get_num_requested(key)}

    # 1 Dec 00:00 .. 3 Dec 11:00 local = 30 Nov 23:00 .. 3 Dec 10:00 UTC: 1 and 2 Dec are complete.
    assert land("a", 0, 59) == "true"
    assert moga_requested() == moga_keys, "feature importance, objective models and MOGA results, in one tick"
    assert not moga_requested(), "once per complete day, not again on the next evaluation"
    # 3 Dec 12:00 .. 20:00 local: more hours of 3 Dec (UTC), which is still in progress.
    assert land("b", 60, 68) == "false"
    assert not moga_requested(), "a file that completes no day leaves MOGA alone"
    # 3 Dec 21:00 .. 4 Dec 06:00 local = 3 Dec 20:00 .. 4 Dec 05:00 UTC: 3 Dec is complete.
    assert land("c", 69, 78) == "true"
    assert moga_requested() == moga_keys


@pytest.mark.pure
def test_the_day_rule_counts_new_complete_days_and_revisions_of_complete_days():
    before = {"aarslev/cell6": "2014-01-10", "knudjepsen/lampegrp1": "2014-01-20"}
    # A zone's newest complete day moved on; a zone seen for the first time.
    assert completes_day(before, {**before, "aarslev/cell6": "2014-01-11"}, date(2014, 1, 11))
    assert completes_day({}, {"aarslev/cell6": "2014-01-10"}, date(2014, 1, 1))
    # Readings added to the day in progress only.
    assert not completes_day(before, before, date(2014, 1, 21))
    # A change whose own span starts on a complete day (a late file, a new version, a rollback).
    assert completes_day(before, before, date(2014, 1, 20))
    assert completes_day(before, before, date(2013, 12, 5))
