"""Where a run's steps execute: in the run worker itself (default), on Celery workers, or as Kubernetes Jobs.

Why in-process by default: every process that loads this code location imports dbt's manifest, tsfresh
and Great Expectations (about 30 s on a 2-core machine). The multiprocess default pays that again for
every step; the automated chain (ingest, dbt, features, MOGA) has one or two sequential steps per run,
so a step process buys no parallelism and costs most of the latency from landing to MOGA results.
Retry policies work the same in-process.

`GREENHOUSE_EXECUTOR` (read when the code location loads): `celery` sends steps to Celery workers that
have loaded the code location once (greenhouse_assets/celery_workers.py), on this machine or others;
`k8s` makes each step a Kubernetes Job (dagster-k8s's `k8s_job_executor`, with Dagster's Helm chart and
its K8s run launcher: deploy/helm/values.yaml).
"""

import dagster as dg

from greenhouse_assets import settings

CHOICES = ("in_process", "celery", "k8s")


def run_executor() -> dg.ExecutorDefinition:
    choice = settings.executor()
    if choice == "celery":
        # Imported here: the module builds the Celery app (celery, kombu, dagster-celery: ~0.3 s), which
        # every other executor, e.g. `greenhouse ingest`'s in-process runs, has no use for.
        from greenhouse_assets import celery_workers

        return celery_workers.executor()
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if choice != "in_process":
        raise ValueError(f"GREENHOUSE_EXECUTOR={choice!r}: expected one of {', '.join(CHOICES)} (unset: in_process)")
    return dg.in_process_executor


@dg.definitions
def executor() -> dg.Definitions:
    return dg.Definitions(executor=run_executor())
