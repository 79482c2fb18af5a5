"""A generated corpus of broken files (each must fail with a specific, located IngestError)
and of odd-but-valid files (each must parse)."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.names import MAX_DATA_COLUMNS
from greenhouse_assets.ingest.readers import open_file
from greenhouse_assets.ingest.registry import SourceRegistry

pytestmark = pytest.mark.pure

HEADER = "timestamp;air_temperature;note\r\n"
GOOD_ROWS = "".join(f"2014-01-01 00:{m:02d}:00;{20 + m / 10};ok\r\n" for m in range(0, 60, 10))

LAB_REGISTRY = """
vocabulary: {air_temperature: "°C", co2: "ppm"}
conversions: {identity: value}
sources:
  - name: lab
    site: lab
    rules:
      - name: cp1252_export
        globs: ["lab_*.csv"]
        encoding: cp1252
        timezone: UTC
        zone: {fixed: bench}
        columns: [{match: '^temp$', variable: air_temperature, unit: "°C"}]
      - name: named_time
        globs: ["named_*.csv"]
        timestamp: {columns: [Tidspunkt], format: "%Y-%m-%d %H:%M"}
        timezone: UTC
        zone: {fixed: bench}
  - name: generic
    site: unknown
    rules: [{name: any, globs: ["*"], timezone: Europe/Copenhagen, zone: {fixed: default}}]
"""


@pytest.fixture(scope="module")
def registry() -> SourceRegistry:
    return SourceRegistry.load()


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> SourceRegistry:
    path = tmp_path_factory.mktemp("registry") / "sources.yaml"
    path.write_text(LAB_REGISTRY, encoding="utf-8")
    return SourceRegistry.load(path)


def write(directory: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = directory / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def read_all(path: Path, registry: SourceRegistry, rows: int = 100_000) -> pl.DataFrame:
    parsed = open_file(path, registry)
    return pl.concat(parsed.batches(rows=rows))


def fails(path: Path, registry: SourceRegistry, rows: int = 100_000) -> IngestError:
    with pytest.raises(IngestError) as caught:
        read_all(path, registry, rows)
    error = caught.value
    assert str(error).startswith(path.name)
    assert set(error.as_dict()) == {"path", "row", "column", "expected", "found", "message"}
    return error


def many_rows(n: int, start: datetime = datetime(2014, 4, 1)) -> list[str]:
    """n one-minute rows (no DST change before n = 250 000)."""
    return [f"{(start + timedelta(minutes=i)):%Y-%m-%d %H:%M:%S};{i % 300 / 10};x\r\n" for i in range(n)]


# --- bad files: not text, empty, or not the promised format ---------------------------------


def test_empty_file(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "empty.csv", b""), registry)
    assert error.reason == "empty file (0 bytes)"


def test_gzip_stream_named_csv(tmp_path, registry) -> None:
    path = write(tmp_path, "data.csv", gzip.compress((HEADER + GOOD_ROWS).encode()))
    assert fails(path, registry).message == "not a text file: gzip stream"


def test_zip_archive_named_csv(tmp_path, registry) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", HEADER + GOOD_ROWS)
    path = write(tmp_path, "data.csv", buffer.getvalue())
    assert fails(path, registry).message == "not a text file: zip archive"


def test_binary_garbage_with_nul_bytes(tmp_path, registry) -> None:
    garbage = bytes((i * 73 + 11) % 256 for i in range(4096))
    error = fails(write(tmp_path, "garbage.csv", garbage), registry)
    assert error.reason == "not a text file: binary data (NUL bytes)"


def test_binary_garbage_without_nul_bytes(tmp_path, registry) -> None:
    garbage = bytes(1 + (i * 37) % 255 for i in range(4096))
    error = fails(write(tmp_path, "garbage.csv", garbage), registry)
    assert error.reason == "not a text file: binary data (control characters)"


def test_text_named_xlsx(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "book.xlsx", HEADER + GOOD_ROWS), registry)
    assert error.reason.startswith("not a readable spreadsheet")
    assert error.expected == "a .xlsx file (zip archive)" and error.found == "plain text"


def test_header_only(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "header.csv", HEADER), registry)
    assert error.reason == "no data rows (header only)"


def test_header_then_blank_lines_only(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "header.csv", HEADER + "\r\n\r\n;;\r\n"), registry)
    assert error.reason == "no data rows (header only)"


def test_no_header_row(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "noheader.csv", GOOD_ROWS), registry)
    assert error.reason == "no header row: line 1 already holds data" and error.row == 1


def test_no_timestamp_column(tmp_path, registry) -> None:
    path = write(tmp_path, "notime.csv", "name;value\r\nalpha;1\r\nbeta;2\r\n")
    assert fails(path, registry).message.startswith("no timestamp column")


def test_timestamp_column_named_by_registry_is_missing(tmp_path, lab) -> None:
    path = write(tmp_path, "named_1.csv", "Tid;temp\n2014-01-01 00:00;1\n")
    error = fails(path, lab)
    assert error.expected == "column 'Tidspunkt'"


# --- bad structure: field counts, delimiters, quotes, width --------------------------------


def test_truncated_mid_row(tmp_path, registry) -> None:
    path = write(tmp_path, "cut.csv", HEADER + GOOD_ROWS + "2014-01-01 01:00:00;2")
    error = fails(path, registry)
    assert error.reason.startswith("truncated last row")
    assert (error.row, error.expected, error.found) == (8, "3 fields", 2)


def test_ragged_row(tmp_path, registry) -> None:
    rows = GOOD_ROWS.splitlines(keepends=True)
    rows[2] = "2014-01-01 00:20:00;20.2;ok;extra\r\n"
    error = fails(write(tmp_path, "ragged.csv", HEADER + "".join(rows)), registry)
    assert (error.reason, error.row, error.expected, error.found) == ("ragged row", 4, "3 fields", 4)


def test_ragged_row_far_beyond_the_sampled_head(tmp_path, registry) -> None:
    rows = many_rows(80_000)
    rows[70_000] = "2015-05-01 00:00:00;1\r\n"
    error = fails(write(tmp_path, "ragged_late.csv", HEADER + "".join(rows)), registry)
    assert (error.reason, error.row, error.found) == ("ragged row", 70_002, 2)


def test_mixed_delimiters(tmp_path, registry) -> None:
    body = "2014-01-01 00:00:00;1.5;a\r\n2014-01-01 00:10:00,1.6,b\r\n"
    error = fails(write(tmp_path, "mixed.csv", HEADER + body), registry)
    assert (error.reason, error.row) == ("mixed delimiters", 3)
    assert error.expected == "fields separated by ';' like the header"


def test_quoted_value_spanning_lines(tmp_path, registry) -> None:
    body = '2014-01-01 00:00:00;1.5;"first\r\nsecond"\r\n2014-01-01 00:10:00;1.6;b\r\n'
    error = fails(write(tmp_path, "multiline.csv", HEADER + body), registry)
    assert error.reason == "a quoted value is not closed on its line" and error.row == 2


def test_ten_thousand_columns(tmp_path, registry) -> None:
    header = "timestamp;" + ";".join(f"c{i}" for i in range(10_000)) + "\n"
    row = "2014-01-01 00:00:00;" + ";".join("1" for _ in range(10_000)) + "\n"
    error = fails(write(tmp_path, "wide.csv", header + row), registry)
    assert error.found == 10_000 and f"at most {MAX_DATA_COLUMNS}" in error.expected
    assert "1600-column limit" in error.reason


def test_two_columns_feeding_one_variable(tmp_path, registry) -> None:
    content = '"";"udetemp";"udetemp"\n"";"x";"x"\n"";"°C";"°C"\n"07-09-2015 00:00:00";1,5;1,6\n'
    error = fails(write(tmp_path, "NO3_TWICE.csv", content), registry)
    assert error.column == "udetemp" and "outdoor_temperature" in error.reason


def test_fewer_header_rows_than_the_registry_declares(tmp_path, registry) -> None:
    content = '"";"udetemp"\r\n"07-09-2015 00:00:00";8,4\r\n"07-09-2015 00:05:00";8,5\r\n"07-09-2015 00:10:00";8,6\r\n'
    error = fails(write(tmp_path, "NO3_SHORT.csv", content), registry)
    assert (error.reason, error.row) == ("the registry declares 3 header rows", 2)


# --- bad encoding ---------------------------------------------------------------------------


def test_registry_declares_utf8_but_file_is_latin1(tmp_path, registry) -> None:
    content = '"";"mål temp afd  Mid"\r\n"";"Afd 3"\r\n"";"°C"\r\n"07-09-2015 00:00:00";20,3\r\n'
    error = fails(write(tmp_path, "NO3_LATIN.csv", content, "latin-1"), registry)
    assert (error.row, error.found) == (1, "byte 0xe5")
    assert error.expected == "text in utf-8 (as the registry declares)"


def test_registry_declares_cp1252_but_file_is_utf8(tmp_path, lab) -> None:
    path = write(tmp_path, "lab_1.csv", "timestamp;temp;bemærkning\n2014-01-01 00:00;1;ø\n")
    error = fails(path, lab)
    assert error.reason.startswith("the file is UTF-8")


def test_invalid_utf8_far_beyond_the_sampled_head(tmp_path, registry) -> None:
    rows = many_rows(60_000)
    content = (HEADER + "".join(rows)).encode()
    marker = content.index(b"2014-05-05")  # a line about 1.3 MB into the file
    line = content[:marker].count(b"\n") + 1
    content = content[: marker + 20] + b"\xff" + content[marker + 21 :]
    assert marker > 1 << 20  # beyond the sampled head, so detection says UTF-8
    error = fails(write(tmp_path, "late_bytes.csv", content), registry)
    assert (error.row, error.found) == (line, "byte 0xff")


# --- bad values -----------------------------------------------------------------------------


def test_text_in_a_mapped_numeric_column_names_row_and_column(tmp_path, registry) -> None:
    content = (
        '"";"mål temp afd  Mid";"udetemp"\r\n"";"NORRING:Afd 3";"NORRING:VEJRSTATION"\r\n'
        '"";"°C";"°C"\r\n"07-09-2015 00:00:00";20,3;8,4\r\n"07-09-2015 00:05:00";20,3;abc\r\n'
    )
    error = fails(write(tmp_path, "NO3_LAMPEGRP_1.csv", content), registry)
    assert str(error) == (
        "NO3_LAMPEGRP_1.csv, row 5, column 'udetemp': expected a number with decimal comma or point, found 'abc'"
    )


def test_text_in_a_numeric_column_after_the_sampled_head(tmp_path, registry) -> None:
    rows = many_rows(70_000)
    rows[65_000] = "2015-04-01 00:00:00;n/a;x\r\n"
    error = fails(write(tmp_path, "late_text.csv", HEADER + "".join(rows)), registry, rows=5000)
    assert (error.row, error.column, error.found) == (65_002, "air_temperature", "n/a")
    assert error.expected == "a number with decimal point or comma"  # `;` file: either mark is a number


def test_both_decimal_marks_in_a_semicolon_file_are_each_read_as_written(tmp_path, registry) -> None:
    body = "2014-01-01 00:00:00;1,5;a\r\n2014-01-01 00:10:00;1.6;b\r\n2014-01-01 00:20:00;2,25e-1;c\r\n"
    parsed = open_file(write(tmp_path, "commas.csv", HEADER + body), registry)
    assert (parsed.detection["decimal"], parsed.detection["decimal_primary"]) == ("mixed", ",")
    assert pl.concat(parsed.batches())["air_temperature"].to_list() == [1.5, 1.6, 0.225]
    assert parsed.resolutions["other_decimal_marks"] == 1


def test_two_marks_in_one_cell_of_a_mixed_file_name_row_and_column(tmp_path, registry) -> None:
    body = (
        "2014-01-01 00:00:00;1,5;a\r\n2014-01-01 00:10:00;1.6;b\r\n2014-01-01 00:20:00;1,7;c\r\n"
        "2014-01-01 00:30:00;1.500,5;d\r\n"
    )
    error = fails(write(tmp_path, "commas.csv", HEADER + body), registry)
    assert (error.row, error.column, error.found) == (5, "air_temperature", "1.500,5")
    assert error.expected == "a number with decimal comma or point"


def test_a_cell_with_the_other_mark_in_a_comma_delimited_file_names_row_and_column(tmp_path, registry) -> None:
    """In `,`-delimited text `"1,500"` may be a thousands separator: not read, but located."""
    header = "timestamp,air_temperature,co2\r\n"
    in_head = header + '2014-01-01 00:00:00,1.5,400\r\n2014-01-01 00:10:00,"1,6",410\r\n'
    error = fails(write(tmp_path, "points.csv", in_head), registry)
    assert (error.reason, error.row, error.column, error.found) == ("mixed decimal marks", 3, "air_temperature", "1,6")
    assert error.expected == "the decimal mark of '1.5' (row 2)"
    rows = [line.replace(";", ",").removesuffix(",x\r\n") + ",400\r\n" for line in many_rows(70_000)]
    rows[65_000] = '2014-02-15 03:20:00,"1,500",400\r\n'
    error = fails(write(tmp_path, "late.csv", header + "".join(rows)), registry, rows=5000)
    assert (error.row, error.column, error.found) == (65_002, "air_temperature", "1,500")
    assert error.expected == "a number with decimal point"


def test_unparseable_timestamp(tmp_path, registry) -> None:
    rows = GOOD_ROWS.splitlines(keepends=True)
    rows[3] = "2014-01-01 0O:30:00;20.3;ok\r\n"
    error = fails(write(tmp_path, "badtime.csv", HEADER + "".join(rows)), registry)
    assert (error.row, error.column, error.found) == (5, "timestamp", "2014-01-01 0O:30:00")
    assert error.expected == "a timestamp in format '%Y-%m-%d %H:%M:%S%.f'"


def test_empty_timestamp_in_a_row_with_values(tmp_path, registry) -> None:
    body = "2014-01-01 00:00:00;1.5;a\r\n;1.6;b\r\n"
    error = fails(write(tmp_path, "notime.csv", HEADER + body), registry)
    assert (error.row, error.found) == (3, "")


def test_nonexistent_local_time_is_an_error_where_the_rule_says_so(tmp_path) -> None:
    strict = LAB_REGISTRY.replace(
        "timezone: Europe/Copenhagen,", "timezone: Europe/Copenhagen, nonexistent_time: error,"
    )
    path = tmp_path / "sources.yaml"
    path.write_text(strict, encoding="utf-8")
    body = "2014-03-30 01:50:00;1;a\r\n2014-03-30 02:30:00;2;b\r\n"
    error = fails(write(tmp_path, "spring.csv", HEADER + body), SourceRegistry.load(path))
    assert (error.row, error.column, error.found) == (3, "timestamp", "2014-03-30 02:30:00")
    assert error.expected == "a local time that exists in Europe/Copenhagen (the rule's nonexistent_time is error)"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("", datetime(2014, 3, 30, 1, 30, tzinfo=UTC)),  # default: standard time, the clock had not switched yet
        ("nonexistent_time: standard,", datetime(2014, 3, 30, 1, 30, tzinfo=UTC)),
        ("nonexistent_time: summer,", datetime(2014, 3, 30, 0, 30, tzinfo=UTC)),
    ],
)
def test_nonexistent_local_time_is_read_by_the_rule_and_counted(tmp_path, rule, expected) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        LAB_REGISTRY.replace("timezone: Europe/Copenhagen,", f"timezone: Europe/Copenhagen, {rule}"), encoding="utf-8"
    )
    body = "2014-03-30 01:50:00;1;a\r\n2014-03-30 02:30:00;2;b\r\n2014-03-30 03:10:00;3;c\r\n"
    parsed = open_file(write(tmp_path, "spring.csv", HEADER + body), SourceRegistry.load(path))
    frame = pl.concat(parsed.batches())
    assert frame["time"].to_list() == [
        datetime(2014, 3, 30, 0, 50, tzinfo=UTC),
        expected,
        datetime(2014, 3, 30, 1, 10, tzinfo=UTC),
    ]
    assert parsed.resolutions == {"nonexistent_local_times": 1, "ambiguous_local_times": 0, "other_decimal_marks": 0}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("nonexistent_time: later", "nonexistent_time must be one of standard, summer, error, not 'later'"),
        ("ambiguous_time: first", "ambiguous_time must be one of order, standard, summer, not 'first'"),
    ],
)
def test_registry_rejects_unknown_dst_rules(tmp_path, entry, message) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        LAB_REGISTRY.replace("timezone: Europe/Copenhagen,", f"timezone: Europe/Copenhagen, {entry},"), encoding="utf-8"
    )
    with pytest.raises(ValueError, match=message):
        SourceRegistry.load(path)


def test_registry_rejects_dst_rules_for_a_zone_without_dst(tmp_path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        LAB_REGISTRY.replace(
            "timezone: UTC\n        zone: {fixed: bench}\n        columns",
            "timezone: UTC\n        nonexistent_time: summer\n        zone: {fixed: bench}\n        columns",
            1,
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="nonexistent_time needs a timezone with DST changes"):
        SourceRegistry.load(path)


# --- bad JSON -------------------------------------------------------------------------------


def test_empty_json(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "output-2014-01-01-00-00.csv.json", b""), registry)
    assert error.reason == "empty file (0 bytes)"


def test_json_of_the_wrong_shape(tmp_path, registry) -> None:
    error = fails(write(tmp_path, "readings.json", "42"), registry)
    assert error.reason == "wrong JSON shape" and error.found == "int"


def test_json_list_of_bare_readings(tmp_path, registry) -> None:
    """A list is read as streams keyed by uuid; bare readings in it are not streams."""
    error = fails(write(tmp_path, "readings.json", "[[1390000000000, 1.5]]"), registry)
    assert (error.reason, error.row, error.found) == ("wrong JSON shape", 1, "[1390000000000, 1.5]")


def test_json_stream_without_readings(tmp_path, registry) -> None:
    path = write(tmp_path, "readings.json", json.dumps({"/Cell5/co2": {"Properties": {}}}))
    error = fails(path, registry)
    assert error.column == "/Cell5/co2" and error.reason == "wrong JSON shape"


def test_json_reading_that_is_not_a_pair(tmp_path, registry) -> None:
    readings = [[1390000000000, 1.5], [1390000600000, "warm"]]
    path = write(tmp_path, "readings.json", json.dumps({"/Cell5/co2": {"Readings": readings}}))
    error = fails(path, registry)
    assert (error.row, error.column, error.found) == (2, "/Cell5/co2", '"warm"')


def test_truncated_json(tmp_path, registry) -> None:
    text = json.dumps({"/Cell5/co2": {"Readings": [[1390000000000, 1.5]]}}, indent=1)
    error = fails(write(tmp_path, "readings.json", text[:-10]), registry)
    assert error.reason.startswith("invalid JSON") and error.row is not None


def test_json_with_two_values_at_one_time(tmp_path, registry) -> None:
    readings = [[1390000000000, 1.5], [1390000600000, 1.6], [1390000000000, 9.9]]
    path = write(tmp_path, "readings.json", json.dumps({"/Cell5/co2": {"Readings": readings}}))
    error = fails(path, registry)
    assert (error.reason, error.column, error.row) == ("two different values at one time", "/Cell5/co2", 3)


def test_json_with_a_duplicate_stream_key(tmp_path, registry) -> None:
    text = '{"/Cell5/co2": {"Readings": []}, "/Cell5/co2": {"Readings": []}}'
    error = fails(write(tmp_path, "readings.json", text), registry)
    assert error.reason == "duplicate key in JSON object" and error.column == "/Cell5/co2"


# --- odd but valid --------------------------------------------------------------------------


def test_bom_latin1_tab_lf_and_crlf_all_parse_to_the_same_frame(tmp_path, registry) -> None:
    text = "Tid;Lufttemp æøå;CO2\r\n2014-01-01 00:00;20,5;400\r\n2014-01-01 00:10;20,6;410\r\n"
    variants = {
        "crlf.csv": text.encode(),
        "lf.csv": text.replace("\r\n", "\n").encode(),
        "cr.csv": text.replace("\r\n", "\r").encode(),
        "bom.csv": b"\xef\xbb\xbf" + text.encode(),
        "latin1.csv": text.encode("cp1252"),
        "tab.csv": text.replace(";", "\t").encode(),
        "utf16.csv": text.replace(";", "\t").encode("utf-16"),
    }
    frames = {}
    for name, content in variants.items():
        parsed = open_file(write(tmp_path, name, content), registry)
        assert [c.original_name for c in parsed.columns] == ["Lufttemp æøå", "CO2"]
        frames[name] = pl.concat(parsed.batches())
        assert parsed.detection["decimal"] == ","
    reference = frames.pop("crlf.csv")
    assert reference["Lufttemp æøå"].to_list() == [20.5, 20.6]
    for name, frame in frames.items():
        assert frame.equals(reference), name
    assert open_file(tmp_path / "bom.csv", registry).detection["bom"] is True
    assert open_file(tmp_path / "latin1.csv", registry).detection["encoding"] == "cp1252"
    assert open_file(tmp_path / "tab.csv", registry).detection["delimiter"] == "\t"
    assert open_file(tmp_path / "cr.csv", registry).detection["line_ending"] == "CR"


def test_hostile_duplicate_empty_long_and_reserved_names(tmp_path, registry) -> None:
    hostile = 'x"; DROP TABLE staging.raw_aarslev; --'
    long_name = "ø" * 40  # 80 UTF-8 bytes
    header = ["timestamp", hostile, "a", "a", "", "a", long_name, long_name, "time"]
    quoted = ";".join('"' + h.replace('"', '""') + '"' for h in header)
    content = quoted + "\n" + "2014-01-01 00:00:00" + ";1" * (len(header) - 1) + "\n"
    parsed = open_file(write(tmp_path, "names.csv", content), registry)
    staged = [c.staged_name for c in parsed.columns]
    assert staged[:5] == [hostile, "a", "a #2", "column_5", "a #3"]
    assert all(len(s.encode()) <= 63 for s in staged) and len(set(staged)) == len(staged)
    assert staged[5] == "ø" * 31 and staged[6] == "ø" * 30 + " #2"
    assert staged[7] == "time #2"
    assert [c.original_name for c in parsed.columns][0] == hostile
    assert pl.concat(parsed.batches()).width == 2 + 8


def test_three_header_rows_with_empty_unit_row(tmp_path, registry) -> None:
    content = (
        '"";"mål temp afd  Mid";"CO2 målt"\r\n"";"NORRING:Afd 4";"NORRING:Afd 4"\r\n'
        '"";"";""\r\n"07-09-2015 00:00:00";20,3;""\r\n'
    )
    parsed = open_file(write(tmp_path, "NO4_LAMPEGRP_1.csv", content), registry)
    assert [c.unit for c in parsed.columns] == [None, None]
    assert {c.zone for c in parsed.columns} == {"NO4"}
    frame = pl.concat(parsed.batches())
    assert frame.row(0) == (4, datetime(2015, 9, 6, 23, 0, tzinfo=UTC), 20.3, None)


def test_values_as_received_sentinels_text_and_all_null_columns(tmp_path, registry) -> None:
    content = (
        "Date;Time;a;b;comment;empty\n"
        "2014-01-01;00:00:00;-2.14748e+008;5.3e+36;fine;\n"
        '2014-01-01;00:10:00;7.34011e-008;"";"";\n'
    )
    parsed = open_file(write(tmp_path, "values.csv", content), registry)
    assert parsed.schema["comment"] == pl.String and parsed.schema["empty"] == pl.Float64
    frame = pl.concat(parsed.batches())
    assert frame["a"].to_list() == [-2.14748e8, 7.34011e-08]
    assert frame["b"].to_list() == [5.3e36, None]
    assert frame["comment"].to_list() == ["fine", None]
    assert frame["empty"].null_count() == 2


def test_blank_lines_are_skipped_but_line_numbers_kept(tmp_path, registry) -> None:
    rows = many_rows(50_000)
    for index in (10, 20_000, 49_999):
        rows[index] = "\r\n"
    frame = read_all(write(tmp_path, "blanks.csv", HEADER + "".join(rows)), registry, rows=7000)
    expected = [i + 2 for i in range(50_000) if i not in (10, 20_000, 49_999)]
    assert frame["_row_number"].to_list() == expected
    assert frame["air_temperature"][10] == 11 % 300 / 10


def test_autumn_repeated_hour_is_resolved_by_order_across_batches(tmp_path, registry) -> None:
    local = [
        "01:40",
        "01:50",
        "02:00",
        "02:10",
        "02:20",
        "02:30",
        "02:40",
        "02:50",
        "02:00",
        "02:10",
        "02:20",
        "02:30",
        "02:40",
        "02:50",
        "03:00",
    ]
    body = "".join(f"2014-10-26 {t}:00;{i};x\n" for i, t in enumerate(local))
    frame = read_all(write(tmp_path, "autumn.csv", HEADER + body), registry, rows=4)
    assert frame["time"][0] == datetime(2014, 10, 25, 23, 40, tzinfo=UTC)
    assert frame["time"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=10)]


def test_epoch_seconds_iso_offsets_and_date_time_columns(tmp_path, registry) -> None:
    epoch = write(tmp_path, "epoch.csv", "timestamp,v\n1388534400,1\n1388535000,2\n")
    iso = write(tmp_path, "iso.csv", "time,v\n2014-01-01T01:00:00+01:00,1\n2014-01-01T00:10:00Z,2\n")
    split = write(tmp_path, "split.csv", "Dato;Tid;v\n01-01-2014;01:00;1\n01-01-2014;01:10;2\n")
    expected = [datetime(2014, 1, 1, 0, 0, tzinfo=UTC), datetime(2014, 1, 1, 0, 10, tzinfo=UTC)]
    for path in (epoch, iso, split):
        assert read_all(path, registry)["time"].to_list() == expected, path.name
    assert open_file(epoch, registry).detection["timestamp"]["format"] == "epoch_s"


# The same rows as a legacy .xls, written once with xlwt (no maintained .xls writer exists to depend on).
XLS_WORKBOOK = Path(__file__).parent / "data" / "climate.xls"


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_excel_workbooks(tmp_path, registry, suffix) -> None:
    if suffix == ".xlsx":
        path = tmp_path / "climate.xlsx"
        _write_xlsx(
            path,
            [
                ["Tid", "air_temperature", "note"],
                [(41640.0, "date"), 21.5, "ok"],
                [],
                [(41640.0 + 1 / 144, "date"), 21.75, None],
            ],
        )
    else:
        path = XLS_WORKBOOK
    parsed = open_file(path, registry)
    assert parsed.detection["kind"] == "excel"
    assert parsed.columns[0].variable == "air_temperature"
    frame = pl.concat(parsed.batches())
    assert frame["_row_number"].to_list() == [2, 4]
    assert frame["air_temperature"].to_list() == [21.5, 21.75]
    assert frame["note"].to_list() == ["ok", None]
    assert frame["time"].to_list() == [
        datetime(2013, 12, 31, 23, 0, tzinfo=UTC),
        datetime(2013, 12, 31, 23, 10, tzinfo=UTC),
    ]


def _write_xlsx(path: Path, rows: list[list]) -> None:
    """A minimal OOXML workbook (no xlsxwriter/openpyxl here): inline strings, one date style."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    cells_xml = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if value is None:
                continue
            if isinstance(value, tuple):
                cells.append(f'<c r="{ref}" s="1"><v>{value[0]}</v></c>')
            elif isinstance(value, str):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        cells_xml.append(f'<row r="{r}">{"".join(cells)}</row>')
    ooxml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    files = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{ooxml}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ooxml}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{ooxml}.styles+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
        f'Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rels}"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{package}">'
        f'<Relationship Id="rId1" Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{rels}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet xmlns="{main}"><fonts count="1"><font/></fonts><fills count="1"><fill/>'
        '</fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/>'
        '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0"/>'
        '<xf numFmtId="22" applyNumberFormat="1"/></cellXfs></styleSheet>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{"".join(cells_xml)}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, xml in files.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + xml)
