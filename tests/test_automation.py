"""A new file recomputes only its days: the features sensor, evaluated for real after real ingest + dbt runs."""

import json

import dagster as dg

from greenhouse_assets.defs.automation.sensors import features_sensor
from greenhouse_assets.defs.resources import PostgresResource
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.ingest.command import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry


def _tick(instance, url: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"postgres": PostgresResource(url=url)})
    return features_sensor(context)


def _ranges(result: dg.SensorResult) -> list[tuple[str, str]]:
    return [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in result.run_requests]


def test_a_new_file_requests_only_the_days_it_covers(clean_platform, instance, real_data, tmp_path):
    registry = SourceRegistry.load()
    landing = tmp_path / "landing"

    def land_and_transform(relative: str) -> None:
        dest = landing / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((real_data / relative).read_bytes())
        assert ingest_file(dest, instance, registry)["status"] == "loaded"
        build = dg.materialize([timeseries_dbt], instance=instance, resources=transform_resources().resources)
        assert build.success

    land_and_transform("aarslev/december2013/MortenSDUData.csv")
    first = _tick(instance, clean_platform, None)
    # December 2013 on the UTC+1 clock is 30 Nov 23:00 .. 31 Dec 22:00 UTC; partitions start on 1 Dec.
    assert _ranges(first) == [("2013-12-01", "2013-12-31")]
    assert not _tick(instance, clean_platform, first.cursor).run_requests, "nothing new, nothing requested"

    land_and_transform("aarslev/januar2014/MortenSDUData.csv")
    second = _tick(instance, clean_platform, first.cursor)
    # January starts 31 Dec 23:00 UTC: its days plus the day before, nothing of December before that.
    assert _ranges(second) == [("2013-12-30", "2014-01-31")]
    assert json.loads(second.cursor)["file_id"] > json.loads(first.cursor)["file_id"]
