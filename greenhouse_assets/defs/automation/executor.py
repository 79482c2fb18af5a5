"""Runs execute their steps in the run worker itself (in-process executor), or on Celery workers.

Why in-process: every process that loads this code location imports dbt's manifest, tsfresh and Great
Expectations (about 30 s on a 2-core machine). The multiprocess default pays that again for every
step; the automated chain (ingest, dbt, features, MOGA) has one or two sequential steps per run,
so a step process buys no parallelism and costs most of the latency from landing to MOGA results.
Retry policies work the same in-process.

`GREENHOUSE_EXECUTOR=celery`: steps are Celery tasks run by workers that have loaded the code location
once (greenhouse_assets/celery_workers.py), on this machine or others.
"""

import dagster as dg

from greenhouse_assets import celery_workers


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=celery_workers.executor() if celery_workers.enabled() else dg.in_process_executor)
