"""One zone, one horizon day: forecast + calibrated models → Pareto fronts over several seeds → three picks.

Every run optimises the day with `seeds` consecutive seeds (default 5). The front stored is the
best seed's (highest hypervolume); the hypervolume of each seed and their spread
((max − min) / max) are kept with the run, so a front that depends on luck is visible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from greenhouse_assets.moga import optimise, physics
from greenhouse_assets.moga.problem import (
    CONSTRAINTS,
    HOURS,
    LIGHT,
    LOWER,
    T_DAY,
    T_NIGHT,
    UPPER,
    VARIABLES,
    DayInputs,
    GreenhouseDayProblem,
    evaluate,
)
from greenhouse_assets.moga.profiles import CropProfile, Greenhouse, Prices
from greenhouse_assets.moga.store import SOLUTION_COLUMNS

DIAGNOSTICS = ("energy", "heat", "electricity", "co2_kg", "cost", "growth", "vpd", "dli")
COLUMN = {name: i for i, name in enumerate(SOLUTION_COLUMNS)}


class NoFeasibleSetpoint(RuntimeError):
    """No individual of any seed met every constraint (e.g. a hot day the vents cannot cool to the bounds)."""


@dataclass(frozen=True)
class ZoneFront:
    """The feasible final population with everything moga.solutions stores, and the picks."""

    solutions: np.ndarray  # columns: store.SOLUTION_COLUMNS (cost and growth per calendar day)
    cost: np.ndarray  # the objectives the front is ranked on: per day of development when the crop has a
    growth: np.ndarray  # development model, else per calendar day (problem.evaluate's F)
    ranks: np.ndarray
    picks: dict[str, int]
    hypervolume: float
    evaluations: int
    runtime_s: float
    seed: int = 0
    hypervolume_seeds: dict[int, float] = field(default_factory=dict)
    development: np.ndarray | None = None  # days of crop development per calendar day (problem.evaluate)

    @property
    def hypervolume_spread(self) -> float:
        values = list(self.hypervolume_seeds.values()) or [self.hypervolume]
        return float((max(values) - min(values)) / max(values)) if max(values) > 0 else 0.0

    def column(self, name: str) -> np.ndarray:
        return self.solutions[:, COLUMN[name]]

    def recommendation_table(self) -> list[dict]:
        row = lambda i, name, digits: round(float(self.solutions[i, COLUMN[name]]), digits)  # noqa: E731
        return [
            {
                "pick": name,
                **{v: row(i, v, 2) for v in VARIABLES},
                "cost_eur_m2": row(i, "cost_eur_m2", 4),
                "heat_kwh_m2": row(i, "heat_kwh_m2", 3),
                "electricity_kwh_m2": row(i, "electricity_kwh_m2", 3),
                "co2_kg_m2": row(i, "co2_kg_m2", 4),
                "energy_kwh_m2": row(i, "energy_kwh_m2", 3),
                "growth_g_ch2o_m2": row(i, "growth", 2),
                "vpd_kpa": row(i, "vpd_kpa", 3),
                "dli_mol_m2": row(i, "dli_mol_m2", 2),
                "development_rate": round(float(self.development[i]) if self.development is not None else 1.0, 3),
                "cost_per_development_day_eur_m2": round(float(self.cost[i]), 4),
                "growth_per_development_day_g_m2": round(float(self.growth[i]), 2),
            }
            for name, i in self.picks.items()
        ]


def bounds(crop: CropProfile, installed_lamp_ppfd: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Decision-variable bounds: day and night temperature and lamp hours from the crop, light from the lamps."""
    lower, upper = LOWER.copy(), UPPER.copy()
    lower[T_DAY], upper[T_DAY] = crop.temperature_day_min_c, crop.temperature_day_max_c
    lower[T_NIGHT], upper[T_NIGHT] = crop.temperature_night_min_c, crop.temperature_night_max_c
    upper[LIGHT] = min(UPPER[LIGHT], installed_lamp_ppfd)
    upper[HOURS] = min(UPPER[HOURS], crop.max_light_period_h)
    return tuple(float(v) for v in lower), tuple(float(v) for v in upper)


def day_inputs(
    horizon: date,
    forecast: dict,
    energy: dict,
    growth: dict,
    crop: CropProfile | None = None,
    prices: Prices | None = None,
    infiltration_ach: float | None = None,
    greenhouse: Greenhouse | None = None,
) -> DayInputs:
    """Combine the persistence forecast with the zone's energy and growth parameters, crop profile and prices.

    `greenhouse` (the site's configuration) supplies the infiltration and the shade screen; without
    it they come from the configuration stored with the energy model, if any.
    """
    extra = {}
    if crop is not None:
        lower, upper = bounds(crop, energy.get("installed_lamp_ppfd") or UPPER[LIGHT])
        extra |= {
            "lower": lower,
            "upper": upper,
            "dli_min_mol_m2": crop.dli_min_mol_m2_d,
            "dli_max_mol_m2": crop.dli_max_mol_m2_d,
            "max_light_period_h": crop.max_light_period_h,
            "standing_dry_weight_g_m2": crop.standing_dry_weight_g_m2,
        }
        if crop.development_base_c is not None:
            extra |= {
                "development_base_c": crop.development_base_c,
                "development_reference_c": crop.development_reference_c,
            }
    if prices is not None:
        extra |= prices.values()
    built = greenhouse.as_dict() if greenhouse is not None else (energy.get("greenhouse") or {})
    infiltration = infiltration_ach if infiltration_ach is not None else built.get("infiltration_ach")
    if infiltration is not None:
        extra["infiltration_ach"] = float(infiltration)
    if built.get("shade_screen_fraction"):
        extra |= {
            "shade_fraction": float(built["shade_screen_fraction"]),
            "shade_above_w_m2": float(built.get("shade_screen_above_w_m2", 0.0)),
        }
    return DayInputs(
        day_of_year=horizon.timetuple().tm_yday,
        outdoor_temperature_c=forecast["outdoor_temperature_c"],
        radiation_sum_mj_m2=forecast["radiation_sum_mj_m2"],
        natural_dli_mol_m2=growth["transmission"] * physics.PAR_MOL_PER_MJ_GLOBAL * forecast["radiation_sum_mj_m2"],
        u_value_w_m2k=energy["u_value_w_m2k"],
        solar_gain_fraction=energy["solar_gain_fraction"],
        baseline_kwh_m2=energy["baseline_kwh_m2"],
        lamp_efficacy_umol_j=energy["lamp_efficacy_umol_j"],
        **extra,
    )


def _feasible_front(x: np.ndarray, day: DayInputs):
    evaluated = evaluate(x, day)
    feasible = np.all(evaluated["G"] <= 0, axis=1)
    x, evaluated = x[feasible], {k: v[feasible] for k, v in evaluated.items()}
    ranks, crowding = optimise.rank_and_crowding(evaluated["F"]) if len(x) else (np.empty(0, int), np.empty(0))
    hv = optimise.hypervolume(evaluated["F"][ranks == 0], optimise.REFERENCE_POINT) if len(x) else 0.0
    return x, evaluated, ranks, crowding, hv


def optimise_day(
    day: DayInputs, *, algorithm: str, pop_size: int, generations: int, seed: int, seeds: int = 1
) -> ZoneFront:
    """Run the optimiser with `seeds` consecutive seeds; keep the best seed's feasible individuals.

    No stored solution breaks a constraint. Raises NoFeasibleSetpoint when no seed found one.
    """
    started = time.perf_counter()
    problem = GreenhouseDayProblem(day)
    best, per_seed, evaluations, closest = None, {}, 0, None
    for s in range(seed, seed + max(seeds, 1)):
        result = optimise.run(problem, algorithm, pop_size, generations, s)
        evaluations += int(result.algorithm.evaluator.n_eval)
        front = _feasible_front(result.pop.get("X"), day)
        per_seed[s] = front[4]
        if len(front[0]) and (best is None or front[4] > best[1][4]):
            best = (s, front)
        if not len(front[0]):
            g = evaluate(result.pop.get("X"), day)["G"]
            closest = g[np.argmin(np.maximum(g, 0).sum(axis=1))]
    if best is None:
        worst = {name: float(v) for name, v in zip(("vpd", "dli_max", "dli_min", *CONSTRAINTS[2:]), closest) if v > 0}
        raise NoFeasibleSetpoint(
            f"no setpoint meets every constraint within the bounds (closest violates {worst}); "
            f"e.g. the vents cannot hold the temperature bounds at {day.outdoor_temperature_c:.1f} °C "
            "outside with this sun"
        )
    chosen, (x, evaluated, ranks, crowding, hv) = best
    solutions = np.column_stack(
        [
            np.arange(len(x)),
            x,
            *(evaluated[k] for k in ("energy", "heat", "electricity", "co2_kg", "cost", "growth", "vpd", "dli")),
            evaluated["G_stored"],
            ranks,
            crowding,
        ]
    )
    return ZoneFront(
        solutions=solutions,
        cost=evaluated["F"][:, 0],
        growth=-evaluated["F"][:, 1],
        ranks=ranks,
        picks=optimise.recommendations(evaluated["F"], ranks),
        hypervolume=hv,
        evaluations=evaluations,
        runtime_s=time.perf_counter() - started,
        seed=chosen,
        hypervolume_seeds=per_seed,
        development=evaluated["development"],
    )
