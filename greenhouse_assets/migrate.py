"""Apply or revert the contract schema with Alembic (scripts in the top-level `migrations/`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from greenhouse_assets import settings


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(settings.PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url or settings.owner_url()
    return config


def upgrade(revision: str = "head", url: str | None = None) -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(revision: str = "base", url: str | None = None) -> None:
    command.downgrade(alembic_config(url), revision)
