"""What each feature name means: the `features.feature_metadata` rows for an extraction spec."""

from __future__ import annotations

from greenhouse_assets.features import calculators, domain
from greenhouse_assets.features.extract import ExtractionSpec
from greenhouse_assets.features.store import library_versions

DOMAIN_ALGORITHMS = {
    "dli_mol_m2": "Σ par·Δt/1e6; without par: Σ radiation·Δt·PAR_FRACTION·UMOL_PER_JOULE·GREENHOUSE_TRANSMISSION/1e6",
    "growing_degree_days_base10": "Σ max(air_temperature − 10, 0)·Δt / 86400 s",
    "vpd_mean_kpa": "mean of Tetens VPD from air_temperature and relative_humidity (measured vpd if either is missing)",
    "vpd_max_kpa": "max of Tetens VPD from air_temperature and relative_humidity (measured vpd if either is missing)",
    "lamp_on_hours": "Σ [lamp_status ≥ 0.5]·Δt / 3600 s",
    "heating_degree_hours": "Σ over pipe circuits Σ max(pipe_temperature_k − air_temperature, 0)·Δt / 3600 s",
    "co2_enrichment_hours": "Σ [co2 > 450 ppm or co2_dosing ≥ 0.5]·Δt / 3600 s",
    "day_night_temperature_difference": "mean air_temperature where radiation > 10 W/m² (else par > 20) − mean elsewhere",
    "air_temperature_mean": "time mean of air_temperature",
    "outdoor_temperature_mean": "time mean of outdoor_temperature",
    "radiation_sum_mj_m2": "Σ radiation·Δt / 1e6",
}
# The measured variables each domain feature is computed from (its provenance), first choice
# first: `dli_mol_m2` uses `par` when the zone has a PAR sensor and otherwise `radiation` times
# the constants below. The MOGA layer uses this to refuse a "validation" whose target is computed
# from its own regressors.
DOMAIN_INPUTS = {
    "dli_mol_m2": (("par",), ("radiation",)),
    "growing_degree_days_base10": (("air_temperature",),),
    "vpd_mean_kpa": (("air_temperature", "relative_humidity"), ("vpd",)),
    "vpd_max_kpa": (("air_temperature", "relative_humidity"), ("vpd",)),
    "lamp_on_hours": (("lamp_status",),),
    "heating_degree_hours": (("pipe_temperature_*", "air_temperature"),),
    "co2_enrichment_hours": (("co2", "co2_dosing"),),
    "day_night_temperature_difference": (("air_temperature", "radiation"), ("air_temperature", "par")),
    "air_temperature_mean": (("air_temperature",),),
    "outdoor_temperature_mean": (("outdoor_temperature",),),
    "radiation_sum_mj_m2": (("radiation",),),
}


def feature_inputs(feature: str, measured: set[str] | None = None) -> set[str]:
    """The variables `feature` was computed from: the first alternative whose inputs were measured.

    Without `measured` (not known), the last alternative: the most derived one, so an unknown
    provenance is never taken for an independent measurement.
    """
    options = DOMAIN_INPUTS[feature]
    if measured is not None:
        for option in options:
            if all(v in measured or (v.endswith("*") and any(m.startswith(v[:-1]) for m in measured)) for v in option):
                return set(option)
    return set(options[-1])


DOMAIN_CONSTANTS = {
    "PAR_FRACTION": domain.PAR_FRACTION,
    "UMOL_PER_JOULE": domain.UMOL_PER_JOULE,
    "GREENHOUSE_TRANSMISSION": domain.GREENHOUSE_TRANSMISSION,
    "GDD_BASE_C": domain.GDD_BASE_C,
    "CO2_ENRICHED_PPM": domain.CO2_ENRICHED_PPM,
    "DAYLIGHT_RADIATION_W_M2": domain.DAYLIGHT_RADIATION_W_M2,
    "DAYLIGHT_PAR_UMOL": domain.DAYLIGHT_PAR_UMOL,
    "tetens": "es = 0.6108·exp(17.27·T/(T+237.3)) kPa",
}


def window_spec(spec: ExtractionSpec) -> dict:
    return {
        "windows": [
            {"kind": s.kind, "length_s": s.length.total_seconds(), "step_s": s.step.total_seconds()} for s in spec.specs
        ],
        "timezone": "UTC",
        "min_coverage": spec.min_coverage,
        "grid": "per-series sampling step = most common interval; readings in one slot averaged",
        "gaps": "linear interpolation within the window, edges carried; window and features flagged imputed",
        "input": "timeseries.measurements WHERE quality_flag = 'ok'",
    }


def feature_metadata(spec: ExtractionSpec) -> list[dict]:
    versions, windows = library_versions(), window_spec(spec)
    ours, _ = calculators.split_settings(spec.fc_parameters)
    rows = []
    for name, params in spec.fc_parameters.items():
        how = (
            "numpy reimplementation over windows × samples, tested equal to tsfresh (≤1e-9 relative)"
            if name in ours
            else "tsfresh.extract_features"
        )
        for p in params or [None]:
            rows.append(
                {
                    "feature": f"{name}__{calculators.convert_to_output_format(p)}" if p else name,
                    "algorithm": f"tsfresh.feature_extraction.feature_calculators.{name}: {how}",
                    "parameters": p or {},
                    "library_versions": versions,
                    "window_spec": windows,
                }
            )
    if spec.domain:
        rows += [
            {
                "feature": name,
                "algorithm": f"domain: {DOMAIN_ALGORITHMS[name]}",
                "parameters": DOMAIN_CONSTANTS,
                "library_versions": versions,
                "window_spec": windows,
            }
            for name in domain.DOMAIN_FEATURES
        ]
    return rows
