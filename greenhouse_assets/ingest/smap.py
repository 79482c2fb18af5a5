"""sMAP JSON: `{stream: {"Readings": [[epoch, value], ...], "Properties": {...}}, ...}`, or a list of
streams keyed by UUID: `[{"uuid": "5f893ebd-…", "Readings": [...], "Path"?: …, "Properties"?: …}, ...]`.

A stream's name is its key (object shape), else its `Path`, else its `uuid` (list shape); its UUID
(`uuid`, both shapes) is kept beside the name so the registry can map streams by UUID.

The streams become one wide table, one column per stream in file order, one row per distinct
time, sorted by time (the real exports list readings unsorted). `_row_number` is the 1-based
position of the row in that time-sorted table: a reading is traced back to its bytes by
(stream key, time), which is unique. Errors in a reading name the stream as column and the
reading's 1-based position in its `Readings` array as row.

Epochs are UTC; values of 1e11 and more are milliseconds, smaller ones seconds; an integral float
(`1401228000000.0`) is the same epoch. The same
reading listed twice is loaded once; two different values at one time are an error. The
file is parsed whole (the standard library has no streaming JSON parser and monthly files are
about a megabyte).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from greenhouse_assets.ingest.errors import IngestError

_SHAPE = (
    'an object of streams {name: {"Readings": [[epoch, value], ...]}} or a list of streams '
    '[{"uuid": ..., "Readings": [...]}, ...]'
)
_EPOCH_MS_FROM = 10**11


@dataclass(frozen=True)
class SmapTable:
    names: list[str]  # stream keys (list shape: Path, else uuid), file order
    units: list[str | None]  # Properties.UnitofMeasure
    frame: pl.DataFrame  # "time" (UTC) then one Float64 column per stream, named s<index>
    epoch_unit: str
    timezones: list[str]  # distinct Properties.Timezone values (documentation only)
    uuids: list[str | None] | None = None  # each stream's uuid, if it has one
    shape: str = "object"  # "object" (streams by name) | "list" (streams keyed by uuid)


def read_smap(path: Path) -> SmapTable:
    raw = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys(path))
    except UnicodeDecodeError as exc:
        raise IngestError(
            path, "", row=raw[: exc.start].count(b"\n") + 1, expected="UTF-8 JSON", found=f"byte 0x{raw[exc.start]:02x}"
        ) from None
    except json.JSONDecodeError as exc:
        raise IngestError(path, f"invalid JSON ({exc.msg})", row=exc.lineno) from None
    streams = _streams(path, document)
    names, units, uuids, timezones, parts = [], [], [], set(), []
    for index, (key, stream) in enumerate(streams):
        if not isinstance(stream, dict) or not isinstance(stream.get("Readings"), list):
            raise IngestError(
                path,
                "wrong JSON shape",
                column=key,
                expected='an object with a "Readings" list',
                found=type(stream).__name__,
            )
        properties = stream.get("Properties") if isinstance(stream.get("Properties"), dict) else {}
        names.append(key)
        uuids.append(str(stream["uuid"]).strip().lower() if stream.get("uuid") else None)
        units.append(properties.get("UnitofMeasure"))
        if properties.get("Timezone"):
            timezones.add(properties["Timezone"])
        parts.append(_readings(path, key, index, stream["Readings"]))
    long = pl.concat(parts)
    if long.height == 0:
        raise IngestError(path, "no data rows: every stream has empty Readings")
    unit = "ms" if long["t"].max() >= _EPOCH_MS_FROM else "s"  # type: ignore[operator]
    _check_conflicts(path, long, names)
    wide = long.unique(["s", "t"]).pivot(on="s", index="t", values="v").sort("t")
    columns = [f"s{i}" for i in range(len(names))]
    wide = wide.select(
        pl.from_epoch("t", time_unit=unit).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("time"),
        *[(pl.col(c) if c in wide.columns else pl.lit(None, pl.Float64)).alias(c) for c in columns],
    )
    return SmapTable(
        names, units, wide, unit, sorted(timezones), uuids, "list" if isinstance(document, list) else "object"
    )


def _streams(path: Path, document: object) -> list[tuple[str, object]]:
    """(name, stream) pairs of either shape; a list stream is named by its Path, else its uuid."""
    if isinstance(document, dict) and document:
        return list(document.items())
    if isinstance(document, list) and document:
        named = []
        for position, stream in enumerate(document, 1):
            name = None
            if isinstance(stream, dict):
                name = next((str(stream[k]) for k in ("Path", "path", "uuid") if stream.get(k)), None)
            if name is None:
                raise IngestError(
                    path,
                    "wrong JSON shape",
                    row=position,
                    expected='a stream object with a "uuid" (or "Path") and a "Readings" list',
                    found=json.dumps(stream)[:80],
                )
            named.append((name, stream))
        return named
    found = type(document).__name__ if document not in ({}, []) else json.dumps(document)
    raise IngestError(path, "wrong JSON shape", expected=_SHAPE, found=found)


def _readings(path: Path, key: str, index: int, readings: list) -> pl.DataFrame:
    times, values = [], []
    for position, reading in enumerate(readings, 1):
        ok = isinstance(reading, list) and len(reading) == 2
        time, value = reading if ok else (None, None)
        if not ok or not _is_number(time) or not float(time).is_integer():
            raise IngestError(
                path,
                "",
                row=position,
                column=key,
                expected="a reading [epoch, value] with an integer epoch",
                found=json.dumps(reading)[:80],
            )
        if value is not None and not _is_number(value):
            raise IngestError(
                path, "", row=position, column=key, expected="a number or null", found=json.dumps(value)[:80]
            )
        times.append(int(time))  # an integral float epoch (1401228000000.0) is the same epoch
        values.append(None if value is None else float(value))
    return pl.DataFrame(
        {"s": [f"s{index}"] * len(times), "t": times, "v": values, "pos": list(range(1, len(times) + 1))},
        schema={"s": pl.String, "t": pl.Int64, "v": pl.Float64, "pos": pl.Int64},
    )


def _check_conflicts(path: Path, long: pl.DataFrame, names: list[str]) -> None:
    clashes = (
        long.group_by("s", "t")
        .agg(pl.col("v").n_unique().alias("n"), pl.col("pos").max())
        .filter(pl.col("n") > 1)
        .sort("pos")
    )
    if clashes.height:
        stream, position = clashes["s"][0], clashes["pos"][0]
        raise IngestError(
            path,
            "two different values at one time",
            row=int(position),
            column=names[int(stream[1:])],
            expected="one value per time per stream",
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unique_keys(path: Path):
    def hook(pairs: list[tuple[str, object]]) -> dict:
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                raise IngestError(path, "duplicate key in JSON object", column=key)
            seen[key] = value
        return seen

    return hook
