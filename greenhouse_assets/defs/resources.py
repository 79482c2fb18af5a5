"""Resources shared by every layer, configured from the environment (see `settings.apply_defaults`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg

from greenhouse_assets import database
from greenhouse_assets.ingest.lake_store import LakeStore


class PostgresResource(dg.ConfigurableResource):
    """The platform database (TimescaleDB). Hands out one connection per `with` block."""

    url: str

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with database.connect(self.url, autocommit=autocommit) as conn:
            yield conn


class LakeResource(dg.ConfigurableResource):
    """The file lake (original bytes, parsed Parquet, quarantined files, MOGA and quality charts) at `url`:
    a local folder or `s3://bucket/prefix`."""

    url: str

    @property
    def store(self) -> LakeStore:
        return LakeStore(self.url)


class LandingFolderResource(dg.ConfigurableResource):
    """Where climate computers and researchers drop their exports."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "postgres": PostgresResource(url=dg.EnvVar("DATABASE_URL")),
            "lake": LakeResource(url=dg.EnvVar("GREENHOUSE_LAKE_URL")),
            "landing": LandingFolderResource(path=dg.EnvVar("GREENHOUSE_LANDING_DIR")),
        }
    )
