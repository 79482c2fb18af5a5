"""Fit the objective models' free parameters to a zone's own days, and judge them honestly.

Three models per zone, each a row of moga.objective_models with a status
(`validated` | `rejected` | `derived` | `literature`), the reason, the skill against a seasonal
baseline, the number of out-of-fold test days and the cross-validation scheme
(`greenhouse_assets.moga.validation`).

energy (heat balance), against the pipe proxy `heating_degree_hours` (HDH = Σ max(pipe − air, 0)·h).
The heat a pipe rail gives is k_pipe·HDH (Wh m⁻²); k_pipe = pipe length per m² floor × heat output
per m pipe per K comes from the site's configuration (sites.yaml), because the data cannot tell
U from k_pipe: only their ratio is identifiable. The lamps heat the house too (all their
electricity ends as heat, P_lamp·lamp_on_hours Wh m⁻² with the configured installed power), so
the balance is
    k_pipe·HDH + P_lamp·h_lamp = U·(T_air − T_out)·24 − η·R·10⁶/3600 + baseline,
fitted as  HDH + P_lamp·h_lamp/k_pipe = a·DH − b·R + c,
    U = a·k_pipe,   η = b·k_pipe/277.8,   baseline = c·k_pipe/1000 kWh m⁻².
Counting the lamp heat here keeps it out of U, η and the baseline, so the optimiser, which adds
the lamps' heat as a gain, counts it once. The fitted U also holds the sensible heat of the
house's leaks (infiltration, present on every measured day), so the optimiser adds only the
vents' extra air on top of it (`problem`).
U and η are then judged against literature ranges for the configured cover type.

Literature fallback (`literature_fallback`, on by default). When the fit is not validated (rejected
for implausible parameters or too little skill, or too few days), the zone's energy model is the
`literature` model of its documented cover type: U and solar gain from
`validation.LITERATURE_U` / `LITERATURE_SOLAR_GAIN` with their sources, no baseline. Its reason
says "fit rejected: <why>" and keeps the rejected fit's numbers beside it (parameters `fit`),
together with the pipe length per m² that would have made the fitted U equal the literature U
(`pipe_length_for_literature_u_m_per_m2`): when the cover type is right, that is what the site's
configured pipe length should be checked against. With the fallback off, a rejected fit leaves the
zone without an energy model for the optimiser (skipped).

light (PAR transmission), against the inside DLI (`dli_mol_m2`):
    DLI = τ·2.15·R + PPFD_lamp·lamp_on_hours·0.0036
fitted only on days whose DLI is a measured PAR integral. Without PAR (Knudjepsen) the DLI
feature is itself radiation × constants, so the fit would recover the constants: `derived`.
When the light model is not validated the site's configured transmission is used, and the
growth row says so.

growth: the TOMGRO canopy model of `physics` with published parameters: `literature`, because
no crop data (biomass, assimilation) is logged to calibrate or validate it against.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import polars as pl

from greenhouse_assets.features import catalog
from greenhouse_assets.moga import physics
from greenhouse_assets.moga.profiles import Greenhouse
from greenhouse_assets.moga.validation import (
    LITERATURE_SOLAR_GAIN,
    LITERATURE_SOURCES,
    LITERATURE_U,
    Fit,
    blocked_fit,
    implausible,
    judge,
)

LITERATURE = {"u_value_w_m2k": 7.0, "solar_gain_fraction": 0.4, "baseline_kwh_m2": 0.0}
DEFAULT_SKILL_THRESHOLD = 0.3
STATUSES = ("validated", "rejected", "derived", "literature")
# The domain features each regressor of the fits is computed from.
REGRESSOR_FEATURES = {
    "degree_hours": ("air_temperature_mean", "outdoor_temperature_mean"),
    "minus_radiation": ("radiation_sum_mj_m2",),
    "outside_par_mol": ("radiation_sum_mj_m2",),
    "lamp_mol_per_ppfd": ("lamp_on_hours",),
}
MEASURED = {"air_temperature", "outdoor_temperature", "radiation", "lamp_status", "pipe_temperature_1"}
GROWTH_REASON = (
    "TOMGRO canopy photosynthesis (Acock et al. 1978; Jones et al. 1999 parameters) not calibrated "
    "on crop data: no biomass or assimilation is logged, so it is not validated"
)


@dataclass(frozen=True)
class ObjectiveModel:
    """One row of moga.objective_models."""

    site: str
    zone: str
    objective: str
    kind: str
    parameters: dict
    fit: Fit | None
    data_version: str
    status: str
    reason: str
    model_version: str = field(init=False)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")
        digest = hashlib.sha256(
            json.dumps(
                [self.kind, self.parameters, self.data_version, self.status, self.reason], sort_keys=True, default=str
            ).encode()
        )
        object.__setattr__(self, "model_version", f"{self.objective}:{self.site}:{self.zone}:{digest.hexdigest()[:12]}")

    @property
    def summary(self) -> str:
        """The status in a grower's words, e.g. 'validated, skill 0.42 on 38 test days'."""
        return status_summary(
            self.status, self.fit.skill if self.fit else None, self.fit.n_test if self.fit else None, self.reason
        )


def status_summary(status: str, skill: float | None, n_test: int | None, reason: str | None) -> str:
    if status == "validated":
        return f"validated, skill {skill:.2f} on {n_test} test days"
    if status == "literature":
        fallback = (reason or "").startswith("fit ")
        return f"literature model ({reason})" if fallback else "literature model, not validated"
    return f"{status}: {reason}"


def provenance(target: str, regressors: list[str], measured: set[str]) -> str | None:
    """The feature catalog's reason `target` is computed from the regressors' own inputs, else None."""
    target_inputs = catalog.feature_inputs(target, measured)
    regressor_inputs = set().union(
        *(catalog.feature_inputs(f, measured) for r in regressors for f in REGRESSOR_FEATURES[r])
    )
    if target_inputs <= regressor_inputs:
        return (
            f"{target} is computed from {', '.join(sorted(target_inputs))} (feature catalog: "
            f"{catalog.DOMAIN_ALGORITHMS[target]}), the same measurement(s) as its regressors"
        )
    return None


def _with_regressors(days: pl.DataFrame) -> pl.DataFrame:
    return days.with_columns(
        ((pl.col("air_temperature_mean") - pl.col("outdoor_temperature_mean")) * 24).alias("degree_hours"),
        (-pl.col("radiation_sum_mj_m2")).alias("minus_radiation"),
        (pl.col("radiation_sum_mj_m2") * physics.PAR_MOL_PER_MJ_GLOBAL).alias("outside_par_mol"),
        (pl.col("lamp_on_hours").fill_null(0.0) * 0.0036).alias("lamp_mol_per_ppfd"),
    )


def _fit_columns(fit: Fit | None) -> dict:
    return {} if fit is None else {"coefficients": list(fit.coefficients), "intercept": fit.intercept}


def energy_model(
    site: str,
    zone: str,
    days: pl.DataFrame,
    data_version: str,
    *,
    greenhouse: Greenhouse,
    skill_threshold: float,
    scheme: str,
    literature_fallback: bool = True,
) -> ObjectiveModel:
    regressors = ["degree_hours", "minus_radiation"]
    k_pipe = greenhouse.k_pipe_w_m2k
    lamp_power = greenhouse.installed_lamp_ppfd / greenhouse.lamp_efficacy_umol_j
    days = days.with_columns(
        (pl.col("heating_degree_hours") + pl.col("lamp_on_hours").fill_null(0.0) * lamp_power / k_pipe).alias(
            "heat_demand_kh"
        )
    )
    heating = blocked_fit(
        days,
        regressors,
        "heat_demand_kh",
        intercept=True,
        scheme=scheme,
        provenance=provenance("heating_degree_hours", regressors, MEASURED),
    )
    if heating:
        fitted = {
            "u_value_w_m2k": heating.coefficients[0] * k_pipe,
            "solar_gain_fraction": heating.coefficients[1] * k_pipe / 277.8,
        }
        parameters = {
            **fitted,
            "baseline_kwh_m2": max(heating.intercept, 0.0) * k_pipe / 1000,
            "hdh_intercept_kh": heating.intercept,
        }
    else:
        fitted, parameters = {}, dict(LITERATURE)
    status, reason = judge(
        heating,
        skill_threshold=skill_threshold,
        target="heating_degree_hours",
        implausible_reasons=implausible(fitted, greenhouse.cover_type),
    )
    parameters |= {
        "k_pipe_w_m2k": k_pipe,
        "cover_type": greenhouse.cover_type,
        "lamp_efficacy_umol_j": greenhouse.lamp_efficacy_umol_j,
        "installed_lamp_ppfd": greenhouse.installed_lamp_ppfd,
        "installed_lamp_power_w_m2": greenhouse.installed_lamp_ppfd / greenhouse.lamp_efficacy_umol_j,
        "greenhouse": greenhouse.as_dict(),
        "regressors": regressors,
        "target": "heating_degree_hours + lamp_on_hours · installed lamp power / k_pipe",
        "skill_threshold": skill_threshold,
        **_fit_columns(heating),
    }
    if status != "validated" and literature_fallback:
        return _literature_energy(site, zone, parameters, heating, data_version, greenhouse, status, reason)
    return ObjectiveModel(site, zone, "energy", "heat-balance", parameters, heating, data_version, status, reason)


def _literature_energy(
    site: str,
    zone: str,
    parameters: dict,
    heating: Fit | None,
    data_version: str,
    greenhouse: Greenhouse,
    fit_status: str,
    fit_reason: str,
) -> ObjectiveModel:
    """The cover type's literature heat balance, carrying the rejected fit and what it implies."""
    u = LITERATURE_U.get(greenhouse.cover_type)
    if u is None:
        raise KeyError(f"no literature U-value for cover type {greenhouse.cover_type!r}; known: {sorted(LITERATURE_U)}")
    fitted = {k: parameters[k] for k in ("u_value_w_m2k", "solar_gain_fraction", "baseline_kwh_m2") if k in parameters}
    implied = None  # only meaningful when the fit explains the data (skill passed) and only its scale is off
    skilled = heating is not None and heating.skill is not None and heating.skill >= parameters["skill_threshold"]
    if skilled and heating.coefficients[0] > 0 and greenhouse.pipe_heat_output_w_per_m_k > 0:
        implied = u / heating.coefficients[0] / greenhouse.pipe_heat_output_w_per_m_k
    hint = (
        ""
        if implied is None
        else (
            f"; the fitted pipe heat would match it with {implied:.1f} m pipe per m² floor instead of the configured "
            f"{greenhouse.pipe_length_m_per_m2:g}: check sites.yaml"
        )
    )
    reason = (
        f"fit {fit_status}: {fit_reason}. Using the literature heat balance of {greenhouse.cover_type}: "
        f"U {u:g} W/m²K per m² floor, solar gain {LITERATURE_SOLAR_GAIN:g}{hint}"
    )
    literature = {
        **parameters,
        "u_value_w_m2k": u,
        "solar_gain_fraction": LITERATURE_SOLAR_GAIN,
        "baseline_kwh_m2": 0.0,
        "literature_sources": LITERATURE_SOURCES,
        "fit": {"status": fit_status, "reason": fit_reason, **fitted},
        "pipe_length_for_literature_u_m_per_m2": implied,
    }
    literature.pop("hdh_intercept_kh", None)
    return ObjectiveModel(
        site, zone, "energy", "heat-balance-literature", literature, heating, data_version, "literature", reason
    )


def light_model(
    site: str,
    zone: str,
    days: pl.DataFrame,
    data_version: str,
    *,
    greenhouse: Greenhouse,
    skill_threshold: float,
    scheme: str,
) -> ObjectiveModel:
    regressors = ["outside_par_mol", "lamp_mol_per_ppfd"]
    par_days = days.filter(pl.col("dli_from_par")) if "dli_from_par" in days.columns else days.clear()
    if par_days.drop_nulls(["dli_mol_m2", "radiation_sum_mj_m2"]).height >= 3:
        light = blocked_fit(
            par_days,
            regressors,
            "dli_mol_m2",
            intercept=False,
            scheme=scheme,
            provenance=provenance("dli_mol_m2", regressors, MEASURED | {"par"}),
        )
    else:
        light = blocked_fit(
            days,
            regressors,
            "dli_mol_m2",
            intercept=False,
            scheme=scheme,
            provenance=provenance("dli_mol_m2", regressors, MEASURED),
        )
    lamps_logged = light is not None and bool((days["lamp_on_hours"].fill_null(0.0) > 0).any())
    fitted = {
        "transmission": light.coefficients[0] if light else None,
        "installed_lamp_ppfd": light.coefficients[1] if lamps_logged else None,
    }
    status, reason = judge(
        light, skill_threshold=skill_threshold, target="dli_mol_m2", implausible_reasons=implausible(fitted)
    )
    parameters = {
        **fitted,
        "target": "dli_mol_m2",
        "regressors": regressors,
        "days_with_measured_par": par_days.height,
        "skill_threshold": skill_threshold,
        **_fit_columns(light),
    }
    return ObjectiveModel(site, zone, "light", "par-transmission", parameters, light, data_version, status, reason)


def growth_model(
    site: str, zone: str, data_version: str, *, light: ObjectiveModel, greenhouse: Greenhouse
) -> ObjectiveModel:
    if light.status == "validated":
        transmission, source = light.parameters["transmission"], f"light model {light.model_version} (validated)"
    else:
        transmission = greenhouse.transmission
        source = (
            f"site configuration ({greenhouse.sources.get('transmission', {}).get('source', 'sites.yaml')}); "
            f"the zone's light model is {light.status}"
        )
    parameters = {
        "transmission": transmission,
        "transmission_source": source,
        "tau": physics.TAU,
        "quantum_efficiency": physics.QE,
        "extinction": physics.K_EXT,
        "leaf_transmission": physics.M_LEAF,
        "lai": physics.LAI,
        "pgred_points_c": [list(v) for v in physics.PGRED_POINTS],
        "q10": physics.Q10,
        "maintenance_respiration_g_per_g_day": physics.RM_G_PER_G_DAY,
    }
    return ObjectiveModel(
        site, zone, "growth", "tomgro-canopy", parameters, None, data_version, "literature", GROWTH_REASON
    )


def calibrate_zone(
    site: str,
    zone: str,
    days: pl.DataFrame,
    data_version: str,
    *,
    greenhouse: Greenhouse,
    skill_threshold: float = DEFAULT_SKILL_THRESHOLD,
    scheme: str = "week",
    literature_fallback: bool = True,
) -> list[ObjectiveModel]:
    """The energy, light and growth models of one zone, from that zone's days only."""
    days = _with_regressors(days)
    options = {"greenhouse": greenhouse, "skill_threshold": skill_threshold, "scheme": scheme}
    energy = energy_model(site, zone, days, data_version, literature_fallback=literature_fallback, **options)
    light = light_model(site, zone, days, data_version, **options)
    return [energy, light, growth_model(site, zone, data_version, light=light, greenhouse=greenhouse)]


def persistence_forecast(days: pl.DataFrame, horizon: object, window: int = 7) -> dict | None:
    """Outdoor temperature and radiation for the horizon day: mean of the last `window` days before it.

    Persistence of a week's mean is the honest baseline without a weather-forecast feed; the
    forecast values are stored with every run so a better feed can be compared later. None when
    the zone's site has no outdoor temperature or radiation at all.
    """
    recent = days.filter(pl.col("day") < horizon).drop_nulls(["outdoor_temperature_mean", "radiation_sum_mj_m2"])
    if recent.is_empty():
        recent = days.drop_nulls(["outdoor_temperature_mean", "radiation_sum_mj_m2"])
    if recent.is_empty():
        return None
    recent = recent.sort("day").tail(window)
    return {
        "outdoor_temperature_c": float(recent["outdoor_temperature_mean"].mean()),
        "radiation_sum_mj_m2": float(recent["radiation_sum_mj_m2"].mean()),
        "days": [str(d) for d in recent["day"]],
    }
