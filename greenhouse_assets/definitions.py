"""The code location: every asset, check, sensor and resource found under `defs/`."""

from pathlib import Path

import dagster as dg

from greenhouse_assets import settings

settings.apply_defaults()

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
