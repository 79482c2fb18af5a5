"""Resources shared by every layer, configured from the environment (see `settings.apply_defaults`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg

from greenhouse_assets import database


class PostgresResource(dg.ConfigurableResource):
    """The platform database (TimescaleDB). Hands out one connection per `with` block."""

    url: str

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with database.connect(self.url, autocommit=autocommit) as conn:
            yield conn


class LakeResource(dg.ConfigurableResource):
    """The file lake: original bytes, parsed Parquet, and quarantined files."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)

    def raw_dir(self) -> Path:
        return self.path / "raw"

    def parquet_dir(self) -> Path:
        return self.path / "parquet"

    def quarantine_dir(self) -> Path:
        return self.path / "quarantine"


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
            "lake": LakeResource(root=dg.EnvVar("GREENHOUSE_LAKE_DIR")),
            "landing": LandingFolderResource(path=dg.EnvVar("GREENHOUSE_LANDING_DIR")),
        }
    )
