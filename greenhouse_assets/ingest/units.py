"""Unit labels as files write them, checked and converted with pint (a maintained units library).

A file declares units in a unit row (Knudjepsen: `°C`, `W/m²`, `g/m3`, `ppm`, `%`, empty), a
`[unit]` suffix (MortenSDU: `[°C]`, `[W/m2]`, `[RH%]`) or a sMAP property (`C`, `W/cm^2`,
`%*100`). The registry says what unit each mapped column's values really are in and the
variable's canonical unit; this module turns "declared unit -> canonical unit" into the linear
map the dbt model applies (`value * scale + offset`), or says why it cannot.

Label handling, in order:
- the rule's `unit_aliases` (exporter conventions such as sMAP's `C` for °C) replace the label;
- `0/1` is a STATE (on/off, or an on-fraction when averaged), not a physical unit: it matches
  only `0/1` and converts to nothing else;
- `²`/`³` and a digit right after a unit letter (`m2`, `m3`) are exponents, `µ`/`μ` is micro;
- pint parses the rest. `%`, `ppm`, `ppb` are dimensionless ratios in pint: they convert among
  themselves by their factor (CO2 exported in `%` volume is ×10 000 ppm), never to a dimension.

Conversions are computed with exact fractions, so `°F -> °C` is (5/9, -160/9) to the last bit.
pint is imported on first use only: a label equal to the target needs no conversion, and a label or
conversion that an earlier process worked out with the same pint and this module is read from a small
file of results (`_known`, written by `flush()`), so `greenhouse ingest` and a run do not import pint (~0.5-1 s) to validate
the registry's units again.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from greenhouse_assets import settings

STATES = frozenset({"0/1"})
_EXPONENT = re.compile(r"(?<=[A-Za-z])([23])(?![\d.])")
_SUPERSCRIPTS = {"²": "**2", "³": "**3", "µ": "u", "μ": "u"}
_pending: set[str] = set()  # keys of results worked out since the file was last written


class UnitError(ValueError):
    """A label that pint cannot read, or two units that do not convert."""


@dataclass(frozen=True)
class Linear:
    """value_in_target = value * scale + offset."""

    scale: float = 1.0
    offset: float = 0.0

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0

    def describe(self) -> str:
        if self.identity:
            return "x1"
        text = f"x{self.scale:.12g}"
        return text + (f" {'+' if self.offset >= 0 else '-'} {abs(self.offset):.12g}" if self.offset else "")


def canonical_label(label: str | None, aliases: dict[str, str] | None = None) -> str | None:
    """The label after the rule's aliases, stripped; None when nothing is declared."""
    text = (label or "").strip()
    if not text:
        return None
    return (aliases or {}).get(text, text)


def convert(source: str, target: str) -> Linear:
    """The linear map from unit `source` to unit `target`; UnitError if there is none."""
    if source == target or (source not in STATES and _spelled(source) == _spelled(target)):
        return Linear()  # the same unit spelled alike (g/m3, g/m³): no need to load pint
    if source in STATES or target in STATES:
        raise UnitError(
            f"{'0/1 is an on/off state' if source in STATES else repr(source)} "
            f"and {'0/1 (an on/off state)' if target in STATES else repr(target)} do not convert"
        )
    key = f"convert\x1f{source}\x1f{target}"
    if (known := _known().get(key)) is not None:
        return Linear(*known)
    registry = _registry()
    a, b = _parse(source), _parse(target)
    if a == b:
        linear = Linear()
    elif a.dimensionality != b.dimensionality:
        raise UnitError(f"{source!r} is {_dimension(a)}, {target!r} is {_dimension(b)}")
    else:
        zero = registry.Quantity(Fraction(0), a).to(b).magnitude
        one = registry.Quantity(Fraction(1), a).to(b).magnitude
        linear = Linear(float(one - zero), float(zero))
    _remember(key, [linear.scale, linear.offset])
    return linear


def check(label: str) -> None:
    """UnitError unless `label` is a state or a unit pint can read (registry validation)."""
    key = f"check\x1f{label}"
    if label in STATES or key in _known():
        return
    _parse(label)
    _remember(key, True)


def _dimension(unit: Any) -> str:
    """`[temperature]`, `[length] * [time]^-1`, `dimensionless` (pint's own formatter fails on Fraction powers)."""
    dims = dict(unit.dimensionality)
    if not dims:
        return "dimensionless"
    return " * ".join(k if v == 1 else f"{k}^{int(v) if v == int(v) else v}" for k, v in sorted(dims.items()))


def _spelled(label: str) -> str:
    """The label in pint's syntax: `²`/`³`/`^n`/`m3` as `**n`, `µ` as `u`, no spaces."""
    text = label
    for old, new in _SUPERSCRIPTS.items():
        text = text.replace(old, new)
    return _EXPONENT.sub(r"**\1", text).replace("^", "**").replace(" ", "")


def _known_file() -> Path:
    """The results file for this pint and this module's code (its rules, e.g. `_spelled`, decide results too)."""
    from importlib.metadata import version  # noqa: PLC0415 - pint's version without importing pint

    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return settings.local_dir() / "cache" / f"units-{version('pint')}-{code}.json"


@functools.cache
def _known() -> dict:
    """Labels pint read and conversions it computed in earlier processes (successes only: an error is
    always worked out, and worded, by pint again). Unreadable or missing: an empty start."""
    try:
        return json.loads(_known_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _remember(key: str, value: object) -> None:
    """Add one result; `flush()` writes the new ones (at the end of a registry load, and at exit)."""
    _known()[key] = value
    if not _pending:
        atexit.register(flush)  # results worked out after the last flush (a file's own unit labels)
    _pending.add(key)


def flush() -> None:
    """Write the results file whole, once, if there are new results, through a rename: a reader sees the
    old or the new file. Files for another pint or another version of this module are removed: they
    would never be read again."""
    if not _pending:
        return
    _pending.clear()
    atexit.unregister(flush)
    path = _known_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    except OSError:  # a read-only disk: the results are an optimisation only
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(_known(), out, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return
    for stale in path.parent.glob("units-*.json"):
        if stale != path:
            stale.unlink(missing_ok=True)


@functools.lru_cache(maxsize=512)
def _parse(label: str) -> Any:
    try:
        return _registry().parse_units(_spelled(label))
    except Exception as exc:  # pint raises several types (UndefinedUnitError, ValueError, ...)
        raise UnitError(f"{label!r} is not a unit pint can read ({type(exc).__name__})") from None


@functools.cache
def _registry() -> Any:
    """One registry per process, built from pint's definitions as parsed by an earlier process.

    Parsing pint's definition file is ~0.7 s of every process that loads the source registry (each
    `greenhouse ingest`, each run). pint keeps the parsed definitions in `cache_folder` (keyed by the
    file's content and the number type); the folder is per pint version and filled in a temporary
    folder renamed into place, so a process never reads another's half-written cache. Any trouble
    with it (a read-only disk, a cache from elsewhere) and the registry is parsed as before."""
    import pint  # noqa: PLC0415 - imported on first use (~0.5 s)

    options = {"non_int_type": Fraction, "autoconvert_offset_to_baseunit": True}
    folder = settings.local_dir() / "cache" / f"pint-{pint.__version__}"
    try:
        if folder.is_dir():
            return pint.UnitRegistry(cache_folder=folder, **options)
        folder.parent.mkdir(parents=True, exist_ok=True)
        filling = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        registry = pint.UnitRegistry(cache_folder=filling, **options)
        try:
            filling.rename(folder)
        except OSError:  # another process renamed its folder first: same content
            shutil.rmtree(filling, ignore_errors=True)
        return registry
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        return pint.UnitRegistry(**options)
