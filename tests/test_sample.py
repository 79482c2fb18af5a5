"""`generate_sample`: byte-level formats of the real exports, DST handling, JSON/CSV agreement,
determinism and physically plausible values. Fast, no database."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from greenhouse_dev.sample import generate_sample
from greenhouse_dev.sample.aarslev import SMAP_ORDER

pytestmark = pytest.mark.pure

CPH = ZoneInfo("Europe/Copenhagen")
UTC_PLUS_1 = timezone(timedelta(hours=1))
KNUD_ROW = re.compile(r'"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d"(;(""|-?\d+(,\d{1,2})?)){10}')
AARSLEV_VALUE = re.compile(r'"-?\d+([.,]\d+)?(e[+-]\d{3})?"')
SENTINEL = "-2.14748e+008"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out)
    return out


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b""), f"{path.name}: every line must end in CRLF"
    return raw.decode("utf-8").split("\r\n")


def _aarslev(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = _lines(path)
    assert lines[-1] == ""  # the file ends with CRLF
    return lines[0].split(";"), [line.split(";") for line in lines[1:-1]]


def _number(text: str) -> float:
    return float(text.strip('"').replace(",", "."))


def _is_reset(values: list[str]) -> bool:
    """Logger-reset rows: every value "0", or "0" with the sentinel."""
    return all(v in ('"0"', f'"{SENTINEL}"', '"-2,14748e+008"') for v in values)


def test_default_call_writes_the_real_layout(sample):
    written = generate_sample(sample)
    assert written == sorted(written)
    assert [p.relative_to(sample).as_posix() for p in written] == [
        "aarslev/april2014/MortenSDUData.csv",
        "aarslev/april2014/MortenSDUData2.csv",
        "aarslev/april2014/MortenSDUData3.csv",
        "aarslev/celle5/output-2014-03-01-00-00.csv",
        "aarslev/celle5/output-2014-03-01-00-00.csv.json",
        "aarslev/celle5/output-2014-04-01-00-00.csv",
        "aarslev/celle5/output-2014-04-01-00-00.csv.json",
        "aarslev/celle6/output-2014-03-01-00-00.csv",
        "aarslev/celle6/output-2014-03-01-00-00.csv.json",
        "aarslev/celle6/output-2014-04-01-00-00.csv",
        "aarslev/celle6/output-2014-04-01-00-00.csv.json",
        "aarslev/data_mar_apr_2014.csv",
        "aarslev/marts2014/MortenSDUData.csv",
        "aarslev/marts2014/MortenSDUData2.csv",
        "aarslev/marts2014/MortenSDUData3.csv",
        "knudjepsen/NO3_LAMPEGRP_1.csv",
        "prices/Elspotprices_SYNTHETIC_2014-03-17_2014-04-07.csv",  # one day past the climate: tomorrow's prices
    ]


def test_knudjepsen_format(sample):
    lines = _lines(sample / "knudjepsen" / "NO3_LAMPEGRP_1.csv")
    assert lines[0] == (
        '"";"mål temp afd  Mid";"udetemp";"stråling";"CO2 målt";"mål gard 1";'
        '"mål gard 2";"målt status";"mål FD";"mål rør 1";"mål rør 2"'
    )
    assert lines[1].startswith('"";"NORRING:Afd 3";"NORRING:VEJRSTATION";"NORRING:VEJRSTATION STRÅL.FØLER"')
    assert lines[2] == '"";"°C";"°C";"W/m²";"ppm";"%";"%";"";"g/m3";"°C";"°C"'
    assert lines[-1] == ""
    rows = lines[3:-1]
    assert len(rows) == 21 * 288 + 12
    assert all(KNUD_ROW.fullmatch(row) for row in rows)
    assert any(re.search(r";\d+,\d", row) for row in rows)  # decimal comma in use
    # fixed UTC+1 clock: 5-minute steps straight through the night Denmark switched to summer time
    stamps = [datetime.strptime(row[1:20], "%d-%m-%Y %H:%M:%S") for row in rows]
    assert stamps[0] == datetime(2014, 3, 17)
    assert {b - a for a, b in zip(stamps, stamps[1:])} == {timedelta(minutes=5)}
    empty = [row.split(";")[1:] == ['""'] * 10 for row in rows]
    assert all(empty[-12:]) and not empty[-13]  # trailing all-empty rows, like the real tail
    assert sum(empty[:-12]) >= 12  # whole-row gaps inside the data


def test_aarslev_csv_follows_danish_wall_clock(sample):
    header, rows = _aarslev(sample / "aarslev" / "celle5" / "output-2014-03-01-00-00.csv")
    assert header[:4] == ["Date", "Time", '"Celle 5: Lufttemperatur"', '"Celle 5: Endelig fælles varme sætpunkt"']
    assert header.count('"Celle 5: "') == 2 and len(header) == 19
    per_day = Counter(row[0] for row in rows)
    assert per_day.pop("2014-03-30") == 138
    assert set(per_day.values()) == {144}
    times = [(row[0], row[1]) for row in rows]
    assert not [t for t in times if t[0] == "2014-03-30" and t[1].startswith("02:")]
    at = times.index(("2014-03-30", "01:50:00"))
    assert times[at + 1] == ("2014-03-30", "03:00:00")
    for row in rows:
        assert all(v == "" or AARSLEV_VALUE.fullmatch(v) for v in row[2:])


def test_aarslev_autumn_hour_repeats(tmp_path):
    generate_sample(tmp_path, days=2, start="2014-10-25")
    _, rows = _aarslev(tmp_path / "aarslev" / "celle5" / "output-2014-10-01-00-00.csv")
    day = [row[1] for row in rows if row[0] == "2014-10-26"]
    assert len(day) == 150
    assert Counter(day)["02:30:00"] == 2


def test_aarslev_decimal_point_and_comma_months(sample):
    for cell in (5, 6):
        _, march = _aarslev(sample / "aarslev" / f"celle{cell}" / "output-2014-03-01-00-00.csv")
        _, april = _aarslev(sample / "aarslev" / f"celle{cell}" / "output-2014-04-01-00-00.csv")
        assert not any("," in v for row in march for v in row[2:])
        assert any("." in v for row in march for v in row[2:])
        assert not any("." in v for row in april for v in row[2:])
        assert any("," in v for row in april for v in row[2:])


def test_aarslev_defects(sample):
    for cell in (5, 6):
        rows = []
        for month in ("03", "04"):
            rows += _aarslev(sample / "aarslev" / f"celle{cell}" / f"output-2014-{month}-01-00-00.csv")[1]
        all_zero = [row for row in rows if row[2:] == ['"0"'] * 17]
        assert len(all_zero) == 2
        sentinel = [i for row in rows for i, v in enumerate(row) if v.replace(",", ".") == f'"{SENTINEL}"']
        assert sentinel == [13, 16]  # Lys intensitet and Udetemperatur, as in the real file
        assert any(row[2:] == [""] * 17 for row in rows)
        assert any("" in row[2:] and row[2:] != [""] * 17 for row in rows)
        assert any(re.fullmatch(r'"\d\.\d+e-00\d"', row[15]) for row in rows)  # idle sun sensor


def test_json_is_the_csv_on_a_fixed_utc_plus_1_clock(sample):
    for cell in (5, 6):
        for month in ("03", "04"):
            csv_path = sample / "aarslev" / f"celle{cell}" / f"output-2014-{month}-01-00-00.csv"
            raw = csv_path.with_name(csv_path.name + ".json").read_text("utf-8")
            assert raw.startswith(f'{{"\\/Cell{cell}\\/flow_temperature_2": {{"Readings": [[')
            assert '"Timezone": "Europe\\/Copenhagen"' in raw and raw.endswith("}}}")
            data = json.loads(raw)
            assert list(data) == [f"/Cell{cell}/{name}" for name in SMAP_ORDER]
            header, rows = _aarslev(csv_path)
            for column, name in enumerate(header[2:], start=2):
                stream = _stream_name(name)
                if stream is None:
                    continue
                entry = data[f"/Cell{cell}/{stream}"]
                assert list(entry) == ["Readings", "uuid", "Properties", "Metadata"]
                readings = [tuple(r) for r in entry["Readings"]]
                assert readings != sorted(readings)
                expected = Counter((_cet_epoch_ms(row), _number(row[column])) for row in rows if row[column])
                assert Counter(readings) == expected


def test_json_epochs_match_true_utc_only_before_the_dst_switch(sample):
    """The real March 2014 JSON puts summer-time readings one hour late; the sample does too."""
    data = json.loads((sample / "aarslev" / "celle5" / "output-2014-03-01-00-00.csv.json").read_text())
    epochs = {t for t, _ in data["/Cell5/air_temperature"]["Readings"]}
    winter = datetime(2014, 3, 30, 1, 50, tzinfo=CPH)
    summer = datetime(2014, 3, 30, 3, 0, tzinfo=CPH)
    assert int(winter.timestamp() * 1000) in epochs
    assert int(summer.timestamp() * 1000) + 3_600_000 in epochs


def test_morten_sdu_files(sample):
    for folder, hours, start, end in (
        ("marts2014", 15 * 24, "2014-03-17 00:00", "2014-04-01 00:00"),
        ("april2014", 6 * 24, "2014-04-01 00:00", "2014-04-07 00:00"),
    ):
        base = sample / "aarslev" / folder
        main, aggregate, third = (_lines(base / f"MortenSDUData{s}.csv") for s in ("", "2", "3"))
        assert main[0] == (
            "Start,End,Celle 6.RH Zone1 (Celle 6) [RH%],Celle 6.CO2 (Celle 6) [ppm],"
            "Celle 6.CO2 status (Celle 6) [],Celle 6.Luft temp (Celle 6) [°C],"
            "Celle 6.Flow1 (Celle 6) [°C]"
        )
        assert third[0].split(",")[3] == "Celle 6.Lys (Celle 6) [μmol]"
        assert len(main) == len(third) == hours + 2  # header, rows, final CRLF
        assert main[1].startswith(f"{start},{start[:14]}59,")
        assert main[-2].split(",")[1] == end  # the last hour ends at the period's end, not at :59
        assert len(aggregate) == 3 and aggregate[1].startswith(f"{start},{end},")
        cells = [c for line in main[1:-1] for c in line.split(",")[2:]]
        assert cells.count("5.3e+36") == 1 and cells.count("") == 2
        assert sum(line.endswith(",0.0,0.0,0.0,0.0,0.0") for line in third[1:-1]) == 1


def test_morten_sdu_hours_run_on_a_fixed_utc_plus_1_clock(sample):
    """No DST, as the `morten_sdu` rule in sources.yaml reads them: 24 hours on every day."""
    for name in ("MortenSDUData.csv", "MortenSDUData3.csv"):
        starts = [line.split(",")[0] for line in _lines(sample / "aarslev" / "marts2014" / name)[1:-1]]
        assert "2014-03-30 02:00" in starts  # the hour Danish summer time skips
        assert set(Counter(s[:10] for s in starts).values()) == {24}
        stamps = [datetime.strptime(s, "%Y-%m-%d %H:%M") for s in starts]
        assert {b - a for a, b in zip(stamps, stamps[1:])} == {timedelta(hours=1)}


def test_morten_sdu_autumn_has_no_repeated_hour(tmp_path):
    generate_sample(tmp_path, days=2, start="2014-10-25")
    lines = _lines(tmp_path / "aarslev" / "oktober2014" / "MortenSDUData.csv")[1:-1]
    starts = [line.split(",")[0] for line in lines]
    assert len(starts) == len(set(starts)) == 48
    assert lines[-1].split(",")[1] == "2014-10-27 00:00"


def test_morten_sdu_agrees_with_celle_6_in_summer_time(sample):
    """Read on their own clocks (Morten UTC+1, the cell CSV Danish time with DST), the hourly air
    temperature is the mean of the same hour's 10-minute values: no one-hour shift after DST."""
    cell = {}
    for month in ("03", "04"):
        for row in _aarslev(sample / "aarslev" / "celle6" / f"output-2014-{month}-01-00-00.csv")[1]:
            wall = datetime.strptime(f"{row[0]} {row[1]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=CPH)
            if row[2]:
                cell[int(wall.timestamp())] = _number(row[2])
    summer_start = datetime(2014, 3, 30, 3, tzinfo=CPH).timestamp()
    differences = []
    for folder in ("marts2014", "april2014"):
        for line in _lines(sample / "aarslev" / folder / "MortenSDUData.csv")[1:-1]:
            start, _, *values = line.split(",")
            hour = datetime.strptime(start, "%Y-%m-%d %H:%M").replace(tzinfo=UTC_PLUS_1).timestamp()
            tens = [cell.get(int(hour) + 600 * k) for k in range(6)]
            if hour >= summer_start and values[3] not in ("", "5.3e+36") and None not in tens:
                differences.append(abs(float(values[3]) - sum(tens) / 6))
    assert len(differences) > 150
    assert sorted(differences)[len(differences) // 2] < 0.1  # median; a 1 h shift gives ~0.4


def test_weather_file(sample):
    raw = (sample / "aarslev" / "data_mar_apr_2014.csv").read_bytes()
    assert not raw.endswith(b"\n")  # like the real file, no newline after the last row
    lines = raw.decode("ascii").split("\r\n")
    assert lines[0] == "timestamp;temperature_forecast;sun_radiation_forecast;sun_radiation;temperature"
    stamps = [int(line.split(";")[0]) for line in lines[1:]]
    assert stamps[0] == int(datetime(2014, 3, 17, tzinfo=CPH).timestamp() * 1000)
    assert len(stamps) == 21 * 24 - 1
    assert {b - a for a, b in zip(stamps, stamps[1:])} == {3_600_000}
    assert all(re.fullmatch(r"\d{13}(;-?\d+\.\d{3}){4}", line) for line in lines[1:])


def test_price_file_is_synthetic_elspotprices(sample):
    """Energi Data Service's CSV export (`;`, decimal comma, newest first), labelled synthetic in its
    name and on every row, with a double daily peak, cheaper weekends and DKK = 7.4626 x EUR."""
    lines = _lines(sample / "prices" / "Elspotprices_SYNTHETIC_2014-03-17_2014-04-07.csv")
    assert lines[0] == "HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR;Note" and lines[-1] == ""
    rows = [line.split(";") for line in lines[1:-1]]
    assert len(rows) == 2 * (22 * 24 - 1)  # two areas, 21 days and the day-ahead; 2014-03-30 has 23 local hours
    assert all("SYNTHETIC" in row[5] for row in rows)
    assert all(re.fullmatch(r"-?\d+,\d\d", v) for row in rows for v in row[3:5])
    assert [row[0] for row in rows] == sorted((row[0] for row in rows), reverse=True)  # newest first
    dk1 = {row[0]: (_number(row[3]), _number(row[4]), row[1]) for row in rows if row[2] == "DK1"}
    assert {row[2] for row in rows} == {"DK1", "DK2"}
    assert all(abs(dkk - round(eur * 7.4626, 2)) < 0.006 for dkk, eur, _ in dk1.values())
    by_local_hour, weekday, weekend = {}, [], []
    for _dkk, eur, local in dk1.values():
        stamp = datetime.strptime(local, "%Y-%m-%d %H:%M")
        by_local_hour.setdefault(stamp.hour, []).append(eur)
        (weekend if stamp.weekday() >= 5 else weekday).append(eur)
    mean = {h: sum(v) / len(v) for h, v in by_local_hour.items()}
    assert mean[8] > mean[12] < mean[18] and mean[8] > mean[3] and mean[18] > mean[3]  # two peaks
    assert sum(weekend) / len(weekend) < sum(weekday) / len(weekday)
    assert all(-50 < eur < 200 for _, eur, _ in dk1.values())


def test_price_file_hour_dk_repeats_in_october(tmp_path):
    generate_sample(tmp_path, days=2, start="2014-10-25")
    rows = [
        line.split(";")
        for line in _lines(tmp_path / "prices" / "Elspotprices_SYNTHETIC_2014-10-25_2014-10-27.csv")[1:-1]
    ]
    dk1 = [row for row in rows if row[2] == "DK1"]
    assert len(dk1) == 73 and len({row[0] for row in dk1}) == 73  # HourUTC unique (24 + 25 + 24 hours)
    assert Counter(row[1] for row in dk1)["2014-10-26 02:00"] == 2  # HourDK repeats


def test_values_are_physically_plausible(sample):
    knud = _lines(sample / "knudjepsen" / "NO3_LAMPEGRP_1.csv")[3:-1]
    limits = {
        1: (5, 45),
        2: (-30, 40),
        3: (0, 1500),
        4: (0, 3000),
        5: (0, 100),
        6: (0, 100),
        7: (0, 1),
        8: (0, 30),
        9: (0, 100),
        10: (0, 100),
    }
    for row in knud:
        for column, value in enumerate(row.split(";")):
            if column and value != '""':
                low, high = limits[column]
                assert low <= _number(value) <= high, row

    aarslev_limits = {
        2: (5, 45),
        3: (5, 45),
        4: (0, 100),
        5: (0, 100),
        6: (0, 100),
        7: (0, 60),
        8: (0, 3000),
        9: (0, 3000),
        10: (0, 1),
        11: (0, 1),
        12: (0, 1),
        13: (0, 2500),
        14: (0, 100),
        15: (0, 1500),
        16: (-30, 40),
        17: (0, 100),
        18: (0, 100),
    }
    for cell in (5, 6):
        for month in ("03", "04"):
            _, rows = _aarslev(sample / "aarslev" / f"celle{cell}" / f"output-2014-{month}-01-00-00.csv")
            for row in rows:
                if _is_reset(row[2:]):
                    continue
                for column, value in enumerate(row[2:], start=2):
                    low, high = aarslev_limits[column]
                    assert value == "" or low <= _number(value) <= high, (column, row)

    for folder in ("marts2014", "april2014"):
        for line in _lines(sample / "aarslev" / folder / "MortenSDUData.csv")[1:-1]:
            ranges = [(0, 100), (0, 3000), (0, 1), (5, 45), (0, 100)]  # RH, CO2, status, air, flow
            for value, (low, high) in zip(line.split(",")[2:], ranges):
                assert value in ("", "5.3e+36") or low <= float(value) <= high, line


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = generate_sample(tmp_path / "a", days=3, seed=7)
    again = generate_sample(tmp_path / "b", days=3, seed=7)
    other = generate_sample(tmp_path / "c", days=3, seed=8)
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "c") for p in other]
    for a, b, c in zip(first, again, other):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_single_day(tmp_path):
    written = generate_sample(tmp_path, days=1, start="2014-06-10")
    assert len(written) == 1 + 2 * 2 + 3 + 1 + 1
    assert len(_lines(tmp_path / "knudjepsen" / "NO3_LAMPEGRP_1.csv")) == 3 + 288 + 12 + 1
    _, rows = _aarslev(tmp_path / "aarslev" / "celle6" / "output-2014-06-01-00-00.csv")
    assert len(rows) == 144
    assert sum(row[2:] == ['"0"'] * 17 for row in rows) == 2
    assert len(_lines(tmp_path / "aarslev" / "juni2014" / "MortenSDUData.csv")) == 24 + 2
    assert (tmp_path / "aarslev" / "data_jun_2014.csv").exists()


def test_year_boundary(tmp_path):
    written = generate_sample(tmp_path, days=7, start="2013-12-28")
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {
        "aarslev/december2013/MortenSDUData2.csv",
        "aarslev/januar2014/MortenSDUData2.csv",
        "aarslev/celle5/output-2013-12-01-00-00.csv",
        "aarslev/celle5/output-2014-01-01-00-00.csv",
        "aarslev/data_dec_2013_jan_2014.csv",
    } <= names
    _, january = _aarslev(tmp_path / "aarslev" / "celle5" / "output-2014-01-01-00-00.csv")
    assert january[0][:2] == ["2014-01-01", "00:00:00"] and len(january) == 3 * 144
    assert any("," in v for row in january for v in row[2:])  # the second month uses decimal comma


def test_rejects_empty_span(tmp_path):
    with pytest.raises(ValueError):
        generate_sample(tmp_path, days=0)


def _stream_name(csv_name: str) -> str | None:
    names = {
        "Lufttemperatur": "air_temperature",
        "Endelig fælles varme sætpunkt": "final_heat_setpoint",
        "Vent. position 1": "vent_position_1",
        "Vent. position 2": "vent_position_2",
        "Luftfugtighed RH%": "humidity_relative",
        "Luftfugtighed VPD": "humidity_vpd",
        "CO2": "co2",
        "CO2 krav": "co2_demand",
        "CO2 dosering": "co2_dosing",
        "Lys intensitet": "light_intensity",
        "Gardin 1 position": "shader_position_1",
        "Solindstråling": "sun_radiation",
        "Udetemperatur": "outside_temperature",
        "Flow temperatur 1": "flow_temperature_1",
        "Flow temperatur 2": "flow_temperature_2",
    }
    return names.get(csv_name.strip('"').split(": ", 1)[1])


def _cet_epoch_ms(row: list[str]) -> int:
    wall = datetime.strptime(f"{row[0]} {row[1]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC_PLUS_1)
    return int(wall.timestamp() * 1000)


def test_smap_autumn_keeps_one_reading_per_stream_and_time_the_later_pass(tmp_path):
    """Both passes of the repeated hour map to the same UTC+1 epochs; sMAP keeps the one written last."""
    generate_sample(tmp_path, days=2, start="2014-10-25")
    base = tmp_path / "aarslev" / "celle5" / "output-2014-10-01-00-00.csv"
    _, rows = _aarslev(base)
    document = json.loads(base.with_name(base.name + ".json").read_text(encoding="utf-8"))
    for stream in document.values():
        epochs = [t for t, _ in stream["Readings"]]
        assert len(epochs) == len(set(epochs))
    air = dict(document["/Cell5/air_temperature"]["Readings"])
    second_pass = [row for row in rows if row[0] == "2014-10-26" and row[1].startswith("02:")][6:]
    for row in second_pass:
        epoch = int(datetime.fromisoformat(f"{row[0]}T{row[1]}").replace(tzinfo=UTC_PLUS_1).timestamp() * 1000)
        if row[2]:
            assert air[epoch] == _number(row[2])
