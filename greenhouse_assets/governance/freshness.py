"""Freshness policies (Dagster's current `FreshnessPolicy`, evaluated by the daemon; shown in the UI).

Climate computers export at least daily, so the time series is WARN when it has not been updated
for a day and FAIL after two; features follow the time series within the MOGA interval, so they
get the same windows plus six hours. Windows are in hours from the environment so a site with a
different export rhythm changes config, not code.
"""

from datetime import timedelta

import dagster as dg

from greenhouse_assets import settings

WARN, FAIL = (timedelta(hours=h) for h in settings.freshness_hours())
FEATURES_LAG = timedelta(hours=6)

TIMESERIES = dg.FreshnessPolicy.time_window(fail_window=FAIL, warn_window=WARN)
FEATURES = dg.FreshnessPolicy.time_window(fail_window=FAIL + FEATURES_LAG, warn_window=WARN + FEATURES_LAG)
