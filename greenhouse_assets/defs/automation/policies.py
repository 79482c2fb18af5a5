"""How assets below staging run by themselves, and how DB-touching steps survive a database blip.

- `on_new_data()` (dbt models and seeds): Dagster's `eager()` without its `~any_deps_missing()`
  guard, and building what was never built when the sensor first sees it (seeds, on a fresh
  database). The dbt sources are the per-source staging assets, partitioned by file version, and
  every file fills only its own source's table, so some staging partitions are always "missing"
  by design; with the guard the models would never run.
- `after_features()` (feature importance, MOGA): any dependency updated since this asset was last
  requested, ignoring `timeseries/measurements`, so a dbt run alone does not start the
  MOGA chain before the day features it needs were recomputed. It has no time gate of its own:
  it is evaluated only by `moga_automation`, whose interval is the "at most once per interval".
- Both wait for running dependencies, and for no upstream blocking check to stand failed: a
  failed check stops the chain there until that asset is fixed and re-run. Dagster's
  `all_deps_blocking_checks_passed()` would instead need every file-version partition of a
  staging table checked, which duplicates and files of other sources never are. A dependency
  requested in the same tick is exempt: its checks run in that run and block the child there.
- `DB_RETRY`: a step that lost its connection is retried in the same run, 2 s, 4 s, 8 s later;
  every DB-touching asset writes in one transaction, so a failed attempt leaves nothing behind.
"""

import dagster as dg

MEASUREMENTS = dg.AssetKey(["timeseries", "measurements"])
AC = dg.AutomationCondition

DB_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


def _since_requested(trigger: dg.AutomationCondition) -> dg.AutomationCondition:
    """`trigger` has been true since this asset was last requested.

    Not `since_last_handled()`, which also resets on the asset's own materialization: when a run
    of this asset ends and a dependency's new materialization lands before the same evaluation,
    both are seen at once, the reset wins and the new data is never picked up. Updates from runs
    that included this asset already do not count (`any_deps_updated` excludes them).
    """
    return trigger.since(AC.newly_requested())


def _guards() -> dg.AutomationCondition:
    failed_upstream = AC.any_deps_match(
        AC.any_checks_match(AC.check_failed(), blocking_only=True) & ~AC.will_be_requested()
    ).with_label("failed_blocking_check_upstream")
    return ~AC.in_progress() & ~AC.any_deps_in_progress() & ~failed_upstream


def on_new_data() -> dg.AutomationCondition:
    never_built = AC.missing().newly_true().with_label("never_built")
    return ((never_built | _since_requested(AC.any_deps_updated())) & _guards()).with_label("on_new_data")


def after_features() -> dg.AutomationCondition:
    updated = AC.any_deps_updated().ignore(dg.AssetSelection.assets(MEASUREMENTS))
    return (_since_requested(updated) & _guards()).with_label("after_features")
