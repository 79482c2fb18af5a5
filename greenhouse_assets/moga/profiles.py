"""Per-site configuration (`greenhouse_assets/sites.yaml`): the greenhouse's build and the crop profile.

The greenhouse section supplies the scales the data cannot identify (pipe heat output, cover
type, installed lamps); the crop profile supplies the optimiser's bounds. Numbers copied from
the literature data set name the `entry_id`s they came from; `check_citations` compares them
with `phenotype.json` when that file is present (the repository's ../shared folder) and says
plainly that it is not when it is absent (production images), in which case the copied numbers
are used as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from greenhouse_assets import settings

SITE_CONFIG = settings.PROJECT_ROOT / "greenhouse_assets" / "sites.yaml"
PHENOTYPE_JSON = settings.PROJECT_ROOT.parent / "shared" / "data" / "literature" / "phenotype.json"
DEFAULT_CROP = "generic_pot_plant"
CROP_NUMBERS = (
    "max_light_period_h",
    "dli_min_mol_m2_d",
    "dli_max_mol_m2_d",
    "temperature_day_min_c",
    "temperature_day_max_c",
    "temperature_night_min_c",
    "temperature_night_max_c",
    "standing_dry_weight_g_m2",
)
DEVELOPMENT = ("development_base_c", "development_reference_c")


@dataclass(frozen=True)
class CropProfile:
    name: str
    species: str
    phase: str
    max_light_period_h: float
    dli_min_mol_m2_d: float
    dli_max_mol_m2_d: float
    temperature_day_min_c: float
    temperature_day_max_c: float
    temperature_night_min_c: float
    temperature_night_max_c: float
    standing_dry_weight_g_m2: float
    sources: dict
    # Linear thermal-time development (both or neither): the base temperature and the 24-h mean
    # temperature of the crop's published cycle. None: growth and cost count per calendar day.
    development_base_c: float | None = None
    development_reference_c: float | None = None

    @property
    def temperature_bounds(self) -> tuple[float, float]:
        """Bounds of the 24-h mean setpoint: the coolest night to the warmest day of the profile."""
        return (
            min(self.temperature_night_min_c, self.temperature_day_min_c),
            max(self.temperature_day_max_c, self.temperature_night_max_c),
        )

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "species": self.species,
            "phase": self.phase,
            **{k: getattr(self, k) for k in CROP_NUMBERS + DEVELOPMENT},
            "sources": self.sources,
        }


@dataclass(frozen=True)
class Greenhouse:
    cover_type: str
    pipe_length_m_per_m2: float
    pipe_heat_output_w_per_m_k: float
    transmission: float
    installed_lamp_ppfd: float
    lamp_efficacy_umol_j: float
    sources: dict
    infiltration_ach: float = 1.0
    shade_screen_fraction: float = 0.0
    shade_screen_above_w_m2: float = 0.0

    @property
    def k_pipe_w_m2k(self) -> float:
        """Heat from the pipes per m² floor per K of pipe excess temperature."""
        return self.pipe_length_m_per_m2 * self.pipe_heat_output_w_per_m_k

    def as_dict(self) -> dict:
        return {
            "cover_type": self.cover_type,
            "pipe_length_m_per_m2": self.pipe_length_m_per_m2,
            "pipe_heat_output_w_per_m_k": self.pipe_heat_output_w_per_m_k,
            "k_pipe_w_m2k": self.k_pipe_w_m2k,
            "transmission": self.transmission,
            "installed_lamp_ppfd": self.installed_lamp_ppfd,
            "lamp_efficacy_umol_j": self.lamp_efficacy_umol_j,
            "infiltration_ach": self.infiltration_ach,
            "shade_screen_fraction": self.shade_screen_fraction,
            "shade_screen_above_w_m2": self.shade_screen_above_w_m2,
            "sources": self.sources,
        }


# A site missing from sites.yaml gets this, labelled as such in every model row.
UNCONFIGURED_GREENHOUSE = {
    "cover_type": {"value": "single_glass", "source": "unconfigured site: default single glass"},
    "pipe_length_m_per_m2": {"value": 1.5, "source": "unconfigured site: default"},
    "pipe_heat_output_w_per_m_k": {"value": 1.33, "source": "unconfigured site: 51 mm steel pipe"},
    "transmission": {"value": 0.7, "source": "unconfigured site: single glass"},
    "installed_lamp_ppfd": {"value": 150.0, "source": "unconfigured site: default"},
    "lamp_efficacy_umol_j": {"value": 1.8, "source": "unconfigured site: HPS"},
    "infiltration_ach": {"value": 1.0, "source": "unconfigured site: ASABE EP406 mid-range for new glass"},
}
PRICE_KEYS = ("heat_eur_per_kwh", "electricity_eur_per_kwh", "co2_eur_per_kg")


@dataclass(frozen=True)
class Prices:
    """EUR per kWh heat, per kWh electricity and per kg CO2: the cost objective's weights."""

    heat_eur_per_kwh: float
    electricity_eur_per_kwh: float
    co2_eur_per_kg: float
    sources: dict

    def values(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in PRICE_KEYS}

    def as_dict(self) -> dict:
        return {**self.values(), "sources": self.sources}


def _path() -> Path:
    return settings.site_config(SITE_CONFIG)


@lru_cache(maxsize=4)
def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_config(path: Path | None = None) -> dict:
    return _load(path or _path())


def _numbers(section: dict) -> tuple[dict, dict]:
    values, sources = {}, {}
    for key, item in section.items():
        if isinstance(item, dict) and "value" in item:
            values[key] = item["value"]
            sources[key] = {k: v for k, v in item.items() if k != "value"}
        else:
            values[key] = item
    return values, sources


def crop_profile(name: str, config: dict | None = None) -> CropProfile:
    config = config or load_config()
    if name not in config["crops"]:
        raise KeyError(f"crop profile {name!r} is not defined under `crops` in {_path()}")
    values, sources = _numbers(config["crops"][name])
    given = [k for k in DEVELOPMENT if values.get(k) is not None]
    if len(given) == 1:
        raise KeyError(
            f"crop profile {name!r} gives {given[0]} without its partner: a development model needs "
            f"both {DEVELOPMENT} in {_path()}"
        )
    return CropProfile(
        name=name,
        species=values["species"],
        phase=values["phase"],
        **{k: float(values[k]) for k in CROP_NUMBERS},
        **{k: float(values[k]) for k in given},
        sources=sources,
    )


def zone_crop(site: str, zone: str, config: dict | None = None) -> CropProfile:
    """The zone's crop: its own entry under the site's `zones`, else the site's, else the generic profile."""
    config = config or load_config()
    site_config = config["sites"].get(site, {})
    zone_config = (site_config.get("zones") or {}).get(zone, {})
    return crop_profile(zone_config.get("crop") or site_config.get("crop") or DEFAULT_CROP, config)


def greenhouse(site: str, config: dict | None = None) -> Greenhouse:
    config = config or load_config()
    section = config["sites"].get(site, {}).get("greenhouse") or UNCONFIGURED_GREENHOUSE
    values, sources = _numbers(section)
    return Greenhouse(
        cover_type=values["cover_type"],
        **{
            k: float(values[k])
            for k in (
                "pipe_length_m_per_m2",
                "pipe_heat_output_w_per_m_k",
                "transmission",
                "installed_lamp_ppfd",
                "lamp_efficacy_umol_j",
            )
        },
        infiltration_ach=float(values.get("infiltration_ach", 1.0)),
        shade_screen_fraction=float(values.get("shade_screen_fraction", 0.0)),
        shade_screen_above_w_m2=float(values.get("shade_screen_above_w_m2", 0.0)),
        sources=sources,
    )


def prices(site: str, config: dict | None = None) -> Prices:
    """The site's prices; a site without them gets the problem's defaults, labelled as such."""
    from greenhouse_assets.moga.problem import DEFAULT_PRICES

    config = config or load_config()
    section = config["sites"].get(site, {}).get("prices") or {
        k: {"value": v, "source": "unconfigured site: platform default price"} for k, v in DEFAULT_PRICES.items()
    }
    values, sources = _numbers(section)
    missing = [k for k in PRICE_KEYS if k not in values]
    if missing:
        raise KeyError(f"sites.{site}.prices lacks {missing} in {_path()}")
    return Prices(**{k: float(values[k]) for k in PRICE_KEYS}, sources=sources)


def check_citations(path: Path = PHENOTYPE_JSON, config: dict | None = None) -> tuple[list[str], str]:
    """(mismatches, note): every crop number citing phenotype.json entries, compared with the file.

    Without the file (production images have no ../shared) nothing can be compared: no
    mismatches, and a note saying the copied numbers in sites.yaml are used as they are.
    """
    if not path.is_file():
        return [], (
            f"literature file {path} not found (it lives in the repository's ../shared folder, "
            "not in production images): the cited numbers copied into sites.yaml are used as they are"
        )
    entries = {int(e["entry_id"]): e for e in json.loads(path.read_text(encoding="utf-8"))["phenotype"]}
    mismatches = []
    for name, crop in (config or load_config())["crops"].items():
        for key, item in crop.items():
            if not isinstance(item, dict) or "entries" not in item:
                continue
            for entry_id in item["entries"]:
                entry = entries.get(int(entry_id))
                found = None if entry is None else entry.get(item["field"])
                if found is None or abs(float(found) - float(item["value"])) > 1e-9:
                    mismatches.append(f"{name}.{key} = {item['value']} but entry {entry_id} {item['field']} = {found}")
    return mismatches, f"{len(entries)} entries in {path}"
