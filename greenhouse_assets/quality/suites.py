"""The Great Expectations suites, generated from the dbt seeds and kept as versioned JSON.

The physical ranges (`physical_ranges.csv`), the vocabulary (`variables.csv`) and the allow-list
(`allow_list.csv`, from the source registry) are the single place those facts live, so the suites
are rendered from them: `python -m greenhouse_assets.quality.suites` after changing a seed; a test
fails while the JSON is stale. Each suite backs one Dagster asset check; an expectation's GX
`severity` ("critical" / "warning") becomes the check's ERROR / WARN severity.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from greenhouse_assets import settings
from greenhouse_assets.quality.time_limits import EARLIEST_TIME, LATEST_AHEAD

SUITES_DIR = Path(__file__).parent / "expectations"
SEEDS = settings.DBT_PROJECT_DIR / "seeds"
FLAGS = ["ok", "sentinel", "logger_reset", "out_of_range", "anomaly"]
# Share of a variable's values that must lie in its physical range: flagged values are kept on
# purpose (sentinels, logger resets), so a few are normal; more means a unit or mapping error.
RANGE_MOSTLY = 0.99
# A file column / a series-day is complete enough at half its cells; most must be.
COMPLETENESS_MIN, COMPLETENESS_MOSTLY = 0.5, 0.8


def _seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _staging_timestamps() -> list[gxe.Expectation]:
    """`timestamps_usable` (ERROR, blocking). Batch: one row of aggregates over a file version's staged
    rows (see defs/quality/checks.py). Only what makes the rows unusable: they would land at no time,
    or at a time that cannot be real (a logger whose clock was reset)."""
    return [
        gxe.ExpectColumnValuesToBeBetween(column="staged_rows", min_value=1,
                                          description="the file version staged rows"),
        gxe.ExpectColumnValuesToBeBetween(column="rows_without_time", min_value=0, max_value=0,
                                          description="every staged row has a timestamp"),
        gxe.ExpectColumnValuesToBeBetween(column="repeated_row_numbers", min_value=0, max_value=0,
                                          description="one staged row per file row"),
        gxe.ExpectColumnValuesToBeBetween(
            column="implausible_times", min_value=0, max_value=0,
            description=f"no time before {EARLIEST_TIME[:10]} or more than {LATEST_AHEAD} ahead of the check "
                        "(a logger whose clock was reset)"),
        gxe.ExpectColumnValuesToBeNull(column="first_implausible_row",
                                       description="the first file row whose time cannot be real"),
    ]


def _staging_time_order() -> list[gxe.Expectation]:
    """`timestamps_monotonic` (WARN). Same batch: rows the logger sent again load, and are counted here.

    A repeat (same time, identical values) costs nothing; a conflict (same time, different values) is
    resolved by `measurements` as everywhere else: per value, the row the logger wrote last in the file
    wins among values of equal quality."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="repeated_rows", min_value=0, max_value=0, severity="warning",
            description="no row repeats an earlier row's time with identical values"),
        gxe.ExpectColumnValuesToBeBetween(
            column="conflicting_timestamps", min_value=0, max_value=0, severity="warning",
            description="no time appears twice with different values (the later row in the file wins)"),
        gxe.ExpectColumnValuesToBeBetween(
            column="backward_steps", min_value=0, max_value=0, severity="warning",
            description="timestamps never go back in file order"),
        gxe.ExpectColumnValuesToBeNull(column="first_backward_row", severity="warning",
                                       description="the first file row whose time is earlier than the row before"),
    ]


def _staging_completeness() -> list[gxe.Expectation]:
    """Batch: one row per mapped column of a file version (`staged_column`, `completeness`), from one scan."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="completeness", min_value=COMPLETENESS_MIN, max_value=1, mostly=COMPLETENESS_MOSTLY,
            severity="warning", description="most mapped columns of the file hold a value in most rows"),
    ]


def _measurements() -> list[gxe.Expectation]:
    """Batch: `timeseries.measurements` (validated in SQL)."""
    allowed = _seed("allow_list.csv")
    units = [(row["variable"], row["canonical_unit"]) for row in _seed("variables.csv")]
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="value"),
        gxe.ExpectColumnValuesToBeInSet(column="variable", value_set=sorted({r["variable"] for r in allowed}),
                                        description="only variables the registry allows"),
        gxe.ExpectColumnPairValuesToBeInSet(column_A="site", column_B="variable",
                                            value_pairs_set=sorted({(r["site"], r["variable"]) for r in allowed}),
                                            description="only (site, variable) series the allow-list admits"),
        gxe.ExpectColumnPairValuesToBeInSet(column_A="variable", column_B="unit", value_pairs_set=sorted(units),
                                            description="every variable in its canonical unit"),
        gxe.ExpectColumnValuesToBeInSet(column="quality_flag", value_set=FLAGS),
    ]


def _measurement_ranges() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="value", min_value=float(r["min_value"]), max_value=float(r["max_value"]), mostly=RANGE_MOSTLY,
            row_condition=Column("variable") == r["variable"], severity="warning",
            description=f"{r['variable']} within its physical range")
        for r in _seed("physical_ranges.csv")
    ]


def _daily_completeness() -> list[gxe.Expectation]:
    """Batch: one row per (day, site, zone, variable) with `completeness` (see quality.scores)."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="completeness", min_value=COMPLETENESS_MIN, max_value=1, mostly=COMPLETENESS_MOSTLY,
            severity="warning", description="most series-days hold at least half their expected readings"),
    ]


BUILDERS = {
    "staging_timestamps": _staging_timestamps,
    "staging_time_order": _staging_time_order,
    "staging_completeness": _staging_completeness,
    "measurements_contract": _measurements,
    "measurements_ranges": _measurement_ranges,
    "measurements_daily_completeness": _daily_completeness,
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
