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
    explicit = os.environ.get("GREENHOUSE_ADMIN_URL")
    return _with_database(explicit, database) if explicit else local_url(database, LOCAL_USER)


def database_url() -> str:
    """The platform database as the pipeline role: `DATABASE_URL`, else the local cluster."""
    return os.environ.get("DATABASE_URL") or local_url(PLATFORM_DB)


def role_url(role: str) -> str:
    """The platform database as `role` (a key of ROLES): `DATABASE_URL`'s server and database with that
    role's name and its password from `GREENHOUSE_<ROLE>_PASSWORD`; the owner's may be given whole as
    `GREENHOUSE_OWNER_URL`, the analyst's as `GREENHOUSE_ANALYST_URL` (a read-only standby, so analysts'
    queries never compete with the pipeline's writes), the pipeline's is `DATABASE_URL` itself."""
    if role == "pipeline":
        return database_url()
    if role in ("owner", "analyst") and os.environ.get(f"GREENHOUSE_{role.upper()}_URL"):
        return os.environ[f"GREENHOUSE_{role.upper()}_URL"]
    return _with_user(database_url(), ROLES[role], os.environ.get(f"GREENHOUSE_{role.upper()}_PASSWORD"))


def owner_url() -> str:
    """Where migrations run: as the owner role."""
    return role_url("owner")


def dagster_database_url() -> str:
    """Dagster's run/event storage: `DAGSTER_DATABASE_URL`, else database `dagster` beside the platform's,
    as the role `greenhouse_dagster`."""
    explicit = os.environ.get("DAGSTER_DATABASE_URL")
    if explicit:
        return explicit
    base = _with_database(database_url(), DAGSTER_DB)
    return _with_user(base, ROLES["dagster"], os.environ.get("GREENHOUSE_DAGSTER_PASSWORD"))


def landing_dir() -> Path:
    return Path(os.environ.get("GREENHOUSE_LANDING_DIR", local_dir() / "landing"))


def lake_url() -> str:
    """The lake: `GREENHOUSE_LAKE_URL`, a local folder or `s3://bucket/prefix` (`GREENHOUSE_LAKE_DIR`, its
    older name, still read), else `.local/lake`."""
    return (os.environ.get("GREENHOUSE_LAKE_URL") or os.environ.get("GREENHOUSE_LAKE_DIR")
            or str(local_dir() / "lake"))


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


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _with_user(url: str, user: str, password: str | None) -> str:
    from sqlalchemy.engine import make_url

    # Not URL.set(): it ignores None, and one role's password must never travel with another's name.
    return make_url(url)._replace(username=user, password=password).render_as_string(hide_password=False)
