"""The dbt project's `vars` (dbt_project.yml): the thresholds and margins the models use.

Python that must agree with the models (the features sensor's anomaly margin, the transform
benchmark's reference computation, the tests) reads them here, from the one file dbt reads.
"""

from __future__ import annotations

from functools import cache

import yaml

from greenhouse_assets import settings


@cache
def dbt_vars() -> dict:
    """`vars` of dbt_project.yml, read once per process."""
    return yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
