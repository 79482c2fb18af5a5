"""The source registry (`sources.yaml`): which source a file belongs to and what its columns mean.

Knowledge about sources lives in config so that adding a source, a file pattern or a column
name is an edit to YAML, reviewed like data; this module only loads, validates and applies it.
See the header of `sources.yaml` for the format.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from greenhouse_assets import settings
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


@dataclass(frozen=True)
class MappingRule:
    pattern: str
    variable: str
    unit: str
    canonical_unit: str
    conversion: str = "identity"

    def matches(self, original_name: str) -> bool:
        return re.search(self.pattern, _nfc(original_name)) is not None


@dataclass(frozen=True)
class ZoneRule:
    """Where a column's zone comes from: a constant, the file name, or the column name."""

    fixed: str | None = None
    origin: str | None = None  # "filename" | "column"
    pattern: str | None = None
    template: str = r"\1"
    default: str | None = None

    def zone_for(self, path: Path, original_name: str) -> str | None:
        if self.fixed is not None:
            return self.fixed
        subject = path.name if self.origin == "filename" else _nfc(original_name)
        found = re.search(self.pattern or "", subject)
        return found.expand(self.template) if found else self.default

    def describe(self) -> str:
        if self.fixed is not None:
            return f"fixed:{self.fixed}"
        return f"{self.origin}:{self.pattern} -> {self.template}" + (
            f" (default {self.default})" if self.default else ""
        )


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

    def matches(self, path: Path) -> bool:
        posix = PurePosixPath(path.as_posix())
        return any(posix.match(glob) for glob in self.globs)

    def identifies(self, original_name: str) -> bool:
        return any(re.search(pattern, _nfc(original_name)) for pattern in self.identifying)


@dataclass(frozen=True)
class Source:
    name: str
    site: str
    rules: tuple[FileRule, ...]

    @property
    def staging_table(self) -> str:
        return f"staging.raw_{self.name}"

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
    ) -> list[ColumnMapping]:
        """Map data columns to (variable, zone); two columns may not feed one series."""
        resolved, taken = [], {}
        for original, staged_name, unit in zip(originals, staged, units, strict=True):
            rule_hit = next((m for m in rule.mappings if m.matches(original)), None)
            zone = rule.zone.zone_for(path, original)
            if rule_hit is not None:
                if zone is None:
                    raise IngestError(path, f"no zone for mapped column ({rule.zone.describe()})",
                                      column=original)
                key = (zone, rule_hit.variable)
                if key in taken:
                    raise IngestError(
                        path, f"maps to variable {rule_hit.variable!r} in zone {zone!r}, "
                        f"which column {taken[key]!r} already feeds", column=original)
                taken[key] = original
            resolved.append(ColumnMapping(
                staged_name=staged_name,
                original_name=original,
                unit=unit,
                variable=rule_hit.variable if rule_hit else None,
                canonical_unit=rule_hit.canonical_unit if rule_hit else None,
                site=self.site,
                zone=zone,
                conversion=rule_hit.conversion if rule_hit else None,
            ))
        return resolved


@dataclass(frozen=True)
class AllowList:
    """Which sources, sites and variables pass from staging into the time series (None: all).

    Rejected values are not dropped: they stay in staging and the quality metrics count them.
    """

    sources: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    variables: frozenset[str] | None = None

    def allows(self, source: str, site: str, variable: str) -> bool:
        return all(allowed is None or value in allowed for allowed, value in
                   ((self.sources, source), (self.sites, site), (self.variables, variable)))


class SourceRegistry:
    def __init__(self, sources: list[Source], vocabulary: dict[str, str],
                 conversions: dict[str, str], allow: AllowList | None = None) -> None:
        self.sources = sources
        self.vocabulary = vocabulary
        self.conversions = conversions
        self.allow = allow or AllowList()
        if not any(s.name == GENERIC for s in sources):
            raise ValueError(f"source registry needs a fallback source named {GENERIC!r}")

    @classmethod
    def load(cls, path: Path | None = None) -> SourceRegistry:
        path = Path(path or settings.SOURCE_REGISTRY)
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)  # libyaml: 10x the pure-Python loader
        vocabulary = dict(raw["vocabulary"])
        conversions = dict(raw["conversions"])
        sources = [_source(entry, vocabulary, conversions) for entry in raw["sources"]]
        return cls(sources, vocabulary, conversions, _allow_list(raw.get("allow") or {}, sources, vocabulary))

    def match(self, path: Path) -> tuple[Source, FileRule]:
        """First matching rule, sources in registry order, the generic source last."""
        path = Path(path)
        ordered = sorted(self.sources, key=lambda s: s.name == GENERIC)
        for source in ordered:
            for rule in source.rules:
                if rule.matches(path):
                    return source, rule
        generic = ordered[-1]
        return generic, generic.rules[0]

    def mapping_rows(self) -> list[dict[str, Any]]:
        """One row per (source, rule, column pattern): the seed of the unpivot's mapping table."""
        return [
            {
                "source": source.name,
                "site": source.site,
                "rule": rule.name,
                "pattern": m.pattern,
                "variable": m.variable,
                "unit": m.unit,
                "canonical_unit": m.canonical_unit,
                "conversion": m.conversion,
                "conversion_sql": self.conversions[m.conversion],
                "zone_rule": rule.zone.describe(),
            }
            for source in self.sources
            for rule in source.rules
            for m in rule.mappings
        ]

    def allow_rows(self) -> list[dict[str, str]]:
        """Every (source, site, variable) the allow-list lets into the time series: the filter's seed."""
        return [
            {"source": source.name, "site": source.site, "variable": variable}
            for source in self.sources
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
    return Source(name=name, site=entry["site"], rules=rules)


def _rule(source: str, raw: dict, vocabulary: dict[str, str],
          conversions: dict[str, str]) -> FileRule:
    where = f"source {source!r}, rule {raw.get('name')!r}"
    mappings = []
    for m in raw.get("columns", []):
        if m["variable"] not in vocabulary:
            raise ValueError(f"{where}: variable {m['variable']!r} is not in the vocabulary")
        conversion = m.get("conversion", "identity")
        if conversion not in conversions:
            raise ValueError(f"{where}: unknown conversion {conversion!r}")
        re.compile(m["match"])
        mappings.append(MappingRule(m["match"], m["variable"], m["unit"],
                                    vocabulary[m["variable"]], conversion))
    if raw.get("encoding"):
        codecs.lookup(raw["encoding"])
    for key in ("timezone", "epoch_wall_clock"):
        if raw.get(key):
            zoneinfo.ZoneInfo(raw[key])
    for key, allowed in (("nonexistent_time", NONEXISTENT_TIME), ("ambiguous_time", AMBIGUOUS_TIME)):
        if key in raw and raw[key] not in allowed:
            raise ValueError(f"{where}: {key} must be one of {', '.join(allowed)}, not {raw[key]!r}")
        if key in raw and not _has_transitions(raw.get("timezone")):
            raise ValueError(f"{where}: {key} needs a timezone with DST changes "
                             f"(timezone is {raw.get('timezone')!r}: no local time is missing or repeated)")
    if raw.get("decimal") not in (None, ".", ","):
        raise ValueError(f"{where}: decimal must be '.' or ','")
    if raw.get("delimiter") is not None and len(raw["delimiter"]) != 1:
        raise ValueError(f"{where}: delimiter must be one character")
    if raw.get("header_rows") is not None and int(raw["header_rows"]) < 1:
        raise ValueError(f"{where}: header_rows must be at least 1")
    zone = dict(raw.get("zone") or {"fixed": "default"})
    if "fixed" not in zone and (zone.get("from") not in ("filename", "column")
                                or not zone.get("pattern")):
        raise ValueError(f"{where}: zone needs `fixed`, or `from: filename|column` and `pattern`")
    timestamp = raw.get("timestamp")
    return FileRule(
        name=raw["name"],
        globs=tuple(raw["globs"]),
        zone=ZoneRule(
            fixed=zone.get("fixed"),
            origin=zone.get("from"),
            pattern=zone.get("pattern"),
            template=zone.get("template", r"\1"),
            default=zone.get("default"),
        ),
        mappings=tuple(mappings),
        encoding=raw.get("encoding"),
        delimiter=raw.get("delimiter"),
        decimal=raw.get("decimal"),
        header_rows=raw.get("header_rows"),
        timestamp=TimestampSpec(tuple(timestamp["columns"]), timestamp.get("format"))
        if timestamp else None,
        timezone=raw.get("timezone"),
        epoch_wall_clock=raw.get("epoch_wall_clock"),
        precedence=int(raw.get("precedence", 0)),
        identifying=tuple(re.compile(p).pattern for p in raw.get("identifying", [])),
        nonexistent_time=raw.get("nonexistent_time", "standard"),
        ambiguous_time=raw.get("ambiguous_time", "order"),
    )


def _has_transitions(timezone: str | None) -> bool:
    """Does the zone change its UTC offset (DST)? UTC and the Etc/ zones are fixed by definition."""
    return bool(timezone) and timezone != "UTC" and not timezone.startswith("Etc/")


def _nfc(name: str) -> str:
    """Names are matched in NFC so that a decomposed 'å' (a + ring) still matches the config."""
    return unicodedata.normalize("NFC", name)
