"""Spot prices (Energi Data Service `Elspotprices` files) and weather-forecast errors, through the
same ingestion as every source and the dbt models `electricity_prices`, `site_electricity_prices`
and `forecast_errors`, with exact values."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from greenhouse_assets.database import At, libpq_url
from greenhouse_assets.defs.resources import resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.in_process import ingest_file
from greenhouse_assets.ingest.lake_store import LakeStore
from greenhouse_assets.ingest.pipeline import receive_file
from greenhouse_assets.ingest.readers import open_file
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_dev.sample import generate_sample
from greenhouse_dev.sample.prices import NOTE

REGISTRY = SourceRegistry.load()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def land(landing: Path, name: str, text: str) -> Path:
    path = landing / name
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    return path


def ingest(url: str, path: Path, landing: Path, lake: Path):
    """The sensor's run for one file: raw + staging in one call."""
    return receive_file(
        path, landing_root=landing, database=At(url), registry=REGISTRY, stage_as="test", store=LakeStore(lake)
    )


def build() -> None:
    result = dg.materialize(
        [timeseries_dbt],
        instance=dg.DagsterInstance.ephemeral(),
        resources={**resources().resources, **transform_resources().resources},
    )
    assert result.success
    failed = [
        e.check_name
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []


# The site's CSV: `;` and decimal comma, newest hour first; the autumn DST day, whose HourDK 02:00 repeats.
SEMICOLON_COMMA = """HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR
2014-10-26 02:00;2014-10-26 03:00;DK1;190,01;25,47
2014-10-26 01:00;2014-10-26 02:00;DK1;200,5;26,87
2014-10-26 00:00;2014-10-26 02:00;DK1;210,25;28,18
2014-10-25 23:00;2014-10-26 01:00;DK1;220,75;29,58
"""
# `,` and decimal point, two areas; 2014-10-26 00:00 DK1 overlaps the file above (this one is newer).
COMMA_POINT = """HourUTC,HourDK,PriceArea,SpotPriceDKK,SpotPriceEUR
2014-10-26 00:00,2014-10-26 02:00,DK1,211.5,28.35
2014-10-26 00:00,2014-10-26 02:00,DK2,250.125,33.52
"""
JSON = """{"total": 2, "dataset": "Elspotprices", "records": [
 {"HourUTC": "2014-01-01T01:00:00", "HourDK": "2014-01-01T02:00:00", "PriceArea": "DK1", "SpotPriceDKK": 120, "SpotPriceEUR": 16.09},
 {"HourUTC": "2014-01-01T00:00:00", "HourDK": "2014-01-01T01:00:00", "PriceArea": "DK1", "SpotPriceDKK": 123.4, "SpotPriceEUR": 16.54}
]}"""


def prices(conn) -> list[tuple]:
    return conn.execute(
        "SELECT hour_utc, price_area, price_dkk_per_mwh, price_eur_per_mwh, file_id"
        " FROM timeseries.electricity_prices ORDER BY 1, 2"
    ).fetchall()


def test_elspot_files_load_to_staging_and_electricity_prices(clean_platform, tmp_path):
    url, landing, lake = clean_platform, tmp_path / "landing", tmp_path / "lake"
    build()  # before any price file: the model exists and is empty
    with psycopg.connect(libpq_url(url)) as conn:
        assert prices(conn) == []

    semi = ingest(url, land(landing, "Elspotprices_semicolon.csv", SEMICOLON_COMMA), landing, lake)
    comma = ingest(url, land(landing, "Elspotprices_comma.csv", COMMA_POINT), landing, lake)
    records = ingest(url, land(landing, "Elspotprices_2014.json", JSON), landing, lake)
    assert [o.status for o in (semi, comma, records)] == ["loaded"] * 3, [o.error for o in (semi, comma, records)]
    assert {o.source for o in (semi, comma, records)} == {"elspot"}
    assert semi.detection["decimal"] == "," and semi.detection["delimiter"] == ";"
    assert comma.detection["decimal"] == "." and comma.detection["delimiter"] == ","
    assert records.detection["kind"] == "records_json"

    with psycopg.connect(libpq_url(url)) as conn:
        staged = conn.execute(
            """SELECT _file_id, _row_number, time, "HourDK", "PriceArea", "SpotPriceDKK", "SpotPriceEUR"
               FROM staging.raw_elspot ORDER BY _file_id, _row_number"""
        ).fetchall()
        assert staged == [
            (semi.file_id, 2, utc("2014-10-26 02:00"), "2014-10-26 03:00", "DK1", 190.01, 25.47),
            (semi.file_id, 3, utc("2014-10-26 01:00"), "2014-10-26 02:00", "DK1", 200.5, 26.87),
            (semi.file_id, 4, utc("2014-10-26 00:00"), "2014-10-26 02:00", "DK1", 210.25, 28.18),
            (semi.file_id, 5, utc("2014-10-25 23:00"), "2014-10-26 01:00", "DK1", 220.75, 29.58),
            (comma.file_id, 2, utc("2014-10-26 00:00"), "2014-10-26 02:00", "DK1", 211.5, 28.35),
            (comma.file_id, 3, utc("2014-10-26 00:00"), "2014-10-26 02:00", "DK2", 250.125, 33.52),
            (records.file_id, 1, utc("2014-01-01 01:00"), "2014-01-01T02:00:00", "DK1", 120.0, 16.09),
            (records.file_id, 2, utc("2014-01-01 00:00"), "2014-01-01T01:00:00", "DK1", 123.4, 16.54),
        ]
        # Prices map to no variable: they never reach timeseries.measurements.
        assert (
            conn.execute("""SELECT count(*) FROM metadata.file_columns fc JOIN metadata.files f USING (file_id)
                               WHERE f.source = 'elspot' AND fc.variable IS NOT NULL""").fetchone()[0]
            == 0
        )
        types = dict(
            conn.execute("""SELECT column_name, data_type FROM information_schema.columns
                                     WHERE table_schema = 'staging' AND table_name = 'raw_elspot'""").fetchall()
        )
        assert types["SpotPriceDKK"] == types["SpotPriceEUR"] == "double precision"
        assert types["HourDK"] == "text"

    build()
    with psycopg.connect(libpq_url(url)) as conn:
        expected = [
            (utc("2014-01-01 00:00"), "DK1", 123.4, 16.54, records.file_id),
            (utc("2014-01-01 01:00"), "DK1", 120.0, 16.09, records.file_id),
            (utc("2014-10-25 23:00"), "DK1", 220.75, 29.58, semi.file_id),
            # HourDK 02:00 twice (summer, then standard time): two hours, not a collision.
            (utc("2014-10-26 00:00"), "DK1", 211.5, 28.35, comma.file_id),  # the newer version wins
            (utc("2014-10-26 00:00"), "DK2", 250.125, 33.52, comma.file_id),
            (utc("2014-10-26 01:00"), "DK1", 200.5, 26.87, semi.file_id),
            (utc("2014-10-26 02:00"), "DK1", 190.01, 25.47, semi.file_id),
        ]
        assert prices(conn) == expected
        assert conn.execute("SELECT count(*) FROM timeseries.measurements").fetchone()[0] == 0
        assert (
            conn.execute("""SELECT count(*) FROM timescaledb_information.hypertables
                               WHERE hypertable_schema = 'timeseries' AND hypertable_name = 'electricity_prices'""").fetchone()[
                0
            ]
            == 1
        )
        # Each site pays its configured area's price (DK1 for both by default).
        site_prices = conn.execute("""SELECT site, hour_utc, price_dkk_per_mwh FROM timeseries.site_electricity_prices
                                      WHERE hour_utc = '2014-10-26 00:00+00' ORDER BY site""").fetchall()
        assert site_prices == [
            ("aarslev", utc("2014-10-26 00:00"), 211.5),
            ("knudjepsen", utc("2014-10-26 00:00"), 211.5),
        ]

        # Rollback of the newer version: the older file's price for the shared hour comes back.
        conn.execute("SELECT metadata.set_file_active(%s, false)", (comma.file_id,))
        conn.commit()
    build()
    with psycopg.connect(libpq_url(url)) as conn:
        rows = prices(conn)
        assert (utc("2014-10-26 00:00"), "DK1", 210.25, 28.18, semi.file_id) in rows
        assert not [r for r in rows if r[4] == comma.file_id]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "Elspotprices_no_hour.csv",
            "HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR\n2014-01-01 01:00;DK1;123,4;16,54\n",
            "Elspotprices_no_hour.csv: timestamp column named by the registry is missing: expected column 'HourUTC', "
            "found ['HourDK', 'PriceArea', 'SpotPriceDKK', 'SpotPriceEUR']",
        ),
        (
            "Elspotprices_text.csv",
            "HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR\n2014-01-01 00:00;2014-01-01 01:00;DK1;123,4;16,54\n"
            "2014-01-01 01:00;2014-01-01 02:00;DK1;n/a;16,09\n",
            "Elspotprices_text.csv, row 3, column 'SpotPriceDKK': expected a number with decimal comma or point, "
            "found 'n/a'",
        ),
        (
            "Elspotprices_text.json",
            '{"records": [{"HourUTC": "2014-01-01T00:00:00", "PriceArea": "DK1", "SpotPriceDKK": 123.4, '
            '"SpotPriceEUR": "sixteen"}]}',
            "Elspotprices_text.json, row 1, column 'SpotPriceEUR': expected a number with decimal point, found 'sixteen'",
        ),
    ],
)
def test_bad_elspot_files_are_quarantined_with_a_specific_error(clean_platform, tmp_path, name, text, message):
    url, landing, lake = clean_platform, tmp_path / "landing", tmp_path / "lake"
    outcome = ingest(url, land(landing, name, text), landing, lake)
    assert outcome.status == "quarantined" and outcome.source == "elspot"
    assert str(outcome.error) == message
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute(
            "SELECT status, error FROM metadata.files WHERE file_id = %s", (outcome.file_id,)
        ).fetchone() == ("quarantined", message)
        assert conn.execute("SELECT to_regclass('staging.raw_elspot')").fetchone()[0] is None


def test_sample_price_file_is_labelled_synthetic_and_loads(clean_platform, tmp_path, instance):
    """Through the sensor's own job (`greenhouse ingest`, as `make run`), with the staging checks: the
    newest-first export passes `timestamps_monotonic`."""
    url, landing = clean_platform, tmp_path / "landing"
    written = generate_sample(landing / "sample", days=2, start="2014-10-25")
    path = landing / "sample" / "prices" / "Elspotprices_SYNTHETIC_2014-10-25_2014-10-27.csv"
    assert path in written
    assert all(open_file(p, REGISTRY).source.name != "elspot" for p in written if p != path)
    report = ingest_file(path, instance, REGISTRY)
    assert report["status"] == "loaded" and report["source"] == "elspot", report
    assert (
        report["rows"] == (24 + 25 + 24) * 2
    )  # two local days (the second with 25 hours) and the day-ahead, two areas
    checks = {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.passed
        for e in instance.all_logs(report["run_id"])
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks == {"timestamps_usable": True, "timestamps_monotonic": True, "completeness": True}
    build()
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("""SELECT count(*), count(DISTINCT hour_utc), min(hour_utc), max(hour_utc)
                               FROM timeseries.electricity_prices""").fetchone() == (
            146,
            73,
            utc("2014-10-24 22:00"),
            utc("2014-10-27 22:00"),
        )
        assert conn.execute("""SELECT DISTINCT "Note" FROM staging.raw_elspot""").fetchall() == [(NOTE,)]


# Aarslev weather export (zone `outdoor`): forecast beside measurement, hourly epoch-ms, UTC.
# 2014-01-01 22:00 .. 2014-01-02 01:00 UTC; one hour has no measured temperature.
WEATHER = """timestamp;temperature_forecast;sun_radiation_forecast;sun_radiation;temperature
1388613600000;2.0;0.0;0.0;1.5
1388617200000;1.0;0.0;0.0;2.0
1388620800000;0.5;10.0;4.0;
1388624400000;-1.0;20.0;30.0;-0.5"""


def test_forecast_errors_exact(clean_platform, tmp_path):
    url, landing, lake = clean_platform, tmp_path / "landing", tmp_path / "lake"
    outcome = ingest(url, land(landing, "data_jan_2014.csv", WEATHER), landing, lake)
    assert outcome.status == "loaded" and outcome.source == "aarslev", outcome.error
    build()
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute("""SELECT site, zone, variable, forecast_variable, day_utc::text, mean_error,
                                      mean_absolute_error, n_hours
                               FROM timeseries.forecast_errors ORDER BY variable, day_utc""").fetchall()
    approx = pytest.approx
    # 2014-01-01: temperature errors +0.5 and -1.0; 2014-01-02: 00:00 has no measurement, 01:00 error -0.5.
    # Radiation: 0 and 0 on the 1st; +6 and -10 on the 2nd.
    assert rows == [
        (
            "aarslev",
            "outdoor",
            "outdoor_temperature",
            "outdoor_temperature_forecast",
            "2014-01-01",
            approx(-0.25),
            approx(0.75),
            2,
        ),
        (
            "aarslev",
            "outdoor",
            "outdoor_temperature",
            "outdoor_temperature_forecast",
            "2014-01-02",
            approx(-0.5),
            approx(0.5),
            1,
        ),
        ("aarslev", "outdoor", "radiation", "radiation_forecast", "2014-01-01", approx(0.0), approx(0.0), 2),
        ("aarslev", "outdoor", "radiation", "radiation_forecast", "2014-01-02", approx(-2.0), approx(8.0), 2),
    ]


@pytest.mark.pure
def test_price_and_forecast_models_are_timeseries_assets_under_the_automation():
    from greenhouse_assets.definitions import defs

    graph = defs.get_repository_def().asset_graph
    key = dg.AssetKey

    def node(*path: str):
        return graph.get(key(list(path)))

    prices_node = node("timeseries", "electricity_prices")
    assert key(["staging", "raw_elspot"]) in prices_node.parent_keys
    assert key(["raw", "files"]) in prices_node.parent_keys
    assert key(["timeseries", "measurements"]) in node("timeseries", "forecast_errors").parent_keys
    assert {key(["timeseries", "electricity_prices"]), key(["timeseries", "site_price_areas"])} <= set(
        node("timeseries", "site_electricity_prices").parent_keys
    )
    for name in ("electricity_prices", "site_electricity_prices", "forecast_errors"):
        assert node("timeseries", name).group_name == "timeseries"
        assert node("timeseries", name).automation_condition.get_label() == "on_new_data"
    checks = {c.name for c in graph.get_check_keys_for_assets({key(["timeseries", "electricity_prices"])})}
    assert "unique_combination_electricity_prices_hour_utc__price_area" in checks


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"records": {"HourUTC": "2014-01-01T00:00:00"}}',
            'Elspotprices_shape.json: wrong JSON shape: expected an object {"records": [{"column": value, ...}, ...]}, '
            "found 'dict'",
        ),
        ('{"records": []}', 'Elspotprices_shape.json: no data rows: "records" is empty'),
        (
            '{"records": [{"HourUTC": "2014-01-01T00:00:00", "SpotPriceDKK": [1, 2]}]}',
            "Elspotprices_shape.json, row 1, column 'SpotPriceDKK': expected a number, text or null, found '[1, 2]'",
        ),
    ],
)
@pytest.mark.pure
def test_record_json_of_the_wrong_shape_is_an_error_naming_where(tmp_path, text, message):
    from greenhouse_assets.ingest.errors import IngestError

    path = tmp_path / "Elspotprices_shape.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IngestError) as raised:
        open_file(path, REGISTRY)
    assert str(raised.value) == message
