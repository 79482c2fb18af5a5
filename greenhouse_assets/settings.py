"""Where the platform finds its database, landing folder and lake.

Environment variables always win; without them every path and URL points at the
project-local cluster and folders under `.local/`, so a fresh clone works with no setup.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A deployment can keep its own registry outside the image (`GREENHOUSE_SOURCE_REGISTRY`).
SOURCE_REGISTRY = Path(os.environ.get("GREENHOUSE_SOURCE_REGISTRY", PROJECT_ROOT / "greenhouse_assets" / "sources.yaml"))
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DEFAULT_PORT = 55432
LOCAL_USER = "greenhouse"
PLATFORM_DB = "greenhouse"
DAGSTER_DB = "dagster"


def local_dir() -> Path:
    return Path(os.environ.get("GREENHOUSE_LOCAL_DIR", PROJECT_ROOT / ".local")).resolve()


def local_port() -> int:
    return int(os.environ.get("GREENHOUSE_PG_PORT", DEFAULT_PORT))


def local_url(database: str = PLATFORM_DB) -> str:
    return f"postgresql://{LOCAL_USER}@127.0.0.1:{local_port()}/{database}"


def database_url() -> str:
    """The platform database: `DATABASE_URL`, else the local cluster."""
    return os.environ.get("DATABASE_URL") or local_url(PLATFORM_DB)


def dagster_database_url() -> str:
    """Dagster's run/event storage: `DAGSTER_DATABASE_URL`, else database `dagster` beside the platform's."""
    explicit = os.environ.get("DAGSTER_DATABASE_URL")
    if explicit:
        return explicit
    if os.environ.get("DATABASE_URL"):
        return _with_database(os.environ["DATABASE_URL"], DAGSTER_DB)
    return local_url(DAGSTER_DB)


def landing_dir() -> Path:
    return Path(os.environ.get("GREENHOUSE_LANDING_DIR", local_dir() / "landing"))


def lake_dir() -> Path:
    return Path(os.environ.get("GREENHOUSE_LAKE_DIR", local_dir() / "lake"))


def apply_defaults() -> None:
    """Export the resolved settings so `dg.EnvVar` and child processes (dbt, dagster dev) see them."""
    os.environ.setdefault("DATABASE_URL", database_url())
    os.environ.setdefault("DAGSTER_DATABASE_URL", dagster_database_url())
    os.environ.setdefault("GREENHOUSE_LANDING_DIR", str(landing_dir()))
    os.environ.setdefault("GREENHOUSE_LAKE_DIR", str(lake_dir()))
    # dagster.yaml sits at the project root; Dagster's own files go under `.local/dagster`.
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    os.environ.setdefault("GREENHOUSE_DAGSTER_STORAGE", str(local_dir() / "dagster" / "storage"))
    os.environ.setdefault("GREENHOUSE_DAGSTER_COMPUTE_LOGS", str(local_dir() / "dagster" / "logs"))


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)
