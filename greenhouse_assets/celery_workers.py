"""Runs' steps across worker processes: Dagster's Celery executor with Redis as the broker (opt-in).

`GREENHOUSE_EXECUTOR=celery` (read when the code location loads: set it for the daemon, webserver and
workers alike) makes every job's steps Celery tasks on `GREENHOUSE_CELERY_BROKER` (a Redis URL); the
workers are `celery -A greenhouse_assets.celery_workers worker`, on any machine that has the code, the
environment and the lake. Unset, runs execute as before (steps in the run's own process).

A step killed with its worker must run again elsewhere, and run once: the task is acknowledged only
after the step finished (`task_acks_late`), a task whose pool process died is put back
(`task_reject_on_worker_lost`), and each worker holds one task at a time (prefetch 1), so a dead worker
strands nothing queued behind its running step. With Redis a message a dead worker had taken is
delivered again once `visibility_timeout` (GREENHOUSE_CELERY_VISIBILITY_TIMEOUT, default 1 h) has passed;
it must exceed the longest step, or a step still running is delivered a second time. Each step writes
its partition in one transaction that replaces the partition's rows, so the killed attempt leaves
nothing and the second attempt no duplicate; Dagster's retry policy (`DB_RETRY`) still retries steps
that fail, inside the worker that runs them.
"""

from __future__ import annotations

import dagster as dg

from greenhouse_assets import catalog, settings


def celery_settings() -> dict:
    """The Celery settings of both sides (executor and workers): they must agree."""
    visibility = settings.celery_visibility_timeout()
    # kombu looks for tasks past their visibility timeout every 10 × 10 s by default: a dead worker's step
    # would wait up to 100 s more. A quarter of the timeout (1-60 s), one Redis scan per look.
    sweep = max(1, min(60, visibility // 4))
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            "visibility_timeout": visibility,
            "unacked_restore_interval": sweep,
            "unacked_restore_throttle": 1,
        },
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "broker_connection_retry_on_startup": True,
    }


def executor() -> dg.ExecutorDefinition:
    """dagster-celery's executor on the configured broker, results in the same Redis, step retries on."""
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {
            "broker": settings.celery_broker(),
            "backend": settings.celery_backend(),
            "config_source": celery_settings(),
            "retries": {"enabled": {}},
        },
        name="celery",
    )


def features_backfill_job() -> dg.JobDefinition:
    """Day features on the Celery executor whatever GREENHOUSE_EXECUTOR says: a backfill spread over the
    workers from any process (`dg.reconstructable(features_backfill_job)`; the workers load it by name)."""
    from greenhouse_assets.definitions import defs

    job = dg.define_asset_job(
        "features_backfill", selection=[catalog.EXTRACTED_FEATURES.asset_key], executor_def=executor()
    )
    return job.resolve(asset_graph=defs.resolve_asset_graph(), resource_defs=defs.resources)


def _make_app():
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    celery = make_app(
        CeleryExecutor(
            retries=RetryMode(RetryMode.DISABLED),
            broker=settings.celery_broker(),
            backend=settings.celery_backend(),
            config_source=celery_settings(),
        ).app_args()
    )
    create_task(celery)
    return celery


# `celery -A greenhouse_assets.celery_workers worker`: the app with dagster-celery's step task.
app = _make_app()


def _preload(**_kwargs) -> None:
    """Load the code location and tsfresh once in the worker's main process, before it forks its pool:
    a step then starts in a process that has them, instead of importing them on its first task."""
    import greenhouse_assets.definitions  # noqa: F401
    import greenhouse_assets.features.calculators  # noqa: F401


def _connect_preload() -> None:
    from celery.signals import worker_init

    worker_init.connect(_preload, weak=False)


_connect_preload()
