"""A suite judged on a small batch without importing Great Expectations: the per-file staging checks.

Why: every file's run judges three suites on a batch of one row of aggregates (or one row per file
column), already computed in SQL. GX's SQL engine is for large batches; importing it costs 2–5 s
of every run process and every `greenhouse ingest`, more than ingesting a 100 k-row file. The
staging suites use two expectation types, whose rule is a comparison per row; this module applies
them to the batch's rows from the same versioned JSON, with GX's semantics (nulls are not judged by
`..._to_be_between`, `mostly` is the share of judged rows that must pass) and the same outcome and
metadata as `validate.run`. A suite with any other expectation (or keyword) goes to GX.
tests/test_quality_small_batch.py holds both to the same outcomes on passing and failing batches.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from greenhouse_assets.database import Database
from greenhouse_assets.quality import validate

SUITES_DIR = Path(__file__).parent / "expectations"  # as quality.suites, which imports GX
BETWEEN, NULL = "expect_column_values_to_be_between", "expect_column_values_to_be_null"
KNOWN_KWARGS = {BETWEEN: {"column", "min_value", "max_value", "mostly"}, NULL: {"column", "mostly"}}
MAX_ROWS = 1000  # a small batch: one row of aggregates, or one row per file column
PARTIAL_LIST = 20  # GX's `partial_unexpected_list` keeps the first 20 unexpected values


def run(database: Database, suite_name: str, query: str) -> validate.Outcome:
    """`validate.run`'s outcome for `query`'s rows, judged here when the suite and batch allow it."""
    expectations = json.loads((SUITES_DIR / f"{suite_name}.json").read_text(encoding="utf-8"))["expectations"]
    if not all(set(e["kwargs"]) <= KNOWN_KWARGS.get(e["type"], set()) for e in expectations):
        return validate.run(database, suite_name, query)
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description]
        rows = cur.fetchmany(MAX_ROWS + 1)
    if len(rows) > MAX_ROWS:
        return validate.run(database, suite_name, query)
    batch = [dict(zip(names, row)) for row in rows]
    failures = []
    for e in expectations:
        result = _judge(e, batch)
        if result is not None:
            failures.append(
                {
                    "expectation": e["type"],
                    "description": e.get("description"),
                    "severity": e["severity"],
                    "kwargs": {"batch_id": f"greenhouse-{suite_name}", **e["kwargs"]},  # as GX names it
                    "observed": result,
                }
            )
    judged = failures or expectations  # failed: the worst failure; passed: the worst the suite could report
    severity = "ERROR" if any(f["severity"] == "critical" for f in judged) else "WARN"
    return validate.Outcome(suite_name, not failures, severity, failures, len(expectations))


def _judge(expectation: dict, batch: list[dict]) -> dict | None:
    """None if the expectation holds on the batch, else what GX reports as observed."""
    kwargs = expectation["kwargs"]
    values = [row[kwargs["column"]] for row in batch]
    if expectation["type"] == BETWEEN:
        considered = [v for v in values if v is not None]  # GX leaves nulls to expect_..._not_be_null
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        unexpected = [v for v in considered if (low is not None and v < low) or (high is not None and v > high)]
    else:
        considered = values
        unexpected = [v for v in values if v is not None]
    share = (len(considered) - len(unexpected)) / len(considered) if considered else 1.0
    if share >= kwargs.get("mostly", 1.0):
        return None
    return {
        "element_count": len(values),
        "unexpected_count": len(unexpected),
        "unexpected_percent": 100 * len(unexpected) / len(considered),
        "partial_unexpected_list": [_plain(v) for v in unexpected[:PARTIAL_LIST]],
    }


def _plain(value):
    """As GX reports a value read through SQLAlchemy: numbers as int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
