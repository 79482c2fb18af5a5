"""dbt's profile reads GREENHOUSE_PG_* (profiles.yml cannot parse a URL): settings.dbt_env derives them."""

from __future__ import annotations

import os

from greenhouse_assets import settings


def export_dbt_env(url: str | None = None) -> dict[str, str]:
    """Point dbt (a child process inheriting os.environ) at the platform database."""
    env = settings.dbt_env(url)
    os.environ.update(env)
    return env
