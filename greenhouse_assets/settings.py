"""Every setting the platform reads from the environment, and every form of a database URL.

The one module that reads `os.environ` for configuration (README "Environment" lists the variables)
and the one that rewrites URLs: libpq/psycopg/psql, SQLAlchemy (Alembic, Great Expectations), dbt's
profile variables. Environment variables always win; without them every path and URL points at the
project-local cluster and folders under `.local/`, so a fresh clone works with no setup. Domain code
never sees a URL: it receives a connection, or the Postgres resource (defs/resources.py).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A deployment can keep its own registry outside the image (`GREENHOUSE_SOURCE_REGISTRY`).
SOURCE_REGISTRY = Path(
    os.environ.get("GREENHOUSE_SOURCE_REGISTRY", PROJECT_ROOT / "greenhouse_assets" / "sources.yaml")
)
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DEFAULT_PORT = 55432
LOCAL_USER = "greenhouse"  # the local cluster's superuser: bootstraps roles and databases, nothing else
PLATFORM_DB = "greenhouse"
DAGSTER_DB = "dagster"

# Roles by duty (greenhouse_assets/roles.py creates them; migration 0011 grants what each may do).
ROLES = {
    "owner": "greenhouse_owner",  # owns the contract schemas: migrations only
    "pipeline": "greenhouse_pipeline",  # ingest, dbt, features, MOGA, sensors, the CLI
    "analyst": "greenhouse_analyst",  # read-only SQL access
    "dagster": "greenhouse_dagster",  # Dagster's own run/event storage
}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def local_dir() -> Path:
    return Path(os.environ.get("GREENHOUSE_LOCAL_DIR", PROJECT_ROOT / ".local")).resolve()


def local_port() -> int:
    return int(os.environ.get("GREENHOUSE_PG_PORT", DEFAULT_PORT))


def standby_port() -> int:
    """The local hot standby's port (`greenhouse db standby`): the primary's plus one unless set."""
    return int(os.environ.get("GREENHOUSE_STANDBY_PORT", local_port() + 1))


def local_url(database: str = PLATFORM_DB, user: str = ROLES["pipeline"]) -> str:
    """The local cluster trusts loopback connections: no password in any local URL."""
    return f"postgresql://{user}@127.0.0.1:{local_port()}/{database}"


def admin_url(database: str = "postgres") -> str:
    """The cluster administrator, for bootstrapping roles and databases: `GREENHOUSE_ADMIN_URL`, else the
    local cluster's superuser."""
    explicit = explicit_admin_url()
    return with_database(explicit, database) if explicit else local_url(database, LOCAL_USER)


def explicit_admin_url() -> str | None:
    """`GREENHOUSE_ADMIN_URL` as given (None: unset): a superuser of a server of one's own."""
    return os.environ.get("GREENHOUSE_ADMIN_URL") or None


def explicit_database_url() -> str | None:
    """`DATABASE_URL` as given (None: unset, the local cluster)."""
    return os.environ.get("DATABASE_URL") or None


def database_url() -> str:
    """The platform database as the pipeline role: `DATABASE_URL`, else the local cluster."""
    return explicit_database_url() or local_url(PLATFORM_DB)


def role_password(role: str) -> str | None:
    """`GREENHOUSE_<ROLE>_PASSWORD` for a key of ROLES (None: unset; the local cluster needs none)."""
    return os.environ.get(f"GREENHOUSE_{role.upper()}_PASSWORD") or None


def role_url(role: str) -> str:
    """The platform database as `role` (a key of ROLES): `DATABASE_URL`'s server and database with that
    role's name and its password from `GREENHOUSE_<ROLE>_PASSWORD`; the owner's may be given whole as
    `GREENHOUSE_OWNER_URL`, the analyst's as `GREENHOUSE_ANALYST_URL` (a read-only standby, so analysts'
    queries never compete with the pipeline's writes), the pipeline's is `DATABASE_URL` itself."""
    if role == "pipeline":
        return database_url()
    if role in ("owner", "analyst") and os.environ.get(f"GREENHOUSE_{role.upper()}_URL"):
        return os.environ[f"GREENHOUSE_{role.upper()}_URL"]  # the analyst's may name a standby
    return as_role(database_url(), role)


def owner_url() -> str:
    """Where migrations run: as the owner role."""
    return role_url("owner")


def dagster_database_url() -> str:
    """Dagster's run/event storage: `DAGSTER_DATABASE_URL`, else database `dagster` beside the platform's,
    as the role `greenhouse_dagster`."""
    explicit = os.environ.get("DAGSTER_DATABASE_URL")
    if explicit:
        return explicit
    return as_role(with_database(database_url(), DAGSTER_DB), "dagster")


def landing_dir() -> Path:
    return Path(os.environ.get("GREENHOUSE_LANDING_DIR", local_dir() / "landing"))


def lake_url() -> str:
    """The lake: `GREENHOUSE_LAKE_URL`, a local folder or `s3://bucket/prefix` (`GREENHOUSE_LAKE_DIR`, its
    older name, still read), else `.local/lake`."""
    return os.environ.get("GREENHOUSE_LAKE_URL") or os.environ.get("GREENHOUSE_LAKE_DIR") or str(local_dir() / "lake")


def lake_storage_options(url: str) -> dict:
    """fsspec options for the lake's filesystem. For `s3://` the usual AWS variables: `AWS_ENDPOINT_URL_S3`
    or `AWS_ENDPOINT_URL` (an S3-compatible server: SeaweedFS, MinIO, Ceph; addressed path-style),
    `AWS_REGION` / `AWS_DEFAULT_REGION`; keys (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, a profile, an
    instance role) are botocore's to find. fsspec's own `FSSPEC_S3_*` variables apply as well."""
    if not url.startswith("s3://"):
        return {}
    options: dict = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
        options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["client_kwargs"] = {"region_name": region}
    return options


def lake_spool_dir() -> Path:
    """Local scratch for lake objects on their way to or from object storage (`GREENHOUSE_LAKE_SPOOL`, else
    the system's temporary folder)."""
    import tempfile

    return Path(os.environ.get("GREENHOUSE_LAKE_SPOOL") or tempfile.gettempdir())


# Defaults of the automation intervals (what `make dev` gets; bench/latency.py measures them).
SENSOR_INTERVAL = 5
MOGA_INTERVAL = 30
PLAN_INTERVAL = 600


def sensor_interval() -> int:
    """Seconds between landing-folder checks, timeseries automation evaluations and features-sensor ticks.

    5 s by default: a landed file is handed on after two scans that see it unchanged, and each of the
    three hops to the day features waits for one tick, so the interval counts about four times in the
    landing → features latency; an idle tick of the three costs little (README, Benchmarks)."""
    return _int("GREENHOUSE_SENSOR_INTERVAL", SENSOR_INTERVAL)


def sensor_max_files() -> int:
    """Files hashed per landing-sensor tick at most."""
    return _int("GREENHOUSE_SENSOR_MAX_FILES", 200)


def sensor_batch_files() -> int:
    """Files one landing-sensor run takes at most (a batch: one partition each, one process)."""
    return _int("GREENHOUSE_SENSOR_BATCH_FILES", 12)


def moga_interval() -> int:
    """Seconds between evaluations of the MOGA chain's day rule: the least spacing of two MOGA runs."""
    return _int("GREENHOUSE_MOGA_INTERVAL", MOGA_INTERVAL)


def plan_interval() -> int:
    """Seconds between evaluations of the day-ahead plan and its backtest (new prices or forecasts)."""
    return _int("GREENHOUSE_PLAN_INTERVAL", PLAN_INTERVAL)


def freshness_hours() -> tuple[int, int]:
    """(warn, fail) hours without an update before the time series is stale."""
    return _int("GREENHOUSE_FRESHNESS_WARN_HOURS", 24), _int("GREENHOUSE_FRESHNESS_FAIL_HOURS", 48)


def dask_scheduler() -> str | None:
    """A Dask scheduler address for feature extraction (None: in-process)."""
    return _env("GREENHOUSE_DASK_SCHEDULER") or None


PSEUDONYM_KEY = "GREENHOUSE_PSEUDONYM_KEY"


def pseudonym_key() -> str:
    """The HMAC key for identifying columns ('' when unset)."""
    return _env(PSEUDONYM_KEY)


def site_config(default: Path) -> Path:
    """The sites and crop profiles file: `GREENHOUSE_SITE_CONFIG`, else `default`."""
    return Path(_env("GREENHOUSE_SITE_CONFIG") or default)


def log_level() -> str:
    return _env("GREENHOUSE_LOG_LEVEL", "INFO")


def ui_auth() -> bool:
    """`GREENHOUSE_UI_AUTH` set (not 0): the UI runs behind nginx with a login."""
    return _env("GREENHOUSE_UI_AUTH") not in ("", "0")


def executor() -> str:
    """`GREENHOUSE_EXECUTOR`: in_process (default), celery or k8s (defs/automation/executor.py)."""
    return _env("GREENHOUSE_EXECUTOR").strip().lower() or "in_process"


def celery_broker() -> str:
    """`GREENHOUSE_CELERY_BROKER`: the Redis URL Celery's executor and workers meet at."""
    return _env("GREENHOUSE_CELERY_BROKER", "redis://127.0.0.1:6379/0")


def celery_backend() -> str:
    """`GREENHOUSE_CELERY_BACKEND`: where Celery keeps results (default: the broker)."""
    return _env("GREENHOUSE_CELERY_BACKEND", celery_broker())


def celery_visibility_timeout() -> int:
    """`GREENHOUSE_CELERY_VISIBILITY_TIMEOUT` (s): a task unacknowledged this long goes to another worker."""
    return _int("GREENHOUSE_CELERY_VISIBILITY_TIMEOUT", 3600)


def lake_conditional_put() -> bool:
    """`GREENHOUSE_LAKE_CONDITIONAL_PUT=0` for an S3 server that ignores `If-None-Match` (lake_store.py)."""
    return _env("GREENHOUSE_LAKE_CONDITIONAL_PUT", "1") != "0"


def cli_user() -> str:
    """Who runs a CLI command, for the run's `user` tag (the audit's actor)."""
    return _env("USER", "cli")


def apply_defaults() -> None:
    """Export the resolved settings so `dg.EnvVar` and child processes (dbt, dagster dev) see them."""
    os.environ.setdefault("DATABASE_URL", database_url())
    os.environ.setdefault("DAGSTER_DATABASE_URL", dagster_database_url())
    os.environ.setdefault("GREENHOUSE_LANDING_DIR", str(landing_dir()))
    os.environ.setdefault("GREENHOUSE_LAKE_URL", lake_url())
    # dagster.yaml sits at the project root; Dagster's own files go under `.local/dagster`.
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    os.environ.setdefault("GREENHOUSE_DAGSTER_STORAGE", str(local_dir() / "dagster" / "storage"))
    os.environ.setdefault("GREENHOUSE_DAGSTER_COMPUTE_LOGS", str(local_dir() / "dagster" / "logs"))
    apply_alert_defaults()


def apply_alert_defaults() -> None:
    """Alerts go to the log and nothing is exported unless configured (defs/governance/resources.py)."""
    for name, default in (
        ("GREENHOUSE_ALERT_NOTIFIER", "log"),
        ("GREENHOUSE_ALERT_WEBHOOK_URL", ""),
        ("GREENHOUSE_OPENLINEAGE_URL", ""),
        ("GREENHOUSE_OPENLINEAGE_FILE", ""),
    ):
        os.environ.setdefault(name, default)


# --------------------------------------------------------------------------- URL forms


def with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def with_user(url: str, user: str, password: str | None) -> str:
    from sqlalchemy.engine import make_url

    # Not URL.set(): it ignores None, and one role's password must never travel with another's name.
    return make_url(url)._replace(username=user, password=password).render_as_string(hide_password=False)


def as_role(url: str, role: str) -> str:
    """`url` as the role `role` (a key of ROLES), with that role's password if one is set."""
    return with_user(url, ROLES[role], role_password(role))


def libpq_url(url: str) -> str:
    """psycopg, psql and dbt want a plain libpq URL without a SQLAlchemy driver suffix."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    """SQLAlchemy needs the driver named: psycopg (3) for Alembic, psycopg2 for Great Expectations."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def where(url: str) -> str:
    """`database 'greenhouse' at 127.0.0.1:55432`: which database, without credentials."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"database {parsed.database!r} at {parsed.host or 'localhost'}:{parsed.port or 5432}"


def dbt_env(url: str | None = None) -> dict[str, str]:
    """dbt's profile (dbt_project/profiles.yml) reads GREENHOUSE_PG_*: it cannot parse a URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url or database_url())
    return {
        "GREENHOUSE_PG_HOST": parsed.host or "127.0.0.1",
        "GREENHOUSE_PG_PORT": str(parsed.port or 5432),
        "GREENHOUSE_PG_USER": parsed.username or LOCAL_USER,
        "GREENHOUSE_PG_PASSWORD": parsed.password or "",
        "GREENHOUSE_PG_DB": parsed.database or PLATFORM_DB,
    }
