"""Issue 13 items 2, 5, 6: streams keyed by UUID, columns told apart by the controller point, and
declared units checked and converted with pint.

Every fixture is a transformed copy of a real file from the shared data folder (never a file the
registry knows by name): the real Cell 5 sMAP JSON turned into the UUID-list shape (and its
`timestamp;<uuid>;…` CSV twin) for other cells, the real NO3_LAMPEGRP_1.csv columns stacked into
two-section files for varying section numbers, and its unit row rewritten. Expected values are
computed here from the real files with plain json/csv, independently of the reader.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
import yaml
from helpers import stage

from greenhouse_assets import settings
from greenhouse_assets.database import At, libpq_url
from greenhouse_assets.defs.ingest.raw import raw_metadata
from greenhouse_assets.defs.resources import resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.ingest.errors import IngestError
from greenhouse_assets.ingest.lake_store import LakeStore
from greenhouse_assets.ingest.pipeline import receive_file
from greenhouse_assets.ingest.readers import open_file
from greenhouse_assets.ingest.registry import SourceRegistry
from tests.conftest import REAL_DATA

SMAP_JSON = REAL_DATA / "aarslev" / "celle5" / "output-2014-01-01-00-00.csv.json"
LAMPS = REAL_DATA / "knudjepsen" / "NO3_LAMPEGRP_1.csv"
# Data rows of the real Knudjepsen file used: ~10 days from 06-10-2015 03:35, where the lamps of
# group 1 switch 43 times (they stay off through September) and values are missing in blocks.
START, N_ROWS = 8395, 3000

# Streams of the converted JSON: which keep their Path, which the test registry maps by UUID.
BY_PATH = "air_temperature"
MAPPED = {  # sMAP stream -> (variable, unit, declared_unit override)
    "co2": ("co2", "ppm", None),
    "outside_temperature": ("outdoor_temperature", "°C", None),
    "humidity_vpd": ("vpd", "hPa", 'labelled "VPD", values in hPa'),
    "sun_radiation": ("radiation", "W/m²", 'labelled "W/cm^2", values in W/m²'),
}
SCALE = {"vpd": 0.1}


def stream_uuid(cell: int, stream: str) -> str:
    return str(uuid.uuid3(uuid.NAMESPACE_URL, f"test-installation/Cell{cell}/{stream}"))


# --- fixtures built from the real files ---------------------------------------------------------


def uuid_json(cell: int, out: Path, keep: slice = slice(None)) -> Path:
    """The real Cell 5 JSON as a list of streams keyed by UUID for cell `cell` (float epochs, as
    newer exports write them); only the air temperature keeps its Path. `keep` selects readings."""
    real = json.loads(SMAP_JSON.read_text(encoding="utf-8"))
    streams = []
    for key, stream in real.items():
        name = key.rsplit("/", 1)[1]
        entry = {
            "uuid": stream_uuid(cell, name),
            "Readings": [[float(t), v] for t, v in sorted(stream["Readings"])[keep]],
            "Properties": stream["Properties"],
        }
        if name == BY_PATH:
            entry["Path"] = f"/Cell{cell}/{name}"
        streams.append(entry)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(streams), encoding="utf-8")
    return out


def uuid_csv(cell: int, out: Path, keep: slice = slice(None)) -> Path:
    """The CSV twin of `uuid_json`: `timestamp;<uuid>;…`, epoch ms written as floats."""
    real = json.loads(SMAP_JSON.read_text(encoding="utf-8"))
    names = [key.rsplit("/", 1)[1] for key in real]
    by_time: dict[int, dict[str, float]] = {}
    for key, name in zip(real, names, strict=True):
        for t, v in sorted(real[key]["Readings"])[keep]:
            by_time.setdefault(t, {})[name] = v
    lines = ["timestamp;" + ";".join(stream_uuid(cell, n) for n in names)]
    for t in sorted(by_time):
        lines.append(f"{float(t)};" + ";".join("" if by_time[t].get(n) is None else repr(by_time[t][n]) for n in names))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def expected_streams(cell: int, keep: slice = slice(None)) -> dict[tuple[datetime, str], float]:
    """(UTC time, variable) -> canonical value of the mapped streams, from the real JSON. In January the
    exporter's wall-clock epochs (UTC+1) are Danish standard time, so the epoch is the true instant."""
    real = json.loads(SMAP_JSON.read_text(encoding="utf-8"))
    variables = {BY_PATH: "air_temperature", **{k: v[0] for k, v in MAPPED.items()}}
    out = {}
    for key, stream in real.items():
        name = key.rsplit("/", 1)[1]
        if name in variables:
            for t, v in sorted(stream["Readings"])[keep]:
                if v is not None:
                    variable = variables[name]
                    out[(datetime.fromtimestamp(t / 1000, UTC), variable)] = v * SCALE.get(variable, 1.0)
    return out


def lamp_rows() -> tuple[list[list[str]], list[list[str]]]:
    """(three header rows, N_ROWS data rows from START) of the real Knudjepsen file, split on ';'."""
    with open(LAMPS, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    return rows[:3], rows[3 + START : 3 + START + N_ROWS]


def knudjepsen_file(path: Path, header: list[list[str]], data: list[list[str]]) -> Path:
    """Written like the real export: every field quoted except numbers, `;`, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows(header)
    for row in data:
        out.write(f'"{row[0]}";' + ";".join(row[1:]) + "\r\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def number(text: str) -> float | None:
    return float(text.replace(",", ".")) if text.strip() else None


def shifted(data: list[list[str]], column: int, shift: int) -> list[str]:
    """Column `column` of the data rows, `shift` rows later (the first rows repeat): a distinct series."""
    values = [row[column] for row in data]
    return values[shift:] + values[:shift]


def lamp_groups_file(folder: Path, a: int, b: int) -> tuple[Path, dict[tuple[str, str], list[str]]]:
    """`NO<a>-NO<b>_belysningsgrp.csv`: six columns all named `målt status`, points
    `BEL.SYSTEM <a|b> LAMPGRP 1..3`, an empty unit row. Group g of section s is the real lamp
    status shifted by a distinct number of hours. Returns the path and (zone, variable) -> values."""
    header, data = lamp_rows()
    status = header[0].index("målt status")
    points = [f"NORRING:BEL.SYSTEM {s} LAMPGRP {g}" for s in (a, b) for g in (1, 2, 3)]
    columns = [shifted(data, status, 12 * i) for i in range(6)]
    rows = [[row[0], *(c[i] for c in columns)] for i, row in enumerate(data)]
    path = knudjepsen_file(
        folder / f"NO{a}-NO{b}_belysningsgrp.csv", [["", *["målt status"] * 6], ["", *points], [""] * 7], rows
    )
    names = ["lamp_status", "lamp_status_2", "lamp_status_3"]
    expected = {(f"NO{s}", names[g]): columns[i] for i, (s, g) in enumerate((s, g) for s in (a, b) for g in range(3))}
    return path, expected


def extra_file(folder: Path, a: int, b: int) -> tuple[Path, dict[tuple[str, str], list[str]]]:
    """`NO<a>NO<b>.extra.csv`: `mål FD; mål RF; mål læ; mål vind` for section a, then again for b;
    points `Afd n` (FD, RF) and `AFD n VENT REG` (læ, vind). Values from real columns (FD, the two
    curtains as stand-ins for RF and the vents), section b shifted by a day."""
    header, data = lamp_rows()
    sources = [header[0].index(n) for n in ("mål FD", "mål gard 1", "mål gard 2", "mål gard 1")]
    names = ["mål FD", "mål RF", "mål læ", "mål vind"]
    variables = ["humidity_deficit", "relative_humidity", "vent_position_lee", "vent_position_wind"]
    units = ["g/m3", "%", "%", "%"]
    columns, points, expected = [], [], {}
    for section, shift in ((a, 0), (b, 288)):
        for i, (source, variable) in enumerate(zip(sources, variables, strict=True)):
            values = shifted(data, source, shift + 7 * i)
            columns.append(values)
            points.append(f"NORRING:Afd {section}" if i < 2 else f"NORRING:AFD {section} VENT REG")
            expected[(f"NO{section}", variable)] = values
    rows = [[row[0], *(c[i] for c in columns)] for i, row in enumerate(data)]
    path = knudjepsen_file(folder / f"NO{a}NO{b}.extra.csv", [["", *names * 2], ["", *points], ["", *units * 2]], rows)
    return path, expected


def units_file(folder: Path, zone: int, temperature_unit: str, radiation_unit: str = "W/m²") -> Path:
    """A one-section file from the real rows, section 3 renumbered `zone` (file name and points), whose
    unit row declares `temperature_unit` for the air temperature (°F: values converted to it) and
    `radiation_unit` for the radiation (kW/m²: /1000)."""
    header, data = lamp_rows()
    points = [re.sub(r"(?i)\b(afd|system) 3\b", lambda m: f"{m.group(1)} {zone}", p) for p in header[1]]
    temperature, radiation = header[0].index("mål temp afd  Mid"), header[0].index("stråling")
    units_row = list(header[2])
    units_row[temperature], units_row[radiation] = temperature_unit, radiation_unit
    rows = []
    for row in data:
        row = list(row)
        t, r = number(row[temperature]), number(row[radiation])
        if temperature_unit == "°F" and t is not None:
            row[temperature] = repr(t * 9 / 5 + 32).replace(".", ",")
        if radiation_unit == "kW/m²" and r is not None:
            row[radiation] = repr(r / 1000).replace(".", ",")
        rows.append(row)
    return knudjepsen_file(folder / f"NO{zone}_LAMPEGRP_1.csv", [header[0], points, units_row], rows)


@pytest.fixture
def registry(tmp_path, monkeypatch) -> SourceRegistry:
    """The real registry plus a `streams:` table mapping some UUIDs of the converted cells 6 and 7."""
    raw = yaml.safe_load(settings.SOURCE_REGISTRY.read_text(encoding="utf-8"))
    aarslev = next(s for s in raw["sources"] if s["name"] == "aarslev")
    for cell in (6, 7):
        for stream, (variable, unit, reason) in MAPPED.items():
            entry = {"uuid": stream_uuid(cell, stream), "zone": f"celle{cell}", "variable": variable, "unit": unit}
            if reason:
                entry |= {"declared_unit": "ignore", "reason": reason}
            aarslev["streams"].append(entry)
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(settings, "SOURCE_REGISTRY", path)
    return SourceRegistry.load(path)


def staged(path: Path, registry: SourceRegistry):
    parsed = open_file(path, registry)
    return parsed, pl.concat(parsed.batches(rows=700))


# --- item 2: streams keyed by UUID ---------------------------------------------------------------


@pytest.mark.pure
@pytest.mark.parametrize("cell", [6, 7])
def test_uuid_list_json_is_read_and_mapped_by_uuid(tmp_path, registry, cell):
    path = uuid_json(cell, tmp_path / f"celle{cell}" / "output-2014-01-01-00-00.csv.json")
    parsed, frame = staged(path, registry)
    assert (parsed.source.name, parsed.rule.name, parsed.detection["shape"]) == ("aarslev", "cell_smap", "list")
    by_name = {c.original_name: c for c in parsed.columns}

    # A stream with a Path is named and mapped by it; the others are named by their uuid.
    path_column = by_name[f"/Cell{cell}/{BY_PATH}"]
    assert (path_column.variable, path_column.zone, path_column.uuid) == (
        "air_temperature",
        f"celle{cell}",
        stream_uuid(cell, BY_PATH),
    )
    for stream, (variable, _unit, _reason) in MAPPED.items():
        column = by_name[stream_uuid(cell, stream)]
        assert (column.variable, column.zone, column.canonical_unit) == (
            variable,
            f"celle{cell}",
            registry.vocabulary[variable],
        )
    assert (by_name[stream_uuid(cell, "humidity_vpd")].scale, by_name[stream_uuid(cell, "co2")].scale) == (0.1, 1.0)

    # Unmapped UUIDs are staged as they are (variable null, no zone) and reported.
    real = json.loads(SMAP_JSON.read_text(encoding="utf-8"))
    unmapped = sorted(
        stream_uuid(cell, k.rsplit("/", 1)[1]) for k in real if k.rsplit("/", 1)[1] not in {BY_PATH, *MAPPED}
    )
    assert len(unmapped) == 10
    assert sorted(c.original_name for c in parsed.columns if c.variable is None) == unmapped
    assert sorted(u["uuid"] for u in parsed.detection["unmapped_uuids"]) == unmapped

    # Staged values: the JSON's readings, at the same instants (January: wall clock UTC+1 = CET).
    co2 = dict(zip(frame["time"].to_list(), frame[stream_uuid(cell, "co2")].to_list(), strict=True))
    for t, v in real["/Cell5/co2"]["Readings"]:
        assert co2[datetime.fromtimestamp(t / 1000, UTC)] == v
    unmapped_values = frame[unmapped[0]].drop_nulls()
    assert unmapped_values.len() > 1000


@pytest.mark.pure
def test_uuid_csv_twin_reads_like_the_json(tmp_path, registry):
    json_path = uuid_json(6, tmp_path / "celle6" / "output-2014-01-01-00-00.csv.json")
    csv_path = uuid_csv(6, tmp_path / "celle6" / "output-2014-01-01-00-00.csv")
    parsed_json, from_json = staged(json_path, registry)
    parsed_csv, from_csv = staged(csv_path, registry)
    assert parsed_csv.rule.name == "cell_stream_csv"  # told from the logger CSV of that name by its header
    assert parsed_csv.detection["timestamp"]["format"] == "epoch_ms"
    mapped = {(c.uuid or c.original_name): (c.variable, c.zone) for c in parsed_json.columns}
    for column in parsed_csv.columns:
        if column.variable is not None:
            assert mapped[column.original_name] == (column.variable, column.zone)
    # The air temperature is mapped by Path in the JSON; in the CSV its uuid is not in the table.
    assert {c.variable for c in parsed_csv.columns if c.variable} == {v for v, _u, _r in MAPPED.values()}
    assert len(parsed_csv.detection["unmapped_uuids"]) == 11
    uuid_co2 = stream_uuid(6, "co2")
    assert (
        from_csv.select("time", uuid_co2)
        .drop_nulls()
        .sort("time")
        .equals(from_json.select("time", uuid_co2).drop_nulls().sort("time"))
    )


@pytest.mark.pure
def test_an_unmapped_uuid_is_not_fatal_with_the_real_registry(tmp_path):
    """With no stream mapped (the real registry knows Cell 5's UUIDs only), the file still loads."""
    path = uuid_json(8, tmp_path / "celle8" / "output-2014-01-01-00-00.csv.json")
    parsed, frame = staged(path, SourceRegistry.load())
    assert [c.variable for c in parsed.columns if c.variable] == ["air_temperature"]  # by its Path
    assert len(parsed.detection["unmapped_uuids"]) == 14
    real = json.loads(SMAP_JSON.read_text(encoding="utf-8"))
    assert frame.height == len({t for s in real.values() for t, _v in s["Readings"]})


@pytest.mark.pure
def test_real_cell5_uuids_map_like_their_paths(tmp_path):
    """The real registry's `streams` table: Cell 5 as a UUID-only list maps exactly like the original."""
    real = json.loads(SMAP_JSON.read_text(encoding="utf-8"))
    streams = [{"uuid": s["uuid"], "Readings": s["Readings"], "Properties": s["Properties"]} for s in real.values()]
    path = tmp_path / "celle5" / "output-2014-01-01-00-00.csv.json"
    path.parent.mkdir()
    path.write_text(json.dumps(streams), encoding="utf-8")
    registry = SourceRegistry.load()
    original = {c.uuid: (c.variable, c.zone, c.scale) for c in open_file(SMAP_JSON, registry).columns}
    converted = {c.uuid: (c.variable, c.zone, c.scale) for c in open_file(path, registry).columns}
    assert converted == original and None not in {v for v, _z, _s in converted.values()}


# --- item 5: columns told apart by the controller point -----------------------------------------


@pytest.mark.pure
@pytest.mark.parametrize("sections", [(3, 4), (5, 6)])
def test_lamp_groups_of_two_sections_in_one_file(tmp_path, sections):
    path, expected = lamp_groups_file(tmp_path, *sections)
    assert len({tuple(v) for v in expected.values()}) == 6  # six distinct series: a swap would show
    parsed, frame = staged(path, SourceRegistry.load())
    assert (parsed.source.name, parsed.detection["header_rows"]) == ("knudjepsen", 3)
    got = [(c.original_name, c.point, c.zone, c.variable) for c in parsed.columns]
    a, b = sections
    assert got == [
        ("målt status", f"NORRING:BEL.SYSTEM {s} LAMPGRP {g}", f"NO{s}", v)
        for s in (a, b)
        for g, v in ((1, "lamp_status"), (2, "lamp_status_2"), (3, "lamp_status_3"))
    ]
    for column in parsed.columns:
        assert frame[column.staged_name].to_list() == [number(x) for x in expected[(column.zone, column.variable)]]


@pytest.mark.pure
@pytest.mark.parametrize("sections", [(3, 4), (5, 6)])
def test_repeated_names_with_section_points(tmp_path, sections):
    path, expected = extra_file(tmp_path, *sections)
    parsed, frame = staged(path, SourceRegistry.load())
    a, b = sections
    assert [(c.zone, c.variable) for c in parsed.columns] == [
        (f"NO{s}", v)
        for s in (a, b)
        for v in ("humidity_deficit", "relative_humidity", "vent_position_lee", "vent_position_wind")
    ]
    for column in parsed.columns:
        assert frame[column.staged_name].to_list() == [number(x) for x in expected[(column.zone, column.variable)]]


@pytest.mark.pure
def test_real_lamp_group_file_keeps_its_zone_and_names():
    """The point decides the zone where it names a section; the weather-station columns keep the file's."""
    parsed = open_file(LAMPS, SourceRegistry.load())
    assert {c.zone for c in parsed.columns} == {"NO3"}
    assert {c.original_name: c.variable for c in parsed.columns}["målt status"] == "lamp_status"


@pytest.mark.pure
def test_a_file_name_naming_one_zone_wins_over_the_points(tmp_path):
    """Zone rules are tried in order: the file name where it names one zone, only then the point."""
    header, data = lamp_rows()
    path = knudjepsen_file(tmp_path / "NO9_LAMPEGRP_1.csv", header, data)  # points still say Afd 3
    assert {c.zone for c in open_file(path, SourceRegistry.load()).columns} == {"NO9"}


@pytest.mark.pure
def test_spelling_variants_of_one_unit_need_no_conversion():
    from greenhouse_assets.ingest import units

    assert units.convert("g/m3", "g/m³") == units.convert("W/m^2", "W/m²") == units.Linear(1.0, 0.0)
    assert units.convert("%", "ppm") == units.Linear(10_000.0, 0.0)  # CO2 in % volume
    with pytest.raises(units.UnitError, match="on/off state"):
        units.convert("%", "0/1")


@pytest.mark.pure
def test_point_without_a_section_in_a_two_section_file_is_refused(tmp_path):
    """A mapped column whose point names no section, in a file whose name names none either."""
    header, data = lamp_rows()
    path = knudjepsen_file(
        tmp_path / "NO3-NO4_vejr.csv",
        [["", "udetemp"], ["", "NORRING:VEJRSTATION"], ["", "°C"]],
        [[row[0], row[header[0].index("udetemp")]] for row in data],
    )
    with pytest.raises(IngestError) as caught:
        open_file(path, SourceRegistry.load())
    assert caught.value.column == "udetemp" and caught.value.reason.startswith("no zone for mapped column")


# --- item 6: declared units checked and converted -----------------------------------------------


@pytest.mark.pure
def test_declared_units_that_convert_are_converted(tmp_path):
    path = units_file(tmp_path, 7, "°F", "kW/m²")
    parsed, frame = staged(path, SourceRegistry.load())
    assert {c.zone for c in parsed.columns} == {"NO7"}
    columns = {c.variable: c for c in parsed.columns}
    temperature, radiation = columns["air_temperature"], columns["radiation"]
    assert (temperature.unit, temperature.scale, temperature.offset) == ("°F", 5 / 9, -160 / 9)
    assert (radiation.unit, radiation.scale, radiation.offset) == ("kW/m²", 1000.0, 0.0)
    assert "°F -> °C" in temperature.unit_note and "kW/m² -> W/m²" in radiation.unit_note
    assert {c["column"] for c in parsed.detection["unit_conversions"]} >= {"mål temp afd  Mid", "stråling"}
    # Converted back with the recorded scale/offset, the staged values are the real file's.
    header, data = lamp_rows()
    for column, index in (
        (temperature, header[0].index("mål temp afd  Mid")),
        (radiation, header[0].index("stråling")),
    ):
        staged_values = frame[column.staged_name].to_list()
        for raw, value in zip(data, staged_values, strict=True):
            original = number(raw[index])
            if original is None:
                assert value is None
            else:
                assert value * column.scale + column.offset == pytest.approx(original, abs=1e-9)


@pytest.mark.pure
@pytest.mark.parametrize(("declared", "found"), [("m/s", "m/s"), ("0/1", "0/1"), ("Grad", "Grad")])
def test_declared_unit_that_does_not_convert_is_refused(tmp_path, declared, found):
    with pytest.raises(IngestError) as caught:
        open_file(units_file(tmp_path, 7, declared), SourceRegistry.load())
    error = caught.value
    assert error.column == "mål temp afd  Mid" and error.found == found
    assert error.expected == "'°C' or a unit that converts to it (registry unit of air_temperature)"
    assert error.reason.startswith("declared unit does not convert")


def test_a_wrong_declared_unit_is_quarantined_with_file_column_expected_found(clean_platform, tmp_path):
    path = units_file(tmp_path / "landing", 7, "m/s")
    lake = tmp_path / "lake"
    outcome = receive_file(
        path,
        landing_root=tmp_path / "landing",
        store=LakeStore(lake),
        database=At(clean_platform),
        registry=SourceRegistry.load(),
    )
    assert outcome.status == "quarantined"
    with psycopg.connect(libpq_url(clean_platform)) as conn:
        error, detail = conn.execute(
            "SELECT error, error_detail FROM metadata.files WHERE file_id = %s", (outcome.file_id,)
        ).fetchone()
    assert error == (
        "NO7_LAMPEGRP_1.csv, column 'mål temp afd  Mid': declared unit does not convert "
        "('m/s' is [length] * [time]^-1, '°C' is [temperature]): expected '°C' or a unit that "
        "converts to it (registry unit of air_temperature), found 'm/s'"
    )
    assert (detail["column"], detail["found"]) == ("mål temp afd  Mid", "m/s")


@pytest.mark.pure
def test_registry_refuses_bad_unit_config(tmp_path):
    raw = yaml.safe_load(settings.SOURCE_REGISTRY.read_text(encoding="utf-8"))
    rule = raw["sources"][0]["rules"][0]
    rule["columns"][0]["unit"] = "m/s"  # air temperature
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="does not convert to its canonical '°C'"):
        SourceRegistry.load(path)
    rule["columns"][0] |= {"unit": "°C", "declared_unit": "ignore"}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="needs a `reason`"):
        SourceRegistry.load(path)


# --- all three through staging and dbt into timeseries.measurements -------------------------------


def test_streams_points_and_units_reach_measurements(clean_platform, registry, tmp_path):
    url, root, lake = clean_platform, tmp_path / "landing", tmp_path / "lake"
    # The JSON holds the first two thirds of the month's readings, its CSV twin the last two thirds:
    # the middle third overlaps and must merge by precedence (JSON 20 over CSV 15), not duplicate.
    n = len(json.loads(SMAP_JSON.read_text(encoding="utf-8"))["/Cell5/co2"]["Readings"])
    first, last = slice(0, 2 * n // 3), slice(n // 3, None)
    json_out = stage(
        url, uuid_json(6, root / "celle6" / "output-2014-01-01-00-00.csv.json", first), root, lake, registry
    )
    csv_out = stage(url, uuid_csv(6, root / "celle6" / "output-2014-01-01-00-00.csv", last), root, lake, registry)
    lamps_path, lamps = lamp_groups_file(root, 5, 6)
    lamps_out = stage(url, lamps_path, root, lake, registry)
    units_out = stage(url, units_file(root, 7, "°F", "kW/m²"), root, lake, registry)

    assert json_out.detection["unmapped_uuids"] and raw_metadata(json_out)["unmapped_uuids"]
    assert raw_metadata(units_out)["unit_conversions"]

    result = dg.materialize(
        [timeseries_dbt],
        instance=dg.DagsterInstance.ephemeral(),
        resources={**resources().resources, **transform_resources().resources},
    )
    assert result.success
    assert [
        e.check_name
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ] == []

    with psycopg.connect(libpq_url(url)) as conn:

        def series(zone: str) -> dict:
            return {
                (t, v): (value, f)
                for t, v, value, f in conn.execute(
                    "SELECT time, variable, value, file_id FROM timeseries.measurements WHERE zone = %s", (zone,)
                )
            }

        # Streams: every mapped reading of either file once, JSON winning where both have it.
        cell6 = series("celle6")
        json_keys, csv_keys = expected_streams(6, first), expected_streams(6, last)
        csv_keys = {k: v for k, v in csv_keys.items() if k[1] != "air_temperature"}  # unmapped in the CSV
        assert set(cell6) == set(json_keys) | set(csv_keys)
        assert {k: pytest.approx(v) for k, v in (csv_keys | json_keys).items()} == {
            k: v for k, (v, _f) in cell6.items()
        }
        overlap = set(json_keys) & set(csv_keys)
        assert len(overlap) > 1000
        assert {cell6[k][1] for k in overlap} == {json_out.file_id}
        assert {cell6[k][1] for k in set(csv_keys) - set(json_keys)} == {csv_out.file_id}
        assert (
            conn.execute(
                "SELECT count(*) FROM timeseries.measurements WHERE zone = 'celle6' AND variable "
                "NOT IN ('air_temperature', 'co2', 'outdoor_temperature', 'vpd', 'radiation')"
            ).fetchone()[0]
            == 0
        )  # unmapped streams stay in staging

        # Points: six lamp groups of two sections, each in its zone and variable.
        # The export's clock is UTC+1 all year: the stored instant is an hour before the wall clock.
        header, data = lamp_rows()
        times = [
            (datetime.strptime(row[0], "%d-%m-%Y %H:%M:%S") - timedelta(hours=1)).replace(tzinfo=UTC) for row in data
        ]
        for zone in ("NO5", "NO6"):
            stored = series(zone)
            assert {v for _t, v in stored} == {"lamp_status", "lamp_status_2", "lamp_status_3"}
            assert {f for _v, f in stored.values()} == {lamps_out.file_id}
            for variable in ("lamp_status", "lamp_status_2", "lamp_status_3"):
                want = {t: number(x) for t, x in zip(times, lamps[(zone, variable)], strict=True) if x.strip()}
                assert {t: value for (t, v), (value, _f) in stored.items() if v == variable} == want

        # Units: °F and kW/m² stored as °C and W/m² equal to the real file's values.
        no7 = series("NO7")
        temperature, radiation = header[0].index("mål temp afd  Mid"), header[0].index("stråling")
        for index, variable in ((temperature, "air_temperature"), (radiation, "radiation")):
            want = {(t, variable): number(row[index]) for t, row in zip(times, data, strict=True) if row[index].strip()}
            got = {k: v for k, (v, _f) in no7.items() if k[1] == variable}
            assert got.keys() == want.keys()
            assert got == {k: pytest.approx(v, abs=1e-9) for k, v in want.items()}
        units = dict(
            conn.execute(
                "SELECT DISTINCT variable, unit FROM timeseries.measurements WHERE zone = 'NO7'"
                " AND variable IN ('air_temperature', 'radiation')"
            ).fetchall()
        )
        assert units == {"air_temperature": "°C", "radiation": "W/m²"}
        recorded = dict(
            conn.execute(
                """SELECT original_name, array[scale, "offset"] FROM metadata.file_columns
               WHERE file_id = %s AND original_name IN ('mål temp afd  Mid', 'stråling')""",
                (units_out.file_id,),
            ).fetchall()
        )
        assert recorded == {"mål temp afd  Mid": [5 / 9, -160 / 9], "stråling": [1000.0, 0.0]}
        columns, detection = conn.execute(
            """SELECT sv.columns, sv.detection FROM metadata.schema_versions sv
               JOIN metadata.files f USING (schema_version_id) WHERE f.file_id = %s""",
            (units_out.file_id,),
        ).fetchone()
        recorded = {c["original"]: (c["unit"], c["scale"], c["offset"]) for c in columns}
        assert recorded["mål temp afd  Mid"] == ("°F", 5 / 9, -160 / 9)
        assert {c["column"] for c in detection["unit_conversions"]} >= {"mål temp afd  Mid", "stråling"}
        unmapped = conn.execute(
            """SELECT sv.detection -> 'unmapped_uuids' FROM metadata.schema_versions sv
               JOIN metadata.files f USING (schema_version_id) WHERE f.file_id = %s""",
            (json_out.file_id,),
        ).fetchone()[0]
        assert len(unmapped) == 10
        points = conn.execute(
            "SELECT DISTINCT point, zone, variable FROM metadata.file_columns WHERE file_id = %s ORDER BY point",
            (lamps_out.file_id,),
        ).fetchall()
        assert points[0] == ("NORRING:BEL.SYSTEM 5 LAMPGRP 1", "NO5", "lamp_status")
        assert len(points) == 6
