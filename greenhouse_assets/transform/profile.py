"""dbt's profile reads GREENHOUSE_PG_* (profiles.yml cannot parse a URL): derive them from DATABASE_URL."""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

from greenhouse_assets import settings


def dbt_env(url: str | None = None) -> dict[str, str]:
    parsed = make_url(url or settings.database_url())
    return {
        "GREENHOUSE_PG_HOST": parsed.host or "127.0.0.1",
        "GREENHOUSE_PG_PORT": str(parsed.port or 5432),
        "GREENHOUSE_PG_USER": parsed.username or settings.LOCAL_USER,
        "GREENHOUSE_PG_PASSWORD": parsed.password or "",
        "GREENHOUSE_PG_DB": parsed.database or settings.PLATFORM_DB,
    }


def export_dbt_env(url: str | None = None) -> dict[str, str]:
    """Point dbt (a child process inheriting os.environ) at the platform database."""
    env = dbt_env(url)
    os.environ.update(env)
    return env
