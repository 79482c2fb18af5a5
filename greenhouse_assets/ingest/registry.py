"""The source registry (`sources.yaml`): which source a file belongs to and what its columns mean.

Knowledge about sources lives in config so that adding a source, a file pattern or a column
name is an edit to YAML, reviewed like data; this module only loads, validates and applies it.
See the header of `sources.yaml` for the format.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from greenhouse_assets import catalog, settings
from greenhouse_assets.ingest import units
from greenhouse_assets.ingest.errors import IngestError

GENERIC = "generic"
# How naive local times that a DST change makes impossible or double are read (see sources.yaml).
NONEXISTENT_TIME = ("standard", "summer", "error")
AMBIGUOUS_TIME = ("order", "standard", "summer")


@dataclass(frozen=True)
class ColumnMapping:
    """One staged data column and what it measures (variable None: staged but unmapped)."""

    staged_name: str
    original_name: str
    unit: str | None  # as declared by the file (unit row, `[unit]` suffix, sMAP property)
    variable: str | None
    canonical_unit: str | None
    site: str
    zone: str | None
    conversion: str | None = None  # name in the registry's `conversions`, None if unmapped
    point: str | None = None  # controller point (header row 2 of name / point / unit), if any
    uuid: str | None = None  # the stream's UUID (sMAP), if any
    registry_unit: str | None = None  # the unit the registry says the values are in (mapped only)
    # value_canonical = value * scale + offset, from the declared unit (or the registry's, where the
    # file declares none or the registry ignores the declaration) to canonical_unit; None if unmapped.
    scale: float | None = None
    offset: float | None = None
    unit_note: str | None = None  # how the unit was resolved, for metadata and the UI


@dataclass(frozen=True)
class MappingRule:
    pattern: str | None  # `match`: regex searched in the original name (None: any name)
    variable: str
    unit: str
    canonical_unit: str
    conversion: str = "identity"
    point: str | None = None  # `point`: regex searched in the controller point (header row 2)
    uuid: str | None = None  # `uuid`: the stream's UUID, or a column named exactly by it
    zone: str | None = None  # `zone`: this column's zone, instead of the rule's zone rule
    declared_unit: str = "check"  # `declared_unit`: check | ignore (the file's label is wrong)
    reason: str | None = None  # why the declared unit is ignored (required with ignore)

    def matches(self, original_name: str, point: str | None = None, uuid: str | None = None) -> bool:
        """Every condition given must hold: name pattern, point pattern, UUID."""
        if self.uuid is not None and self.uuid not in {(uuid or "").strip().lower(), original_name.strip().lower()}:
            return False
        if self.point is not None and (point is None or re.search(self.point, _nfc(point)) is None):
            return False
        return self.pattern is None or re.search(self.pattern, _nfc(original_name)) is not None

    @property
    def name_pattern(self) -> str:
        """The regex over original names for the dbt seed (a UUID entry: the UUID as a name)."""
        return self.pattern if self.pattern is not None else f"^{self.uuid}$"


@dataclass(frozen=True)
class ZoneRule:
    """Where a column's zone comes from: a constant, the file name, the column name or its
    controller point; `otherwise` is tried when the pattern does not match (a list in YAML)."""

    fixed: str | None = None
    origin: str | None = None  # "filename" | "column" | "point"
    pattern: str | None = None
    template: str = r"\1"
    default: str | None = None
    otherwise: ZoneRule | None = None

    def zone_for(self, path: Path, original_name: str, point: str | None = None) -> str | None:
        if self.fixed is not None:
            return self.fixed
        subject = {"filename": path.name, "column": _nfc(original_name), "point": _nfc(point or "")}[
            self.origin or "column"
        ]
        found = re.search(self.pattern or "", subject) if subject else None
        if found:
            return found.expand(self.template)
        if self.otherwise is not None:
            return self.otherwise.zone_for(path, original_name, point)
        return self.default

    def describe(self) -> str:
        if self.fixed is not None:
            return f"fixed:{self.fixed}"
        text = f"{self.origin}:{self.pattern} -> {self.template}" + (
            f" (default {self.default})" if self.default else ""
        )
        return text + (f" | {self.otherwise.describe()}" if self.otherwise else "")


@dataclass(frozen=True)
class TimestampSpec:
    columns: tuple[str | int, ...]  # names or 0-based positions; two columns = date + time
    format: str | None = None  # strftime, "epoch_ms", "epoch_s"; None = detect


@dataclass(frozen=True)
class FileRule:
    name: str
    globs: tuple[str, ...]
    zone: ZoneRule
    mappings: tuple[MappingRule, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    header_rows: int | None = None
    timestamp: TimestampSpec | None = None
    timezone: str | None = None
    # Epochs that encode local wall-clock time as if it were this fixed zone (see sources.yaml).
    epoch_wall_clock: str | None = None
    # Where files overlap on (time, site, zone, variable), the higher precedence wins downstream.
    precedence: int = 0
    # Regexes over original column names whose values are pseudonymised (governance/pseudonym.py).
    identifying: tuple[str, ...] = ()
    # A local time in the spring-forward gap: read at the offset before the jump ("standard"), after
    # it ("summer"), or quarantine the file ("error"). A local time of the repeated autumn hour: by
    # order of appearance ("order": first summer, second standard time), or always one of the two.
    nonexistent_time: str = "standard"
    ambiguous_time: str = "order"
    # Exporter unit labels -> the unit they mean (sMAP writes "C" for °C), as (label, unit) pairs.
    unit_aliases: tuple[tuple[str, str], ...] = ()
    # Regex searched in the file's first line: the rule applies only to files whose header matches.
    header: str | None = None
    # Regexes over original column names that must hold numbers although no variable maps them (spot
    # prices): staged as double precision, and a cell that is not a number quarantines the file at its
    # row and column instead of turning the column into text.
    numeric: tuple[str, ...] = ()
    # Regexes over original column names that, with the time, identify a row (spot prices: one row per
    # hour and `PriceArea`): the staging order check groups and steps through the rows per such key.
    series_key: tuple[str, ...] = ()

    def matches(self, path: Path) -> bool:
        posix = PurePosixPath(path.as_posix())
        return any(posix.match(glob) for glob in self.globs)

    def accepts_header(self, first_line: str | None) -> bool:
        return self.header is None or (first_line is not None and re.search(self.header, _nfc(first_line)) is not None)

    def identifies(self, original_name: str) -> bool:
        return any(re.search(pattern, _nfc(original_name)) for pattern in self.identifying)

    def requires_number(self, original_name: str) -> bool:
        return any(re.search(pattern, _nfc(original_name)) for pattern in self.numeric)

    def keys_rows(self, original_name: str) -> bool:
        return any(re.search(pattern, _nfc(original_name)) for pattern in self.series_key)


@dataclass(frozen=True)
class Source:
    name: str
    site: str
    rules: tuple[FileRule, ...]
    streams: tuple[MappingRule, ...] = ()  # the `streams:` table, also appended to every rule's mappings

    @property
    def staging_table(self) -> str:
        return catalog.staging(self.name).table

    @property
    def mappings(self) -> tuple[MappingRule, ...]:
        return tuple(m for rule in self.rules for m in rule.mappings)

    def resolve_columns(
        self,
        rule: FileRule,
        path: Path,
        originals: list[str],
        staged: list[str],
        units: list[str | None],
        points: list[str | None] | None = None,
        uuids: list[str | None] | None = None,
    ) -> list[ColumnMapping]:
        """Map data columns to (variable, zone); two columns may not feed one series.

        `points` (controller points) and `uuids` (sMAP stream UUIDs) are per column where the file
        has them. The declared unit of a mapped column is checked against the registry's (see
        `_unit_map`); one that does not convert is an IngestError naming the column.
        """
        resolved, taken = [], {}
        points = points or [None] * len(originals)
        uuids = uuids or [None] * len(originals)
        for original, staged_name, unit, point, uuid in zip(originals, staged, units, points, uuids, strict=True):
            rule_hit = next((m for m in rule.mappings if m.matches(original, point, uuid)), None)
            zone = (
                rule_hit.zone if rule_hit is not None and rule_hit.zone else rule.zone.zone_for(path, original, point)
            )
            linear, note = None, None
            if rule_hit is not None:
                linear, note = _unit_map(path, rule, rule_hit, original, unit)
                if zone is None:
                    raise IngestError(path, f"no zone for mapped column ({rule.zone.describe()})", column=original)
                key = (zone, rule_hit.variable)
                if key in taken:
                    raise IngestError(
                        path,
                        f"maps to variable {rule_hit.variable!r} in zone {zone!r}, "
                        f"which column {taken[key]!r} already feeds",
                        column=original,
                    )
                taken[key] = original
            resolved.append(
                ColumnMapping(
                    staged_name=staged_name,
                    original_name=original,
                    unit=unit,
                    variable=rule_hit.variable if rule_hit else None,
                    canonical_unit=rule_hit.canonical_unit if rule_hit else None,
                    site=self.site,
                    zone=zone,
                    conversion=rule_hit.conversion if rule_hit else None,
                    point=point,
                    uuid=uuid,
                    registry_unit=rule_hit.unit if rule_hit else None,
                    scale=linear.scale if linear else None,
                    offset=linear.offset if linear else None,
                    unit_note=note,
                )
            )
        return resolved


def _unit_map(
    path: Path, rule: FileRule, mapping: MappingRule, original: str, declared: str | None
) -> tuple[units.Linear, str]:
    """(declared unit -> canonical unit, how it was decided) for one mapped column.

    Not declared, or declared wrong by the exporter (`declared_unit: ignore`): the registry's unit.
    Declared and convertible to the registry's unit (kW/m² for W/m², °F for °C): the values are in
    the declared unit and are converted from it. Declared and not convertible: the file is refused.
    """
    label = units.canonical_label(declared, dict(rule.unit_aliases))
    canonical = mapping.canonical_unit
    alias = f" (= {label!r})" if label is not None and label != (declared or "").strip() else ""
    if label is None or label == mapping.unit:
        how = "no unit declared" if label is None else f"declared {declared!r}{alias} as in the registry"
        return units.convert(mapping.unit, canonical), _note(how, mapping.unit, canonical)
    if mapping.declared_unit == "ignore":
        linear = units.convert(mapping.unit, canonical)
        return linear, _note(f"declared {declared!r} ignored ({mapping.reason})", mapping.unit, canonical)
    try:
        units.convert(label, mapping.unit)
        linear = units.convert(label, canonical)
    except units.UnitError as exc:
        raise IngestError(
            path,
            f"declared unit does not convert ({exc})",
            column=original,
            expected=f"{mapping.unit!r} or a unit that converts to it (registry unit of {mapping.variable})",
            found=declared,
        ) from None
    return linear, _note(f"declared {declared!r}{alias}", label, canonical, linear)


def _note(how: str, unit: str, canonical: str, linear: units.Linear | None = None) -> str:
    if unit == canonical and (linear is None or linear.identity):
        return f"{how}: {unit}"
    return f"{how}: {unit} -> {canonical} {(linear or units.convert(unit, canonical)).describe()}"


@dataclass(frozen=True)
class AllowList:
    """Which sources, sites and variables pass from staging into the time series (None: all).

    Rejected values are not dropped: they stay in staging and the quality metrics count them.
    """

    sources: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    variables: frozenset[str] | None = None

    def allows(self, source: str, site: str, variable: str) -> bool:
        return all(
            allowed is None or value in allowed
            for allowed, value in ((self.sources, source), (self.sites, site), (self.variables, variable))
        )


class SourceRegistry:
    def __init__(
        self,
        sources: list[Source],
        vocabulary: dict[str, str],
        conversions: dict[str, str],
        allow: AllowList | None = None,
    ) -> None:
        self.sources = sources
        self.vocabulary = vocabulary
        self.conversions = conversions
        self.allow = allow or AllowList()
        if not any(s.name == GENERIC for s in sources):
            raise ValueError(f"source registry needs a fallback source named {GENERIC!r}")

    @classmethod
    def load(cls, path: Path | None = None) -> SourceRegistry:
        """The registry in `path` (default: the project's), parsed and validated once per version of the
        file in a process: the sensor, the op and the checks each ask for it per file, and validating
        every unit costs ~20 ms a time. An edited file is read again. Shared: do not modify it."""
        path = Path(path or settings.SOURCE_REGISTRY).resolve()
        stat = path.stat()
        return cls._parsed(path, stat.st_mtime_ns, stat.st_size)

    @classmethod
    @functools.lru_cache(maxsize=8)
    def _parsed(cls, path: Path, _mtime_ns: int, _size: int) -> SourceRegistry:
        raw = yaml.load(
            path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader
        )  # libyaml: 10x the pure-Python loader
        vocabulary = dict(raw["vocabulary"])
        conversions = dict(raw["conversions"])
        sources = [_source(entry, vocabulary, conversions) for entry in raw["sources"]]
        registry = cls(sources, vocabulary, conversions, _allow_list(raw.get("allow") or {}, sources, vocabulary))
        units.flush()  # the units validated above, in one write
        return registry

    def match(self, path: Path, first_line: str | None = None) -> tuple[Source, FileRule]:
        """First matching rule, sources in registry order, the generic source last.

        A rule with `header` also needs the file's first line to match: `first_line`, else read from
        `path` if it can be (a rule whose header cannot be checked does not match)."""
        path = Path(path)
        ordered = sorted(self.sources, key=lambda s: s.name == GENERIC)
        for source in ordered:
            for rule in source.rules:
                if rule.matches(path):
                    if rule.header is not None and first_line is None:
                        first_line = _first_line(path)
                    if rule.accepts_header(first_line):
                        return source, rule
        generic = ordered[-1]
        return generic, generic.rules[0]

    def mapping_rows(self) -> list[dict[str, Any]]:
        """One row per (source, rule, column pattern): the seed of the unpivot's mapping table. A
        source's `streams` table is listed once, as rule `streams`."""
        return [
            {
                "source": source.name,
                "site": source.site,
                "rule": rule_name,
                "pattern": m.name_pattern,
                "variable": m.variable,
                "unit": m.unit,
                "canonical_unit": m.canonical_unit,
                "conversion": m.conversion,
                "conversion_sql": self.conversions[m.conversion],
                "zone_rule": zone_rule.describe() if rule_name != "streams" else "per stream",
            }
            for source in self.sources
            for rule_name, zone_rule, mappings in [
                *(
                    (rule.name, rule.zone, [m for m in rule.mappings if m not in source.streams])
                    for rule in source.rules
                ),
                *([("streams", ZoneRule(), list(source.streams))] if source.streams else []),
            ]
            for m in mappings
        ]

    def allow_rows(self) -> list[dict[str, str]]:
        """Every (source, site, variable) the allow-list lets into the time series: the filter's seed."""
        return [
            {"source": source.name, "site": source.site, "variable": variable}
            for source in self.sources
            if source.mappings  # a source that maps nothing feeds no series
            for variable in self.vocabulary
            if self.allow.allows(source.name, source.site, variable)
        ]


def _allow_list(raw: dict, sources: list[Source], vocabulary: dict[str, str]) -> AllowList:
    """`allow: {sources, sites, variables}`; a key left out (or `all`) allows everything; unknown names fail."""
    known = {"sources": {s.name for s in sources}, "sites": {s.site for s in sources}, "variables": set(vocabulary)}
    if set(raw) - set(known):
        raise ValueError(f"allow: unknown keys {sorted(set(raw) - set(known))}")
    chosen = {}
    for key, names in known.items():
        value = raw.get(key, "all")
        if value == "all":
            chosen[key] = None
            continue
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"allow.{key}: unknown {sorted(unknown)}")
        chosen[key] = frozenset(value)
    return AllowList(**chosen)


def _source(entry: dict, vocabulary: dict[str, str], conversions: dict[str, str]) -> Source:
    name = entry["name"]
    rules = tuple(_rule(name, r, vocabulary, conversions) for r in entry["rules"])
    if not rules:
        raise ValueError(f"source {name!r} has no rules")
    streams = tuple(_stream(name, m, vocabulary, conversions) for m in entry.get("streams") or [])
    if streams:  # the source's stream table, after each rule's own columns
        rules = tuple(replace(rule, mappings=rule.mappings + streams) for rule in rules)
    return Source(name=name, site=entry["site"], rules=rules, streams=streams)


def _stream(source: str, raw: dict, vocabulary: dict[str, str], conversions: dict[str, str]) -> MappingRule:
    """An entry of a source's `streams:` table: a column mapping selected by `uuid`."""
    if not raw.get("uuid"):
        raise ValueError(f"source {source!r}, streams: every entry needs a `uuid`")
    return _mapping(f"source {source!r}, streams", raw, vocabulary, conversions)


def _rule(source: str, raw: dict, vocabulary: dict[str, str], conversions: dict[str, str]) -> FileRule:
    where = f"source {source!r}, rule {raw.get('name')!r}"
    mappings = [_mapping(where, m, vocabulary, conversions) for m in raw.get("columns", [])]
    aliases = raw.get("unit_aliases") or {}
    for label, unit in aliases.items():
        try:
            units.check(unit)
        except units.UnitError as exc:
            raise ValueError(f"{where}: unit_aliases[{label!r}]: {exc}") from None
    if raw.get("header") is not None:
        re.compile(raw["header"])
    if raw.get("encoding"):
        codecs.lookup(raw["encoding"])
    for key in ("timezone", "epoch_wall_clock"):
        if raw.get(key):
            zoneinfo.ZoneInfo(raw[key])
    for key, allowed in (("nonexistent_time", NONEXISTENT_TIME), ("ambiguous_time", AMBIGUOUS_TIME)):
        if key in raw and raw[key] not in allowed:
            raise ValueError(f"{where}: {key} must be one of {', '.join(allowed)}, not {raw[key]!r}")
        if key in raw and not _has_transitions(raw.get("timezone")):
            raise ValueError(
                f"{where}: {key} needs a timezone with DST changes "
                f"(timezone is {raw.get('timezone')!r}: no local time is missing or repeated)"
            )
    if raw.get("decimal") not in (None, ".", ","):
        raise ValueError(f"{where}: decimal must be '.' or ','")
    if raw.get("delimiter") is not None and len(raw["delimiter"]) != 1:
        raise ValueError(f"{where}: delimiter must be one character")
    if raw.get("header_rows") is not None and int(raw["header_rows"]) < 1:
        raise ValueError(f"{where}: header_rows must be at least 1")
    timestamp = raw.get("timestamp")
    return FileRule(
        name=raw["name"],
        globs=tuple(raw["globs"]),
        zone=_zone(where, raw.get("zone") or {"fixed": "default"}),
        mappings=tuple(mappings),
        encoding=raw.get("encoding"),
        delimiter=raw.get("delimiter"),
        decimal=raw.get("decimal"),
        header_rows=raw.get("header_rows"),
        timestamp=TimestampSpec(tuple(timestamp["columns"]), timestamp.get("format")) if timestamp else None,
        timezone=raw.get("timezone"),
        epoch_wall_clock=raw.get("epoch_wall_clock"),
        precedence=int(raw.get("precedence", 0)),
        identifying=tuple(re.compile(p).pattern for p in raw.get("identifying", [])),
        nonexistent_time=raw.get("nonexistent_time", "standard"),
        ambiguous_time=raw.get("ambiguous_time", "order"),
        unit_aliases=tuple((str(k), str(v)) for k, v in aliases.items()),
        header=raw.get("header"),
        numeric=tuple(re.compile(p).pattern for p in raw.get("numeric", [])),
        series_key=tuple(re.compile(p).pattern for p in raw.get("series_key", [])),
    )


def _has_transitions(timezone: str | None) -> bool:
    """Does the zone change its UTC offset (DST)? UTC and the Etc/ zones are fixed by definition."""
    return bool(timezone) and timezone != "UTC" and not timezone.startswith("Etc/")


_MAPPING_KEYS = {"match", "point", "uuid", "zone", "variable", "unit", "conversion", "declared_unit", "reason"}


def _mapping(where: str, m: dict, vocabulary: dict[str, str], conversions: dict[str, str]) -> MappingRule:
    """One `columns:` entry: `match` and/or `uuid` (and optionally `point`) select the column."""
    unknown = set(m) - _MAPPING_KEYS
    if unknown:
        raise ValueError(f"{where}: column mapping has unknown keys {sorted(unknown)}")
    if m["variable"] not in vocabulary:
        raise ValueError(f"{where}: variable {m['variable']!r} is not in the vocabulary")
    conversion = m.get("conversion", "identity")
    if conversion not in conversions:
        raise ValueError(f"{where}: unknown conversion {conversion!r}")
    if m.get("match") is None and m.get("uuid") is None:
        raise ValueError(f"{where}: a column mapping needs `match` (name regex) or `uuid`")
    for key in ("match", "point"):
        if m.get(key) is not None:
            re.compile(m[key])
    declared = m.get("declared_unit", "check")
    if declared not in ("check", "ignore"):
        raise ValueError(f"{where}: declared_unit must be `check` or `ignore`")
    if declared == "ignore" and not m.get("reason"):
        raise ValueError(f"{where}: `declared_unit: ignore` needs a `reason` (why the file's label is wrong)")
    canonical = vocabulary[m["variable"]]
    try:
        units.convert(m["unit"], canonical)
    except units.UnitError as exc:
        raise ValueError(
            f"{where}: unit {m['unit']!r} of {m['variable']} does not convert to its canonical {canonical!r}: {exc}"
        ) from None
    return MappingRule(
        m.get("match"),
        m["variable"],
        m["unit"],
        canonical,
        conversion,
        point=m.get("point"),
        uuid=str(m["uuid"]).strip().lower() if m.get("uuid") else None,
        zone=m.get("zone"),
        declared_unit=declared,
        reason=m.get("reason"),
    )


def _zone(where: str, raw: dict | list) -> ZoneRule:
    """`{fixed: z}`, `{from, pattern, template, default}`, or a list of those tried in order."""
    chain = raw if isinstance(raw, list) else [raw]
    if not chain:
        raise ValueError(f"{where}: zone list is empty")
    rule = None
    for entry in reversed(chain):
        if "fixed" not in entry and (
            entry.get("from") not in ("filename", "column", "point") or not entry.get("pattern")
        ):
            raise ValueError(f"{where}: zone needs `fixed`, or `from: filename|column|point` and `pattern`")
        if entry.get("pattern"):
            re.compile(entry["pattern"])
        rule = ZoneRule(
            fixed=entry.get("fixed"),
            origin=entry.get("from"),
            pattern=entry.get("pattern"),
            template=entry.get("template", r"\1"),
            default=entry.get("default"),
            otherwise=rule,
        )
    return rule  # type: ignore[return-value]


def _first_line(path: Path) -> str | None:
    """The first line of a file (BOM dropped, undecodable bytes replaced); None if unreadable."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    return head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace").splitlines()[0] if head else ""


def _nfc(name: str) -> str:
    """Names are matched in NFC so that a decomposed 'å' (a + ring) still matches the config."""
    return unicodedata.normalize("NFC", name)
