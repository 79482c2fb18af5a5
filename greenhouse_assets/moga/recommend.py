"""One zone, one horizon day: forecast + calibrated models → Pareto front → three recommended setpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np

from greenhouse_assets.moga import optimise, physics
from greenhouse_assets.moga.problem import LOWER, UPPER, VARIABLES, DayInputs, GreenhouseDayProblem, evaluate
from greenhouse_assets.moga.profiles import CropProfile


@dataclass(frozen=True)
class ZoneFront:
    """The feasible final population with everything moga.solutions stores, and the picks."""

    solutions: np.ndarray  # columns: store.SOLUTION_COLUMNS
    energy: np.ndarray
    growth: np.ndarray
    ranks: np.ndarray
    picks: dict[str, int]
    hypervolume: float
    evaluations: int
    runtime_s: float

    def recommendation_table(self) -> list[dict]:
        return [
            {"pick": name, **{v: round(float(self.solutions[i, 1 + k]), 2) for k, v in enumerate(VARIABLES)},
             "energy_kwh_m2": round(float(self.energy[i]), 3), "growth_g_ch2o_m2": round(float(self.growth[i]), 2),
             "vpd_kpa": round(float(self.solutions[i, 9]), 3), "dli_mol_m2": round(float(self.solutions[i, 10]), 2)}
            for name, i in self.picks.items()
        ]


def bounds(crop: CropProfile, installed_lamp_ppfd: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Decision-variable bounds: temperature and lamp hours from the crop, light from the installed lamps."""
    lower, upper = LOWER.copy(), UPPER.copy()
    lower[0], upper[0] = crop.temperature_bounds
    upper[3] = min(UPPER[3], installed_lamp_ppfd)
    upper[4] = min(UPPER[4], crop.max_light_period_h)
    return tuple(float(v) for v in lower), tuple(float(v) for v in upper)


def day_inputs(horizon: date, forecast: dict, energy: dict, growth: dict, crop: CropProfile | None = None) -> DayInputs:
    """Combine the persistence forecast with the zone's energy and growth parameters and its crop profile."""
    crop_terms = {}
    if crop is not None:
        lower, upper = bounds(crop, energy.get("installed_lamp_ppfd") or UPPER[3])
        crop_terms = {"lower": lower, "upper": upper, "dli_min_mol_m2": crop.dli_min_mol_m2_d,
                      "dli_max_mol_m2": crop.dli_max_mol_m2_d, "max_light_period_h": crop.max_light_period_h,
                      "standing_dry_weight_g_m2": crop.standing_dry_weight_g_m2}
    return DayInputs(
        day_of_year=horizon.timetuple().tm_yday,
        outdoor_temperature_c=forecast["outdoor_temperature_c"],
        radiation_sum_mj_m2=forecast["radiation_sum_mj_m2"],
        natural_dli_mol_m2=growth["transmission"] * physics.PAR_MOL_PER_MJ_GLOBAL * forecast["radiation_sum_mj_m2"],
        u_value_w_m2k=energy["u_value_w_m2k"],
        solar_gain_fraction=energy["solar_gain_fraction"],
        baseline_kwh_m2=energy["baseline_kwh_m2"],
        lamp_efficacy_umol_j=energy["lamp_efficacy_umol_j"],
        **crop_terms,
    )


def optimise_day(day: DayInputs, *, algorithm: str, pop_size: int, generations: int, seed: int) -> ZoneFront:
    """Run the optimiser and keep only feasible individuals: no stored solution breaks a constraint."""
    started = time.perf_counter()
    result = optimise.run(GreenhouseDayProblem(day), algorithm, pop_size, generations, seed)
    runtime = time.perf_counter() - started
    x = result.pop.get("X")
    evaluated = evaluate(x, day)
    feasible = np.all(evaluated["G"] <= 0, axis=1)
    x, evaluated = x[feasible], {k: v[feasible] for k, v in evaluated.items()}
    ranks, crowding = optimise.rank_and_crowding(evaluated["F"])
    solutions = np.column_stack([
        np.arange(len(x)), x, evaluated["energy"], evaluated["growth"], evaluated["vpd"], evaluated["dli"],
        evaluated["G_stored"], ranks, crowding,
    ])
    return ZoneFront(
        solutions=solutions, energy=evaluated["energy"], growth=evaluated["growth"], ranks=ranks,
        picks=optimise.recommendations(evaluated["F"], ranks),
        hypervolume=optimise.hypervolume(evaluated["F"][ranks == 0], optimise.REFERENCE_POINT),
        evaluations=int(result.algorithm.evaluator.n_eval), runtime_s=runtime,
    )
