"""A new file and a rollback recompute only their days: the features sensor, evaluated for
real after real ingest + dbt runs."""

import json

import dagster as dg
import psycopg

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.automation.sensors import features_sensor
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
