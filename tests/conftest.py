"""Test session: a fresh platform database and Dagster storage database in the real cluster.

`make test` brings the cluster up and migrates the main database first; the suite never touches
that one. Tests marked `pure` need no database: when only those are selected (`make test-unit`,
`pytest -m pure`), the session sets the same environment but creates nothing and connects nowhere. `DATABASE_URL` names the cluster's administrator (the local cluster's superuser by
default): as it, the session makes the roles and creates `greenhouse_test_<pid>` and
`dagster_test_<pid>` beside the main database (as `greenhouse db up` does), migrates the first as the
owner role, and then points the platform at them through the same environment variables a deployment
uses, as the roles a deployment uses: `DATABASE_URL` becomes the pipeline role's URL, so every test
exercises the pipeline's privileges, and Dagster's storage is its own role's. Only fixtures that
reset the platform between tests (`clean_platform`) connect as the administrator (`admin_url`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.database import libpq_url
from greenhouse_assets.settings import with_database

SHARED_DIR = Path(os.environ.get("GREENHOUSE_SHARED_DIR", settings.PROJECT_ROOT.parent / "shared"))
REAL_DATA = SHARED_DIR / "data" / "real"
# Per pytest process, so parallel sessions on one cluster never drop each other's database.
TEST_DB = f"greenhouse_test_{os.getpid()}"
TEST_DAGSTER_DB = f"dagster_test_{os.getpid()}"
CONTRACT_TABLES = (
    "metadata.alerts, metadata.audit_log, metadata.lineage, metadata.quality_metrics, metadata.schema_changes, "
    "metadata.file_columns, metadata.files, metadata.schema_versions, timeseries.measurements, "
    "features.windows, features.extracted_features, features.feature_metadata, features.feature_importance, "
    "moga.solutions, moga.runs, moga.objective_models, moga.plans, moga.plan_days, moga.backtest"
)
ADMIN_BASE = pytest.StashKey[str]()  # DATABASE_URL as the session found it: the cluster's administrator
DATABASES_MADE = pytest.StashKey[bool]()


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_abandoned_test_databases(admin_url: str) -> None:
    """Test databases of pytest processes that no longer exist (killed runs) are dropped."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                r"SELECT datname FROM pg_database WHERE datname ~ '^(greenhouse|dagster)_test_\d+$'"
            ).fetchall()
        ]
        for name in names:
            pid = int(name.rsplit("_", 1)[1])
            if not Path(f"/proc/{pid}").exists():
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _runs_tests(config: pytest.Config) -> bool:
    """A plain pytest process or a pytest-xdist worker; not the xdist controller, which only hands out
    tests (and whose environment its workers inherit, so it must not point it at databases of its own)."""
    return "PYTEST_XDIST_WORKER" in os.environ or not getattr(config.option, "numprocesses", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _runs_tests(config):
        return
    shutil.rmtree(Path(config.rootpath) / ".local" / f"test-{os.getpid()}", ignore_errors=True)
    shutil.rmtree(settings.DBT_PROJECT_DIR / "target" / TEST_DB, ignore_errors=True)  # its dbt manifest
    if not config.stash.get(DATABASES_MADE, False):
        return
    admin = with_database(os.environ["GREENHOUSE_ADMIN_URL"], "postgres")
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        for name in (TEST_DB, TEST_DAGSTER_DB):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pytest_configure(config: pytest.Config) -> None:
    """Runs before collection, so every module that reads the environment sees the test databases' URLs.
    The databases themselves are made after collection, and only when a selected test needs them."""
    if not _runs_tests(config):
        return
    from greenhouse_dev import localdb

    base = os.environ.get("DATABASE_URL") or settings.admin_url(settings.PLATFORM_DB)
    config.stash[ADMIN_BASE] = base
    os.environ.update(localdb.platform_env(base, platform_db=TEST_DB, dagster_db=TEST_DAGSTER_DB))
    os.environ["DAGSTER_HOME"] = str(settings.PROJECT_ROOT)
    state = Path(config.rootpath) / ".local" / f"test-{os.getpid()}"
    os.environ["GREENHOUSE_DAGSTER_STORAGE"] = str(state / "dagster" / "storage")
    os.environ["GREENHOUSE_DAGSTER_COMPUTE_LOGS"] = str(state / "dagster" / "logs")
    os.environ.setdefault("GREENHOUSE_LANDING_DIR", str(state / "landing"))
    os.environ.setdefault("GREENHOUSE_LAKE_URL", str(state / "lake"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """The roles and this process's databases, migrated, unless every selected test is marked `pure`
    (after `-m`/`-k` deselection; an xdist worker decides for the tests it collected)."""
    config = session.config
    if not _runs_tests(config) or all(item.get_closest_marker("pure") for item in session.items):
        return
    from greenhouse_dev import localdb

    base = config.stash[ADMIN_BASE]
    drop_abandoned_test_databases(with_database(base, "postgres"))
    os.environ.update(localdb.fresh_platform(base, platform_db=TEST_DB, dagster_db=TEST_DAGSTER_DB))
    config.stash[DATABASES_MADE] = True


@pytest.fixture
def database_url() -> str:
    """The test platform database as the pipeline role."""
    return os.environ["DATABASE_URL"]


@pytest.fixture
def admin_url() -> str:
    """The test platform database as the cluster administrator: for resetting it between tests only."""
    return os.environ["GREENHOUSE_ADMIN_URL"]


@pytest.fixture
def clean_platform(database_url: str, admin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Empty contract tables, no staging tables, and a landing folder and lake of this test's own.
    (The audit log is append-only for the pipeline: emptying it takes the administrator.)"""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        # Sessions an earlier test's `dagster dev` stack left on this database (a run or its dbt still
        # finishing after the stack was stopped) would hold the locks TRUNCATE needs.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute(f"TRUNCATE {CONTRACT_TABLES} RESTART IDENTITY CASCADE")
        # dbt's bookkeeping of which file versions measurements reflects (exists after the first dbt run).
        if conn.execute("SELECT to_regclass('timeseries.measurement_file_state')").fetchone()[0]:
            conn.execute("TRUNCATE timeseries.measurement_file_state, timeseries.measurement_changes")
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'staging'").fetchall():
            conn.execute(sql.SQL("DROP TABLE staging.{}").format(sql.Identifier(table)))
    monkeypatch.setenv("GREENHOUSE_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("GREENHOUSE_LAKE_URL", str(tmp_path / "lake"))
    (tmp_path / "landing").mkdir()
    return database_url


@pytest.fixture(scope="session")
def instance():
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def webhook():
    """A local incoming webhook for alerts (tests/helpers.py `Webhook`)."""
    from helpers import Webhook

    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(f"real data not found at {REAL_DATA}: check out ../shared beside the project")
    return REAL_DATA
