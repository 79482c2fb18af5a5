"""Pseudonymisation of identifying columns (operator or grower ids, free-text notes).

The source registry marks columns as identifying (`identifying:` regexes on a rule, searched in the
original column name). Their values are replaced by HMAC-SHA256(key, value) in hex while the file
is parsed, before the raw Parquet is written, so clear values never reach the Parquet, staging or
the time series. The same key gives the same pseudonym, so joins and counts per operator still work;
without the key the mapping cannot be recomputed or reversed. The original bytes kept in the lake
(`<lake>/raw/...` and quarantine copies) are the untouched landed file and still hold clear values:
that folder is the evidence store and must be access-controlled like the landing folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator

import polars as pl

from greenhouse_assets import settings

KEY_ENV = settings.PSEUDONYM_KEY


class PseudonymKeyMissing(RuntimeError):
    """A file has identifying columns but no key is configured: nothing may be stored, not even in quarantine."""


def pseudonym(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def identifying_columns(parsed) -> list[str]:
    """Staged names of the columns the file's rule marks as identifying."""
    return [c.staged_name for c in parsed.columns if parsed.rule.identifies(c.original_name)]


def pseudonymise(parsed):
    """The same `ParsedFile` whose batches carry pseudonyms instead of identifying values.

    Raises `PseudonymKeyMissing` (not an `IngestError`, so the file is not quarantined) when the
    file has identifying columns and `GREENHOUSE_PSEUDONYM_KEY` is unset or empty.
    """
    columns = identifying_columns(parsed)
    if not columns:
        return parsed
    secret = settings.pseudonym_key()
    if not secret:
        raise PseudonymKeyMissing(
            f"{parsed.path.name}: columns {columns} are marked identifying in the source registry "
            f"(rule {parsed.rule.name!r}) but {KEY_ENV} is not set; nothing was stored. Set the key and re-run."
        )
    key = secret.encode("utf-8")
    produce = parsed._produce

    def hashed(rows: int) -> Iterator[pl.DataFrame]:
        for frame in produce(rows):
            yield frame.with_columns(
                pl.col(name).cast(pl.String).map_elements(lambda v: pseudonym(key, v), return_dtype=pl.String)
                for name in columns
            )

    schema = {name: (pl.String() if name in columns else dtype) for name, dtype in parsed.schema.items()}
    detection = {**parsed.detection, "pseudonymised": columns}
    return dataclasses.replace(parsed, schema=schema, detection=detection, _produce=hashed)
