"""Runs execute their steps in the run worker itself (in-process executor).

Why: every process that loads this code location imports dbt's manifest, tsfresh and Great
Expectations (about 30 s on a 2-core machine). The multiprocess default pays that again for every
step; the automated chain (ingest, dbt, features, MOGA) has one or two sequential steps per run,
so a step process buys no parallelism and costs most of the latency from landing to MOGA results.
Retry policies work the same in-process.
"""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=dg.in_process_executor)
