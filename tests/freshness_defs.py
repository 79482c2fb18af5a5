"""A one-asset code location under the time-series freshness policy, for Dagster's freshness daemon in
tests (tests/test_governance.py loads it in-process, as `dagster dev` loads the real one)."""

import dagster as dg

from greenhouse_assets.governance import freshness

KEY = dg.AssetKey(["timeseries", "governance_test_readings"])


@dg.asset(key=KEY, freshness_policy=freshness.TIMESERIES)
def readings() -> None:
    pass


defs = dg.Definitions(assets=[readings])
