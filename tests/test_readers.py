"""The parsing layer against every real file in the shared data folder.

Expected counts are computed independently of the reader (plain line counting and the json
module), so a reader bug cannot make its own expectation.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from greenhouse_assets.ingest.readers import ParsedFile, open_file
from greenhouse_assets.ingest.registry import SourceRegistry

SHARED = Path(os.environ.get("GREENHOUSE_SHARED_DIR",
                             Path(__file__).resolve().parents[1].parent / "shared"))
REAL = SHARED / "data" / "real"
REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file())
CELL = REAL / "aarslev" / "celle5"
KNUDJEPSEN = REAL / "knudjepsen" / "NO3_LAMPEGRP_1.csv"

# relative path pattern -> (source, rule, zones of the mapped columns, header rows)
EXPECTED = {
    "celle5/output-*.csv": ("aarslev", "cell_csv", {"celle5"}, 1),
    "celle5/output-*.csv.json": ("aarslev", "cell_smap", {"celle5"}, None),
    "*/MortenSDUData*.csv": ("aarslev", "morten_sdu", {"celle6"}, 1),
    "aarslev/data_jan_feb_2014.csv": ("aarslev", "weather", {"outdoor"}, 1),
    "knudjepsen/NO3_*.csv": ("knudjepsen", "lamp_group_export", {"NO3"}, 3),
}

pytestmark = pytest.mark.skipif(not REAL_FILES, reason=f"no real data under {REAL}")


@pytest.fixture(scope="module")
def registry() -> SourceRegistry:
    return SourceRegistry.load()


@pytest.fixture(scope="module")
def loaded(registry: SourceRegistry) -> dict[Path, tuple[ParsedFile, pl.DataFrame]]:
    """Each real file parsed once, in small batches so batch boundaries are exercised."""
    result = {}
    for path in REAL_FILES:
        parsed = open_file(path, registry)
        result[path] = (parsed, pl.concat(parsed.batches(rows=1000)))
    return result


def _expected(path: Path) -> tuple:
    matches = [v for pattern, v in EXPECTED.items() if path.match(pattern)]
    assert len(matches) == 1, f"{path} matches {len(matches)} expectations"
    return matches[0]


def _data_line_numbers(path: Path, header_rows: int) -> list[int]:
    """Line numbers of non-blank lines after the header, counted with plain Python."""
    text = path.read_bytes().decode("utf-8")
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [i + 1 for i, line in enumerate(lines) if i >= header_rows and line.strip()]


def _smap_times(path: Path) -> list[int]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return sorted({t for stream in document.values() for t, _ in stream["Readings"]})


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: str(p.relative_to(REAL)))
def test_every_real_file_parses_with_source_zone_and_row_count(loaded, path: Path) -> None:
    parsed, frame = loaded[path]
    source, rule, zones, header_rows = _expected(path)
    assert (parsed.source.name, parsed.rule.name) == (source, rule)
    assert parsed.source.site == source
    assert {c.zone for c in parsed.columns if c.variable} == zones
    assert list(frame.columns) == list(parsed.schema)
    assert dict(frame.schema) == parsed.schema
    assert frame.schema["time"] == pl.Datetime("us", "UTC")
    assert frame["time"].null_count() == 0
    json.dumps(parsed.detection)  # the detection record must be storable as JSON
    staged = [c.staged_name for c in parsed.columns]
    assert len(set(staged)) == len(staged) and all(staged)
    if header_rows is None:
        assert frame.height == len(_smap_times(path))
        assert frame["_row_number"].to_list() == list(range(1, frame.height + 1))
    else:
        assert parsed.detection["header_rows"] == header_rows
        assert frame["_row_number"].to_list() == _data_line_numbers(path, header_rows)


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: str(p.relative_to(REAL)))
def test_every_mapped_column_has_variable_and_canonical_unit(registry, loaded, path) -> None:
    parsed, _ = loaded[path]
    mapped = [c for c in parsed.columns if c.variable]
    assert mapped, "a real file with no mapped column"
    for column in mapped:
        assert column.canonical_unit == registry.vocabulary[column.variable]
        assert column.conversion in registry.conversions
        assert column.site == parsed.source.site
    assert len({(c.zone, c.variable) for c in mapped}) == len(mapped)


def test_cell_csv_dst_spring_forward_maps_to_utc_without_invented_hour(loaded) -> None:
    _, frame = loaded[CELL / "output-2014-03-01-00-00.csv"]
    times = frame["time"]
    assert times.diff().drop_nulls().unique().to_list() == [timedelta(minutes=10)]
    by_line = dict(zip(frame["_row_number"], times, strict=True))
    # lines 4189/4190 are "2014-03-30;01:50:00" and "2014-03-30;03:00:00" (local)
    assert by_line[4189] == datetime(2014, 3, 30, 0, 50, tzinfo=UTC)
    assert by_line[4190] == datetime(2014, 3, 30, 1, 0, tzinfo=UTC)
    assert frame.height == 31 * 144 - 6  # the skipped local hour has no row


@pytest.mark.parametrize("month", ["2013-12", "2014-01", "2014-02"])
def test_cell_csv_winter_months_are_continuous_utc_plus_one(loaded, month: str) -> None:
    _, frame = loaded[CELL / f"output-{month}-01-00-00.csv"]
    year, mon = map(int, month.split("-"))
    assert frame["time"][0] == datetime(year, mon, 1, tzinfo=UTC) - timedelta(hours=1)
    assert frame["time"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=10)]


def test_cell_csv_exponents_and_sentinel_load_as_values(loaded) -> None:
    _, frame = loaded[CELL / "output-2014-03-01-00-00.csv"]
    rows = {r["_row_number"]: r for r in frame.to_dicts()}
    assert rows[4178]["Celle 5: Solindstråling"] == pytest.approx(7.34011e-08)
    # line 705: logger reset row with the -2.14748e+008 sentinel in two columns
    assert rows[705]["Celle 5: Lys intensitet"] == -2.14748e8
    assert rows[705]["Celle 5: Udetemperatur"] == -2.14748e8
    assert rows[704]["Celle 5: Lufttemperatur"] == 0.0  # all-"0" rows are data too


def test_cell_csv_keeps_both_unnamed_celle5_columns(loaded) -> None:
    parsed, frame = loaded[CELL / "output-2014-03-01-00-00.csv"]
    blank = [c for c in parsed.columns if c.original_name == "Celle 5: "]
    assert [c.staged_name for c in blank] == ["Celle 5: ", "Celle 5:  #2"]
    assert all(c.variable is None and c.zone == "celle5" for c in blank)
    assert frame["Celle 5: "].dtype == frame["Celle 5:  #2"].dtype == pl.Float64
    assert not frame["Celle 5: "].equals(frame["Celle 5:  #2"])


def test_knudjepsen_decimal_comma_header_rows_and_fixed_offset(loaded) -> None:
    parsed, frame = loaded[KNUDJEPSEN]
    assert parsed.detection["decimal"] == ","
    first = frame.row(0, named=True)
    assert first["_row_number"] == 4
    assert first["time"] == datetime(2015, 9, 6, 23, 0, tzinfo=UTC)  # 07-09-2015 00:00 UTC+1
    assert (first["mål temp afd  Mid"], first["udetemp"], first["mål FD"]) == (20.3, 8.42, 3.12)
    units = {c.original_name: c.unit for c in parsed.columns}
    assert units["stråling"] == "W/m²" and units["målt status"] is None
    assert frame["time"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=5)]


def test_knudjepsen_trailing_empty_rows_are_kept_as_null_rows(loaded) -> None:
    """Rows with a timestamp and only "" values are data rows as received (all null)."""
    _, frame = loaded[KNUDJEPSEN]
    assert frame.height == 105_697 and frame["_row_number"][-1] == 105_700
    data = frame.drop("_row_number", "time")
    all_null = data.select(pl.all_horizontal(pl.all().is_null())).to_series()
    trailing = all_null.reverse().arg_min()  # length of the all-null run at the end
    assert trailing == 447
    assert frame["time"][-1] == datetime(2016, 9, 7, 23, 0, tzinfo=UTC)


def test_morten_sdu_interval_start_is_time_and_end_is_kept(loaded) -> None:
    parsed, frame = loaded[REAL / "aarslev" / "december2013" / "MortenSDUData.csv"]
    assert parsed.detection["timestamp"]["layout"] == "interval"
    assert frame.schema["End"] == pl.String
    assert frame["End"][0] == "2013-12-01 00:59"
    assert frame["time"][0] == datetime(2013, 11, 30, 23, 0, tzinfo=UTC)
    units = {c.variable: c.unit for c in parsed.columns}
    assert units["air_temperature"] == "°C" and units["co2_dosing"] is None


def test_weather_epoch_milliseconds(loaded) -> None:
    parsed, frame = loaded[REAL / "aarslev" / "data_jan_feb_2014.csv"]
    assert parsed.detection["timestamp"]["format"] == "epoch_ms"
    assert frame["time"][0] == datetime(2014, 1, 23, 23, 0, tzinfo=UTC)
    assert {c.variable for c in parsed.columns} == {
        "outdoor_temperature", "radiation", "outdoor_temperature_forecast", "radiation_forecast"}


def test_smap_unsorted_readings_come_out_sorted_and_wide(loaded) -> None:
    path = CELL / "output-2014-03-01-00-00.csv.json"
    raw = json.loads(path.read_text(encoding="utf-8"))["/Cell5/air_temperature"]["Readings"]
    assert [t for t, _ in raw] != sorted(t for t, _ in raw)  # the file really is unsorted
    parsed, frame = loaded[path]
    assert frame["time"].is_sorted() and frame["time"].n_unique() == frame.height
    assert len(parsed.columns) == 15 and frame.width == 17


@pytest.mark.parametrize("month", ["2013-12", "2014-01", "2014-02", "2014-03"])
def test_smap_and_cell_csv_of_a_month_merge_on_time_and_variable(loaded, month: str) -> None:
    csv_parsed, csv_frame = loaded[CELL / f"output-{month}-01-00-00.csv"]
    json_parsed, json_frame = loaded[CELL / f"output-{month}-01-00-00.csv.json"]
    by_variable = {c.variable: c.staged_name for c in csv_parsed.columns if c.variable}
    joined = json_frame.join(csv_frame, on="time", how="left", suffix="_csv")
    assert joined.height == json_frame.height
    for column in json_parsed.columns:
        pair = joined.select(column.staged_name, by_variable[column.variable]).drop_nulls()
        assert pair.height > 0
        assert pair.to_series(0).equals(pair.to_series(1), check_names=False), column.variable


def test_dst_day_in_smap_has_no_gap(loaded) -> None:
    _, frame = loaded[CELL / "output-2014-03-01-00-00.csv.json"]
    day = frame.filter(pl.col("time").is_between(datetime(2014, 3, 30, 0, 30, tzinfo=UTC),
                                                 datetime(2014, 3, 30, 1, 10, tzinfo=UTC)))
    assert day["time"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=10)]


def test_glob_matches_full_path_and_bare_name(registry) -> None:
    full = registry.match(CELL / "output-2014-01-01-00-00.csv")
    bare = registry.match(Path("output-2014-01-01-00-00.csv"))
    assert (full[0].name, full[1].name) == (bare[0].name, bare[1].name) == ("aarslev", "cell_csv")
    assert registry.match(Path("NO4_LAMPEGRP_2.csv"))[0].name == "knudjepsen"
    assert registry.match(Path("whatever.csv"))[0].name == "generic"


def test_mapping_rows_cover_every_rule_with_conversions(registry) -> None:
    rows = registry.mapping_rows()
    assert {r["source"] for r in rows} == {"knudjepsen", "aarslev", "generic"}
    vpd = [r for r in rows if r["variable"] == "vpd"]
    assert {(r["unit"], r["canonical_unit"], r["conversion"]) for r in vpd} == {
        ("hPa", "kPa", "hpa_to_kpa")}
    assert all(r["conversion_sql"] and r["zone_rule"] for r in rows)


def test_batches_respect_the_row_limit_and_repeat_identically(registry) -> None:
    parsed = open_file(CELL / "output-2014-03-01-00-00.csv", registry)
    sizes = [b.height for b in parsed.batches(rows=500)]
    assert max(sizes) <= 500 and sum(sizes) == 4458
    assert pl.concat(parsed.batches(rows=500)).equals(pl.concat(parsed.batches()))


# Cells at the edge of "a number": the CSV parser's fast conversion must give exactly what the
# string path gives, or leave the block to the string path (which then accepts or names the cell).
EDGE_CELLS = ["nan", "NaN", "-inf", "Infinity", "1e400", "4.9e-330", "1e", ".", "-", "1_000", "0x10", "  ",
              " 1,5", "1,5 ", "1.5", "1,5", ",5", "5,", "1 000", "-0", "+1,0", "7.34011e-008", "-2.14748e+008",
              "5,3e+36", "true", "N/A", "1.5.5", "1,5,5", "١٢"]


@pytest.mark.parametrize("decimal", [",", "."])
def test_fast_numeric_parsing_equals_the_string_path(tmp_path, registry, monkeypatch, decimal) -> None:
    from greenhouse_assets.ingest import delimited
    from greenhouse_assets.ingest.errors import IngestError

    head = KNUDJEPSEN.read_bytes().split(b"\r\n")[:20]
    if decimal == ".":
        head = head[:3] + [line.replace(b",", b".") for line in head[3:]]

    def outcome(path: Path) -> pl.DataFrame | dict:
        try:
            return pl.concat(open_file(path, registry).batches())
        except IngestError as error:
            return error.as_dict()

    string_path = delimited.column_batches
    for index, cell in enumerate(EDGE_CELLS):
        lines = [*head, head[10].replace(head[10].split(b";")[1], b'"' + cell.encode() + b'"', 1)]
        path = tmp_path / f"{index}" / "NO3_LAMPEGRP_1.csv"
        path.parent.mkdir()
        path.write_bytes(b"\r\n".join(lines) + b"\r\n")
        fast = outcome(path)
        with monkeypatch.context() as patch:
            patch.setattr(delimited, "column_batches", lambda *args: string_path(*args[:4]))  # no numeric positions
            reference = outcome(path)
        if isinstance(reference, dict):
            assert fast == reference, (decimal, cell)
        else:
            assert isinstance(fast, pl.DataFrame) and fast.equals(reference, null_equal=True), (decimal, cell)
