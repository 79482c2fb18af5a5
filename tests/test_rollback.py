"""Rollback as a user runs it: `greenhouse rollback PATH`, then what the automation does by itself.

Two versions of one Knudjepsen export go through ingestion, dbt and the day features as in
production; `greenhouse rollback` puts the path back to the first. The dbt models' automation
condition requests a run because of the rollback alone, the features sensor requests the affected
days, and after those runs the measurements and day features are exactly those of the first
version: the second version's observations and features are gone, the first's are back.
"""

from __future__ import annotations

import shutil

import dagster as dg
import psycopg
from helpers import make_knudjepsen_file

from greenhouse_assets import cli
from greenhouse_assets.database import libpq_url
from greenhouse_assets.definitions import defs
from greenhouse_assets.defs.automation.sensors import FEATURES, features_sensor
from greenhouse_assets.defs.features.assets import extracted_features
from greenhouse_assets.defs.resources import PostgresResource, resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.registry import SourceRegistry

PATH = "knudjepsen/NO3_LAMPEGRP_1.csv"
MEASUREMENTS = dg.AssetKey(["timeseries", "measurements"])
DAY_ROWS = 288  # five-minute rows


def warmer(source, dest, degrees: float = 1.0):
    """The export with its first column (air temperature) `degrees` higher: a corrected re-export."""
    lines = source.read_text(encoding="utf-8").split("\r\n")
    for i, line in enumerate(lines[3:], start=3):
        fields = line.split(";")
        if len(fields) > 1 and fields[1] not in ("", '""'):
            fields[1] = f"{float(fields[1].replace(',', '.')) + degrees:.2f}".replace(".", ",")
            lines[i] = ";".join(fields)
    dest.write_text("\r\n".join(lines), encoding="utf-8")
    return dest


def measurements(conn) -> list[tuple]:
    return conn.execute(
        "SELECT time, site, zone, variable, value, quality_flag, file_id FROM timeseries.measurements "
        "ORDER BY time, site, zone, variable"
    ).fetchall()


def features(conn) -> list[tuple]:
    return conn.execute(
        "SELECT window_start, window_kind, site, zone, variable, feature, value "
        "FROM features.extracted_features ORDER BY 1, 2, 3, 4, 5, 6"
    ).fetchall()


def test_rollback_restores_the_previous_version_downstream(clean_platform, instance, tmp_path, monkeypatch, capsys):
    url = clean_platform
    registry = SourceRegistry.load()
    landed = tmp_path / "landing" / PATH
    landed.parent.mkdir(parents=True)
    cursor: str | None = None

    def transform(only_measurements: bool = True) -> None:
        """dbt: everything the first time (seeds), then only the model under test and its tests."""
        assert dg.materialize(
            [timeseries_dbt],
            instance=instance,
            resources={**resources().resources, **transform_resources().resources},
            selection=[MEASUREMENTS] if only_measurements else None,
        ).success

    def recompute_features() -> list[tuple[str, str]]:
        """One features_sensor tick and the runs it requests, as the daemon would launch them."""
        nonlocal cursor
        tick = features_sensor(
            dg.build_sensor_context(instance=instance, cursor=cursor, resources={"postgres": PostgresResource(url=url)})
        )
        cursor = tick.cursor
        ranges = [
            (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in tick.run_requests
        ]
        for request in tick.run_requests:
            assert request.asset_selection == [FEATURES]
            assert dg.materialize(
                [extracted_features],
                instance=instance,
                tags=request.tags,
                resources={"postgres": PostgresResource(url=url)},
            ).success
        return ranges

    def land(version, *, first: bool = False) -> int:
        shutil.copyfile(version, landed)
        report = ingest_file(landed, instance, registry)
        assert report["status"] == "loaded", report
        transform(only_measurements=not first)
        assert recompute_features()
        return report["file_id"]

    first = land(make_knudjepsen_file(tmp_path / "v1.csv", 2 * DAY_ROWS), first=True)
    with psycopg.connect(libpq_url(url)) as conn:
        before, features_before = measurements(conn), features(conn)
    # The second version: the same two days 1 °C warmer, and a third day.
    second = land(warmer(make_knudjepsen_file(tmp_path / "v2-source.csv", 3 * DAY_ROWS), tmp_path / "v2.csv"))
    with psycopg.connect(libpq_url(url)) as conn:
        assert {r[6] for r in measurements(conn)} == {second}
        assert features(conn) != features_before and len(measurements(conn)) > len(before)

    # The dbt models' automation, as the daemon evaluates it: nothing to do until the rollback.
    timeseries = dg.AssetSelection.groups("timeseries")
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=timeseries)
    evaluation = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=timeseries, cursor=evaluation.cursor
    )
    assert evaluation.get_num_requested(MEASUREMENTS) == 0

    monkeypatch.setenv("USER", "grower-anna")
    assert cli.main(["rollback", PATH, "--reason", "warm-biased sensor"]) == 0
    assert f"version 2 of {PATH} deactivated" in capsys.readouterr().out

    evaluation = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=timeseries, cursor=evaluation.cursor
    )
    assert evaluation.get_num_requested(MEASUREMENTS) == 1, "the rollback alone must trigger the dbt models"
    transform()
    # Every day either version touched (with the 3 h anomaly margin, and the day before), recomputed: the
    # third day's features go with its data.
    assert recompute_features() == [("2015-09-05", "2015-09-10")]

    with psycopg.connect(libpq_url(url)) as conn:
        assert measurements(conn) == before
        assert features(conn) == features_before
        audit = conn.execute(
            "SELECT actor, operation, input_file_ids, details->>'reason', details->>'activated' "
            "FROM metadata.audit_log WHERE operation = 'rollback'"
        ).fetchall()
    assert audit == [("grower-anna", "rollback", sorted([first, second]), "warm-biased sensor", str(first))]

    capsys.readouterr()  # dbt's output so far
    assert cli.main(["files", "--path", PATH]) == 0
    listing = capsys.readouterr().out.splitlines()[1:]
    assert [(int(line.split()[0]), line.split()[2]) for line in listing] == [(first, "active"), (second, "inactive")]

    # Wrong targets are refused with what exists, and change nothing.
    assert cli.main(["rollback", PATH, "--to", "7"]) == 1
    assert "has no staged version 7; its versions: 1 (active), 2 (inactive)" in capsys.readouterr().err
    assert cli.main(["rollback", str(second)]) == 1
    assert f"nothing to roll back: file {second} (inactive)" in capsys.readouterr().err

    # And forward again, by version number.
    assert cli.main(["rollback", PATH, "--to", "2"]) == 0
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("SELECT file_id FROM metadata.files WHERE path = %s AND is_active", (PATH,)).fetchall() == [
            (second,)
        ]
