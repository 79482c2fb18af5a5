"""The Great Expectations suites, kept as versioned JSON: checks on staged raw data, per file version.

Great Expectations owns the rules on what a file brought (usable timestamps, time order, filled
columns); the contract tables (`timeseries.measurements`) are judged by dbt tests beside their model,
so no rule is checked twice (README, "Data quality"). The suites are rendered from this module:
`python -m greenhouse_assets.quality.suites` after changing it; a test fails while the JSON is stale.
Each suite backs one Dagster asset check; an expectation's GX `severity` ("critical" / "warning")
becomes the check's ERROR / WARN severity.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe

from greenhouse_assets.quality.time_limits import EARLIEST_TIME, LATEST_AHEAD

SUITES_DIR = Path(__file__).parent / "expectations"
# A file column is complete enough at half its cells; most must be.
COMPLETENESS_MIN, COMPLETENESS_MOSTLY = 0.5, 0.8


def _staging_timestamps() -> list[gxe.Expectation]:
    """`timestamps_usable` (ERROR, blocking). Batch: one row of aggregates over a file version's staged
    rows (see defs/quality/checks.py). Only what makes the rows unusable: they would land at no time,
    or at a time that cannot be real (a logger whose clock was reset)."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="staged_rows", min_value=1, description="the file version staged rows"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="rows_without_time", min_value=0, max_value=0, description="every staged row has a timestamp"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="repeated_row_numbers", min_value=0, max_value=0, description="one staged row per file row"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="implausible_times",
            min_value=0,
            max_value=0,
            description=f"no time before {EARLIEST_TIME[:10]} or more than {LATEST_AHEAD} ahead of the check "
            "(a logger whose clock was reset)",
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="first_implausible_row", description="the first file row whose time cannot be real"
        ),
    ]


def _staging_time_order() -> list[gxe.Expectation]:
    """`timestamps_monotonic` (WARN). Same batch: rows the logger sent again load, and are counted here.

    A repeat (same time, identical values) costs nothing; a conflict (same time, different values) is
    resolved by `measurements` as everywhere else: per value, the row the logger wrote last in the file
    wins among values of equal quality."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="repeated_rows",
            min_value=0,
            max_value=0,
            severity="warning",
            description="no row repeats an earlier row's time with identical values",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="conflicting_timestamps",
            min_value=0,
            max_value=0,
            severity="warning",
            description="no time appears twice with different values (the later row in the file wins)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="backward_steps",
            min_value=0,
            max_value=0,
            severity="warning",
            description="timestamps never go back in file order",
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="first_backward_row",
            severity="warning",
            description="the first file row whose time is earlier than the row before",
        ),
    ]


def _staging_completeness() -> list[gxe.Expectation]:
    """Batch: one row per mapped column of a file version (`staged_column`, `completeness`), from one scan."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="completeness",
            min_value=COMPLETENESS_MIN,
            max_value=1,
            mostly=COMPLETENESS_MOSTLY,
            severity="warning",
            description="most mapped columns of the file hold a value in most rows",
        ),
    ]


BUILDERS = {
    "staging_timestamps": _staging_timestamps,
    "staging_time_order": _staging_time_order,
    "staging_completeness": _staging_completeness,
}


def rendered() -> dict[str, str]:
    """Suite name -> its JSON, as it must be in `expectations/`."""
    gx.get_context(mode="ephemeral")  # suites need an active context
    out = {}
    for name, build in BUILDERS.items():
        suite = gx.ExpectationSuite(name=name)
        for expectation in build():
            suite.add_expectation(expectation)
        document = suite.to_json_dict()
        document.pop("meta", None)  # the GX version stamp would make every upgrade a diff
        out[name] = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return out


def load(name: str) -> gx.ExpectationSuite:
    """A suite from its versioned JSON (needs an active GX context)."""
    return gx.ExpectationSuite(**json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8")))


def write() -> list[Path]:
    paths = []
    for name, text in rendered().items():
        path = SUITES_DIR / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for path in write():
        print(path)
