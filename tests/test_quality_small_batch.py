"""The per-file staging suites judged without GX give Great Expectations' own outcome, batch by batch."""

from __future__ import annotations

import json

import pytest

from greenhouse_assets.database import At
from greenhouse_assets.quality import small_batch, suites, validate

TIMESTAMPS = ("staged_rows", "rows_without_time", "repeated_row_numbers", "implausible_times", "first_implausible_row")
ORDER = ("repeated_rows", "conflicting_timestamps", "backward_steps", "first_backward_row")


def _row(names: tuple[str, ...], values: tuple) -> str:
    return "select " + ", ".join(f"{'null' if v is None else v}::bigint as {n}" for n, v in zip(names, values))


def _completeness(values: list) -> str:
    cells = ", ".join(f"('c{i}', {'null' if v is None else v}::float8)" for i, v in enumerate(values))
    return f"select * from (values {cells}) as v (staged_column, completeness)"


BATCHES = [
    ("staging_timestamps", _row(TIMESTAMPS, (10, 0, 0, 0, None))),  # passes
    ("staging_timestamps", _row(TIMESTAMPS, (0, 0, 0, 0, None))),  # no rows
    ("staging_timestamps", _row(TIMESTAMPS, (10, 3, 1, 2, 7))),  # unusable four ways
    ("staging_timestamps", _row(TIMESTAMPS, (None, None, 0, 0, None))),  # nulls: not judged by "between"
    ("staging_time_order", _row(ORDER, (0, 0, 0, None))),
    ("staging_time_order", _row(ORDER, (4, 1, 2, 9))),
    ("staging_completeness", _completeness([1.0, 0.9, 0.6, 0.5, 0.7])),  # all in range
    ("staging_completeness", _completeness([1.0, 0.1, 0.6, 0.5, 0.7])),  # 4 of 5 in range: mostly 0.8 holds
    ("staging_completeness", _completeness([1.0, 0.1, 0.2, 0.5, 0.7])),  # 3 of 5: fails, WARN
    ("staging_completeness", _completeness([None, 0.1, None])),  # one judged value, out of range
    ("staging_completeness", "select null::text as staged_column, 1.0 as completeness"),  # a file with no mapped column
]


@pytest.mark.parametrize(("suite", "query"), BATCHES)
def test_small_batch_judges_as_great_expectations(database_url, suite, query):
    ours = small_batch.run(At(database_url), suite, query)
    theirs = validate.run(At(database_url), suite, query)

    assert (ours.passed, ours.severity, ours.evaluated) == (theirs.passed, theirs.severity, theirs.evaluated)
    assert ours.failures == theirs.failures


def test_a_suite_with_other_expectations_goes_to_great_expectations(database_url, tmp_path, monkeypatch):
    # An expectation type the small-batch judge does not know: GX judges the suite
    suite = {
        "name": "in_set",
        "expectations": [
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "variable", "value_set": ["air_temperature"]},
                "meta": {},
                "severity": "critical",
                "description": "known variables only",
            }
        ],
        "meta": {},
    }
    (tmp_path / "in_set.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setattr(small_batch, "SUITES_DIR", tmp_path)
    monkeypatch.setattr(suites, "SUITES_DIR", tmp_path)
    query = "select 'nonsense'::text as variable"
    outcome = small_batch.run(At(database_url), "in_set", query)

    assert outcome == validate.run(At(database_url), "in_set", query)
    assert not outcome.passed
