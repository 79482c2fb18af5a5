"""Run a versioned suite against a SQL query with Great Expectations, in the database.

GX's SQL execution engine turns each expectation into aggregate queries over the batch query, so
no table is loaded into Python; the batch queries are bounded (one file version, or aggregates).
The outcome maps GX severities to a Dagster check: any failed "critical" expectation is ERROR,
otherwise any failed "warning" one is WARN; a passing suite reports the worst it could.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from greenhouse_assets import settings
from greenhouse_assets.database import Database


@dataclass
class Outcome:
    suite: str
    passed: bool
    severity: str  # "ERROR" | "WARN"
    failures: list[dict] = field(default_factory=list)
    evaluated: int = 0

    def metadata(self) -> dict:
        return {
            "suite": f"greenhouse_assets/quality/expectations/{self.suite}.json",
            "expectations": self.evaluated,
            "failed": len(self.failures),
            "failures": self.failures,
        }


def run(database: Database, suite_name: str, query: str) -> Outcome:
    """Validate `query`'s rows (SQL, starting with SELECT) against the suite `suite_name`, in `database`
    (GX opens its own SQLAlchemy connection to it)."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # Imported here: Great Expectations takes seconds to import and only check runs need it.
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from greenhouse_assets.quality import suites

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_postgres(
        "greenhouse", connection_string=settings.sqlalchemy_url(database.url, "psycopg2")
    )
    batch = source.add_query_asset(suite_name, query=query).add_batch_definition_whole_table("all").get_batch()
    suite = suites.load(suite_name)
    result = batch.validate(suite)
    failures = [
        {
            "expectation": r.expectation_config.type,
            "description": r.expectation_config.description,
            "severity": r.expectation_config.severity.value,
            "kwargs": {
                k: v for k, v in r.expectation_config.kwargs.items() if k not in ("value_set", "value_pairs_set")
            },
            "observed": {
                k: r.result.get(k)
                for k in (
                    "observed_value",
                    "element_count",
                    "unexpected_count",
                    "unexpected_percent",
                    "partial_unexpected_list",
                )
                if k in r.result
            },
        }
        for r in result.results
        if not r.success
    ]
    # Failed: the worst failed expectation; passed: the worst the suite could report.
    judged = failures or [{"severity": e.severity.value} for e in suite.expectations]
    severity = "ERROR" if any(f["severity"] == "critical" for f in judged) else "WARN"
    return Outcome(suite_name, not failures, severity, failures, len(result.results))
