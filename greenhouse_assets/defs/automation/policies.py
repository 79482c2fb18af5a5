"""How assets below staging run by themselves, and how DB-touching steps survive a database blip.

- `on_new_data()` (dbt models and seeds): Dagster's `eager()` without its `~any_deps_missing()`
  guard, and building what was never built when the sensor first sees it (seeds, on a fresh
  database). The dbt sources are the per-source staging assets, partitioned by file version, and
  every file fills only its own source's table, so some staging partitions are always "missing"
  by design; with the guard the models would never run.
- `after_complete_day()` (feature importance, objective models): the day features were recomputed by a
  run that completed a data day or revised a complete one, since this asset was last requested.
  `features_sensor` decides that (the rule is in defs/automation/sensors.py) and says so in the run
  tag `greenhouse/completes_day` ("true" or "false"); an update from a run tagged "false" (a file
  that only extends the day still in progress) does not count, an untagged one (a backfill
  launched by hand) does. `timeseries/measurements` is not a trigger: a dbt run alone does not
  start the MOGA chain before the day features it needs were recomputed. Several complete days
  before one evaluation of `moga_automation` make one request: its interval is the upper bound.
- `after_features()` (MOGA results, the backtest): any dependency updated since this asset was last
  requested, ignoring `timeseries/measurements`: MOGA results follow the objective models, the
  backtest follows the plan.
- `after_prices_or_forecast()` (the day-ahead plan): as `after_features()` but counting
  `timeseries/measurements` too, where a weather file's forecast series land; a price file
  reaches it through `timeseries/site_electricity_prices`. So a new price or forecast file for
  tomorrow re-plans tomorrow, at most once per `plan_automation` interval.
- All four wait for running dependencies and running blocking checks, and for no upstream blocking
  check to stand failed: a failed check stops the chain there until that asset is fixed and re-run.
  Dagster's `all_deps_blocking_checks_passed()` would instead need every file-version partition of a
  staging table checked, which duplicates and files of other sources never are. A dependency
  requested in the same tick is exempt: its checks run in that run and block the child there.
- Per-file-version checks (raw and staging, partitioned by `file_versions`) are the exception: a
  failure there is one version's, and it is handled at the data level (the check marks the version
  `excluded_by_check` and the dbt model skips it, quality/exclusions.py), so it never holds back the
  other versions of the source. Automation still waits while such a check runs (so a failing version
  is marked before any dbt run can read it), and a new evaluation of one (a check re-run after a fix,
  which may lift an exclusion) counts as new data for the dbt models.
- `DB_RETRY`: a failed step is retried in the same run up to 3 times, 2 s, 6 s and 14 s later
  (Dagster's exponential backoff waits delay × (2^n − 1)); every DB-touching asset writes in one
  transaction, so a failed attempt leaves nothing behind. Any error is retried except a
  `dg.Failure(allow_retries=False)`, which is how bad content (quarantine) and a dbt build that
  failed with the database up (defs/transform/dbt.py) fail.
- `explain_lost_database`: on the body of every `DB_RETRY` asset, so an attempt that lost the
  platform database fails with a message naming it and saying what Dagster does next (retry in
  how long, or re-execute once it is back), where Dagster would show "Exceeded max_retries of 3".
"""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg

from greenhouse_assets import catalog, database, settings

MEASUREMENTS = catalog.MEASUREMENTS.asset_key
# Run tag `features_sensor` sets on every run it requests: "true" when the run's days include a data
# day that became complete or a complete day whose data changed, else "false".
COMPLETES_DAY_TAG = "greenhouse/completes_day"
AC = dg.AutomationCondition

DB_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)

Compute = TypeVar("Compute", bound=Callable[..., Any])


def explain_lost_database(compute: Compute) -> Compute:
    """Fail an attempt that lost the platform database with a `dg.Failure` that says so.

    The message names the database (host:port and name, never credentials), the driver's reason,
    and whether Dagster retries the step (when, and which attempt this was) or gave up; the driver
    error stays attached as the cause. Alerts and the run page show a Failure's description, not
    the bare "Exceeded max_retries of 3". Every other error is re-raised untouched, so bad content
    keeps its own message and a `Failure(allow_retries=False)` is never turned into a retry.
    """

    def failure_for(error: Exception) -> dg.Failure | None:
        if isinstance(error, dg.Failure) and not error.allow_retries:
            return None
        if database.lost_connection(error) is None:
            return None
        context = dg.AssetExecutionContext.get()
        policy = context.op_def.retry_policy
        attempt, attempts = context.retry_number + 1, 1 + (policy.max_retries if policy else 0)
        if attempt < attempts:
            # Dagster's own wait for the next attempt: RetryPolicy.calculate_delay(previous attempts + 1).
            then = f"Dagster retries this step in {policy.calculate_delay(attempt):g} s."
        else:
            then = "No retries left: once the database is back, re-execute the run from failure."
        url = _database_url(context)
        lost = str(database.unavailable(url, error))
        return dg.Failure(
            description=f"{lost[0].upper()}{lost[1:]}. Attempt {attempt} of {attempts}. {then}",
            metadata={"database": settings.where(url), "attempt": attempt, "attempts": attempts},
        )

    @contextmanager
    def explained() -> Iterator[None]:
        try:
            yield
        except Exception as error:
            if (failure := failure_for(error)) is None:
                raise
            raise failure from error

    if inspect.isgeneratorfunction(compute):

        @functools.wraps(compute)
        def generate(*args, **kwargs):
            with explained():
                yield from compute(*args, **kwargs)

        return generate  # type: ignore[return-value]

    @functools.wraps(compute)
    def call(*args, **kwargs):
        with explained():
            return compute(*args, **kwargs)

    return call  # type: ignore[return-value]


def _database_url(context: dg.AssetExecutionContext) -> str:
    """The database of the step's Postgres resource (every asset that writes has one), else the setting."""
    postgres = context.resources.original_resource_dict.get("postgres")
    return getattr(postgres, "url", None) or settings.database_url()


def _since_requested(trigger: dg.AutomationCondition) -> dg.AutomationCondition:
    """`trigger` has been true since this asset was last requested.

    Not `since_last_handled()`, which also resets on the asset's own materialization: when a run
    of this asset ends and a dependency's new materialization lands before the same evaluation,
    both are seen at once, the reset wins and the new data is never picked up. Updates from runs
    that included this asset already do not count (`any_deps_updated` excludes them).
    """
    return trigger.since(AC.newly_requested())


# Assets partitioned by file version: their checks judge one version, whose failure excludes only it.
PER_FILE_VERSION = dg.AssetSelection.groups("raw", "staging")


def _guards() -> dg.AutomationCondition:
    failed_upstream = (
        AC.any_deps_match(AC.any_checks_match(AC.check_failed(), blocking_only=True) & ~AC.will_be_requested())
        .ignore(PER_FILE_VERSION)
        .with_label("failed_blocking_check_upstream")
    )
    checking_upstream = AC.any_deps_match(AC.any_checks_match(AC.in_progress(), blocking_only=True)).with_label(
        "blocking_check_running_upstream"
    )
    return ~AC.in_progress() & ~AC.any_deps_in_progress() & ~checking_upstream & ~failed_upstream


def on_new_data() -> dg.AutomationCondition:
    never_built = AC.missing().newly_true().with_label("never_built")
    rechecked = (
        AC.any_deps_match(AC.any_checks_match(AC.newly_updated(), blocking_only=True))
        .allow(PER_FILE_VERSION)
        .with_label("file_version_rechecked")
    )
    updated = AC.any_deps_updated() | rechecked
    return ((never_built | _since_requested(updated)) & _guards()).with_label("on_new_data")


def after_complete_day() -> dg.AutomationCondition:
    only_day_in_progress = AC.all_new_updates_have_run_tags(tag_values={COMPLETES_DAY_TAG: "false"})
    new_day = (
        AC.any_deps_match(AC.newly_updated() & ~AC.executed_with_root_target() & ~only_day_in_progress)
        .ignore(dg.AssetSelection.assets(MEASUREMENTS))
        .with_label("day_completed_or_revised")
    )
    return (_since_requested(new_day) & _guards()).with_label("after_complete_day")


def after_features() -> dg.AutomationCondition:
    updated = AC.any_deps_updated().ignore(dg.AssetSelection.assets(MEASUREMENTS))
    return (_since_requested(updated) & _guards()).with_label("after_features")


def after_prices_or_forecast() -> dg.AutomationCondition:
    return (_since_requested(AC.any_deps_updated()) & _guards()).with_label("after_prices_or_forecast")
