"""Export the source registry's column mapping, vocabulary and allow-list, and each site's electricity
price area (sites.yaml), as dbt seeds.

The unpivot needs, per staged column, the unit its values really are in (the registry's
`unit`, which can differ from what the file declares and from `metadata.file_columns.unit`).
The registry is the single place that knowledge lives, so the seeds are generated from it:
`python -m greenhouse_assets.transform.seeds` after editing `sources.yaml`; a test fails
while they are stale.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from greenhouse_assets import settings
from greenhouse_assets.ingest.registry import SourceRegistry
from greenhouse_assets.moga import profiles

SEEDS = settings.DBT_PROJECT_DIR / "seeds"
DEFAULT_PRICE_AREA = "DK1"  # both sites are west of the Great Belt
MAPPING_FIELDS = ["source", "site", "rule", "pattern", "variable", "unit", "canonical_unit", "conversion"]


def _csv(fields: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def price_area_rows(config: dict | None = None) -> list[dict[str, str]]:
    """(site, price_area) for every site in sites.yaml; `price_area` is a plain name or {value, source}."""
    config = config or profiles.load_config()
    rows = []
    for site, section in sorted((config.get("sites") or {}).items()):
        area = (section or {}).get("price_area", DEFAULT_PRICE_AREA)
        area = area.get("value", DEFAULT_PRICE_AREA) if isinstance(area, dict) else area
        rows.append({"site": site, "price_area": str(area).strip()})
    return rows


def rendered(registry: SourceRegistry | None = None) -> dict[str, str]:
    registry = registry or SourceRegistry.load()
    variables = [{"variable": v, "canonical_unit": u} for v, u in registry.vocabulary.items()]
    return {
        "column_mappings.csv": _csv(MAPPING_FIELDS, registry.mapping_rows()),
        "variables.csv": _csv(["variable", "canonical_unit"], variables),
        "allow_list.csv": _csv(["source", "site", "variable"], registry.allow_rows()),
        "site_price_areas.csv": _csv(["site", "price_area"], price_area_rows()),
    }


def write(directory: Path = SEEDS) -> list[Path]:
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path)
