"""The parsing layer against every real file in the shared data folder.

Expected counts are computed independently of the reader (plain line counting and the json
module), so a reader bug cannot make its own expectation.
"""

from __future__ import annotations

import csv
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

from greenhouse_assets.ingest.readers import ParsedFile, open_file
from greenhouse_assets.ingest.registry import SourceRegistry

SHARED = Path(os.environ.get("GREENHOUSE_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
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

pytestmark = [pytest.mark.pure, pytest.mark.skipif(not REAL_FILES, reason=f"no real data under {REAL}")]


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
        "outdoor_temperature",
        "radiation",
        "outdoor_temperature_forecast",
        "radiation_forecast",
    }


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
    day = frame.filter(
        pl.col("time").is_between(datetime(2014, 3, 30, 0, 30, tzinfo=UTC), datetime(2014, 3, 30, 1, 10, tzinfo=UTC))
    )
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
    assert {(r["unit"], r["canonical_unit"], r["conversion"]) for r in vpd} == {("hPa", "kPa", "hpa_to_kpa")}
    assert all(r["conversion_sql"] and r["zone_rule"] for r in rows)


def test_batches_respect_the_row_limit_and_repeat_identically(registry) -> None:
    parsed = open_file(CELL / "output-2014-03-01-00-00.csv", registry)
    sizes = [b.height for b in parsed.batches(rows=500)]
    assert max(sizes) <= 500 and sum(sizes) == 4458
    assert pl.concat(parsed.batches(rows=500)).equals(pl.concat(parsed.batches()))


# Cells at the edge of "a number": the CSV parser's fast conversion must give exactly what the
# string path gives, or leave the block to the string path (which then accepts or names the cell).
EDGE_CELLS = [
    "nan",
    "NaN",
    "-inf",
    "Infinity",
    "1e400",
    "4.9e-330",
    "1e",
    ".",
    "-",
    "1_000",
    "0x10",
    "  ",
    " 1,5",
    "1,5 ",
    "1.5",
    "1,5",
    ",5",
    "5,",
    "1 000",
    "-0",
    "+1,0",
    "7.34011e-008",
    "-2.14748e+008",
    "5,3e+36",
    "true",
    "N/A",
    "1.5.5",
    "1,5,5",
    "١٢",
]


@pytest.mark.parametrize("decimal", [",", "."])
def test_fast_numeric_parsing_equals_the_string_path(tmp_path, registry, monkeypatch, decimal) -> None:
    from greenhouse_assets.ingest import delimited
    from greenhouse_assets.ingest.errors import IngestError

    head = KNUDJEPSEN.read_bytes().split(b"\r\n")[:20]
    if (
        decimal == "."
    ):  # points, declared as the file's mark, so the parser converts with '.' (a ',' cell: the other mark)
        head = head[:3] + [line.replace(b",", b".") for line in head[3:]]
        text = (Path(__file__).resolve().parents[1] / "greenhouse_assets" / "sources.yaml").read_text(encoding="utf-8")
        assert text.count('decimal: ","\n        # name / controller point') == 1
        declared = tmp_path / "sources.yaml"
        declared.write_text(
            text.replace(
                'decimal: ","\n        # name / controller point', 'decimal: "."\n        # name / controller point'
            ),
            encoding="utf-8",
        )
        registry = SourceRegistry.load(declared)

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


# --- issue 13: both decimal marks in one file; local times that do not exist or occur twice -----------
# Fixtures are real files transformed the way the real archives vary; expectations come from the
# untouched real file (read by the same reader) or from plain datetime arithmetic, never from the rule.


def _rewrite_marks(lines: list[str], majority: str, every: int) -> tuple[list[str], int]:
    """Data cells holding a '.' get the `majority` mark, every `every`-th of them the other one; returns
    the lines and how many cells now hold the mark that is not `majority`."""
    minority = "." if majority == "," else ","
    out, n, other = lines[:1], 0, 0
    for line in lines[1:]:
        fields = line.split(";")
        for i in range(2, len(fields)):
            if "." in fields[i]:
                n += 1
                mark = minority if n % every == 0 else majority
                other += mark == minority
                fields[i] = fields[i].replace(".", mark)
        out.append(";".join(fields))
    return out, other


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("month", "majority", "every"),
    [
        ("2014-01", ",", 7),
        ("2014-02", ",", 3),
        ("2014-03", ",", 50),
        ("2014-02", ".", 5),
        ("2014-03", ".", 11),
    ],
)
def test_both_decimal_marks_in_a_real_cell_month_load_exactly(
    tmp_path, registry, loaded, month, majority, every
) -> None:
    original = CELL / f"output-{month}-01-00-00.csv"
    lines = original.read_bytes().decode("utf-8").split("\r\n")[:-1]
    rewritten, other = _rewrite_marks(lines, majority, every)
    assert other > 10
    assert any(re.search(r'"-?\d,\d+e-\d{3}"', line) for line in rewritten)  # like "9,22917e-008"
    path = _write_lines(tmp_path / "celle5" / original.name, rewritten)

    parsed = open_file(path, registry)
    assert (parsed.detection["decimal"], parsed.detection["decimal_primary"]) == ("mixed", majority)
    frame = pl.concat(parsed.batches(rows=700))
    assert frame.equals(loaded[original][1])  # every value, time and row number as in the real file
    assert parsed.resolutions == {
        "nonexistent_local_times": 0,
        "ambiguous_local_times": 0,
        "other_decimal_marks": other,
    }


def test_the_other_decimal_mark_only_after_the_sampled_head_is_read_and_recorded(tmp_path, registry, loaded) -> None:
    """February then March of the real cell file in one file (over 1 MB): decimal comma throughout, a
    point only in the last rows, beyond what detection samples. The fast parser hands those blocks to the
    string path, which reads them; the detection then says "mixed"."""
    february = (CELL / "output-2014-02-01-00-00.csv").read_bytes().decode("utf-8").split("\r\n")[:-1]
    march = (CELL / "output-2014-03-01-00-00.csv").read_bytes().decode("utf-8").split("\r\n")[1:-1]
    lines = february + march
    assert sum(len(line) + 2 for line in lines) > 1 << 20
    rewritten, _ = _rewrite_marks(lines, ",", len(lines) * 100)  # comma everywhere ...
    tail = len(lines) - 40
    rewritten[tail:] = lines[tail:]  # ... but the last 40 rows keep their points
    other = sum("." in field for line in lines[tail:] for field in line.split(";")[2:])
    path = _write_lines(tmp_path / "celle5" / "output-2014-02-01-00-00.csv", rewritten)

    parsed = open_file(path, registry)
    assert parsed.detection["decimal"] == ","  # the head shows only commas
    frame = pl.concat(parsed.batches(rows=1000))
    assert parsed.detection["decimal"] == "mixed" and parsed.detection["decimal_primary"] == ","
    assert parsed.resolutions["other_decimal_marks"] == other > 100
    expected = pl.concat(
        [
            loaded[CELL / "output-2014-02-01-00-00.csv"][1],
            loaded[CELL / "output-2014-03-01-00-00.csv"][1].with_columns(pl.col("_row_number") + len(february) - 1),
        ]
    )
    assert frame.equals(expected)


def test_a_decimal_comma_in_a_real_comma_delimited_file_is_an_error_at_its_row_and_column(tmp_path, registry) -> None:
    from greenhouse_assets.ingest.errors import IngestError

    original = REAL / "aarslev" / "januar2014" / "MortenSDUData.csv"
    lines = original.read_bytes().decode("utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    row = next(i for i, line in enumerate(lines) if i > 5 and "." in line.split(",")[3])
    fields = next(csv.reader([lines[row]]))
    fields[3] = fields[3].replace(".", ",")  # "1,5" in a `,` file: a decimal comma or a thousands separator?
    lines[row] = ",".join(f'"{f}"' if "," in f else f for f in fields)
    path = _write_lines(tmp_path / "januar2014" / original.name, lines)
    with pytest.raises(IngestError) as caught:
        pl.concat(open_file(path, registry).batches())
    error = caught.value
    assert (error.row, error.column, error.found) == (row + 1, header[3], fields[3])
    assert error.expected == "a number with decimal point"


def _last_sunday(year: int, month: int) -> int:
    last = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return max(d for d in range(last - 6, last + 1) if datetime(year, month, d).weekday() == 6)


@pytest.mark.parametrize(("year", "late_rows"), [(2016, 1), (2015, 6), (2019, 3)])
def test_real_cell_rows_stamped_in_the_spring_gap_load_at_standard_time(
    tmp_path, registry, loaded, year, late_rows
) -> None:
    """The real March cell file re-stamped as a Danish local-time export of another year whose logger
    switched its clock `late_rows` rows late: those rows carry 02:xx, a local time that does not exist."""
    from zoneinfo import ZoneInfo

    original = CELL / "output-2014-03-01-00-00.csv"
    lines = original.read_bytes().decode("utf-8").split("\r\n")[:-1]
    sunday = _last_sunday(year, 3)
    switch = datetime(year, 3, sunday, 1, 0, tzinfo=UTC)  # 02:00 CET = 03:00 CEST
    start = switch - timedelta(days=2)
    copenhagen = ZoneInfo("Europe/Copenhagen")
    truth, stamped = [], [lines[0]]
    for i, line in enumerate(lines[1:]):
        instant = start + timedelta(minutes=10 * i)
        late = switch <= instant < switch + timedelta(minutes=10 * late_rows)
        local = instant + timedelta(hours=1) if late else instant.astimezone(copenhagen)
        stamped.append(f"{local:%Y-%m-%d;%H:%M:%S};{line.split(';', 2)[2]}")
        truth.append(instant)
    gap = [s for s in stamped if f"{year}-03-{sunday};02:" in s]
    assert len(gap) == late_rows
    path = _write_lines(tmp_path / "celle5" / f"output-{year}-03-01-00-00.csv", stamped)

    parsed = open_file(path, registry)
    frame = pl.concat(parsed.batches(rows=500))
    assert frame["time"].to_list() == truth
    assert frame.filter(pl.col("time") == switch)["_row_number"].to_list() == [stamped.index(gap[0]) + 1]
    assert frame.drop("time").equals(loaded[original][1].drop("time").head(frame.height))
    assert parsed.resolutions == {
        "nonexistent_local_times": late_rows,
        "ambiguous_local_times": 0,
        "other_decimal_marks": 0,
    }


def test_real_knudjepsen_year_as_local_time_with_a_spring_gap_row_and_the_repeated_hour(tmp_path) -> None:
    """The real 105,697-row Knudjepsen year (fixed UTC+1) re-stamped in Danish local time, as an export
    on the wall clock would be: 25-10-2015 repeats 02:00-02:55, and the row written at the switch on
    27-03-2016 still says 02:00:00. Read with the lamp-group rule's zone set to Europe/Copenhagen."""
    from zoneinfo import ZoneInfo

    config = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "greenhouse_assets" / "sources.yaml").read_text(encoding="utf-8")
    )
    (lamp_rule,) = [
        rule
        for source in config["sources"]
        if source["name"] == "knudjepsen"
        for rule in source["rules"]
        if rule["name"] == "lamp_group_export"
    ]
    assert lamp_rule["timezone"] == "Etc/GMT-1"
    lamp_rule["timezone"] = "Europe/Copenhagen"
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    local_registry = SourceRegistry.load(path)

    lines = KNUDJEPSEN.read_bytes().decode("utf-8").split("\r\n")[:-1]
    copenhagen = ZoneInfo("Europe/Copenhagen")
    switch = datetime(2016, 3, 27, 1, 0, tzinfo=UTC)
    truth, stamped = [], lines[:3]
    for line in lines[3:]:
        stamp, rest = line.split(";", 1)
        instant = datetime.strptime(stamp.strip('"'), "%d-%m-%Y %H:%M:%S").replace(tzinfo=UTC) - timedelta(hours=1)
        local = instant + timedelta(hours=1) if instant == switch else instant.astimezone(copenhagen)
        stamped.append(f'"{local:%d-%m-%Y %H:%M:%S}";{rest}')
        truth.append(instant)
    assert sum(s.startswith('"27-03-2016 02:') for s in stamped) == 1
    assert sum(s.startswith('"25-10-2015 02:') for s in stamped) == 24
    landed = _write_lines(tmp_path / "knudjepsen" / KNUDJEPSEN.name, stamped)

    parsed = open_file(landed, local_registry)
    frame = pl.concat(parsed.batches(rows=20_000))
    assert frame.height == 105_697 and frame["time"].to_list() == truth
    assert parsed.resolutions == {"nonexistent_local_times": 1, "ambiguous_local_times": 24, "other_decimal_marks": 0}


def test_generated_autumn_files_all_load_through_the_repeated_hour(tmp_path, registry) -> None:
    from greenhouse_dev.sample import generate_sample

    written = generate_sample(tmp_path, days=4, start="2014-10-24")
    parsed = {p.relative_to(tmp_path).as_posix(): open_file(p, registry) for p in written}
    frames = {name: pl.concat(p.batches(rows=100)) for name, p in parsed.items()}  # no file fails
    for cell in (5, 6):
        name = f"aarslev/celle{cell}/output-2014-10-01-00-00.csv"
        lines = (tmp_path / name).read_bytes().decode("utf-8").split("\r\n")[1:-1]
        repeated = [i + 2 for i, line in enumerate(lines) if line.startswith("2014-10-26;02:")]
        assert len(repeated) == 12  # 02:00-02:50 twice
        by_line = dict(zip(frames[name]["_row_number"], frames[name]["time"], strict=True))
        first, second = repeated[:6], repeated[6:]
        assert [by_line[n] for n in first] == [datetime(2014, 10, 26, 0, m, tzinfo=UTC) for m in range(0, 60, 10)]
        assert [by_line[n] for n in second] == [datetime(2014, 10, 26, 1, m, tzinfo=UTC) for m in range(0, 60, 10)]
        assert frames[name]["time"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=10)]
        assert parsed[name].resolutions["ambiguous_local_times"] == 12
        # the sMAP export holds the second pass once per epoch: read as standard time, it equals the CSV
        smap = frames[name + ".json"]
        hour = (
            datetime(2014, 10, 26, 1, tzinfo=UTC).timestamp() * 1000,
            datetime(2014, 10, 26, 2, tzinfo=UTC).timestamp() * 1000,
        )
        document = json.loads((tmp_path / (name + ".json")).read_text(encoding="utf-8"))
        epochs = {t for stream in document.values() for t, _ in stream["Readings"] if hour[0] <= t < hour[1]}
        assert 0 < len(epochs) <= 6 and parsed[name + ".json"].resolutions["ambiguous_local_times"] == len(epochs)
        csv_air = frames[name].select("time", csv=pl.col(f"Celle {cell}: Lufttemperatur"))
        both = smap.select("time", json=pl.col(f"/Cell{cell}/air_temperature")).join(csv_air, on="time")
        assert both.height == smap.height and both.filter(pl.col("json") != pl.col("csv")).height == 0
    assert frames["knudjepsen/NO3_LAMPEGRP_1.csv"]["time"].diff().drop_nulls().unique().to_list() == [
        timedelta(minutes=5)
    ]
