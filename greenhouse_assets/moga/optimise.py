"""pymoo wiring shared by the asset, the ZDT1 test and the benchmark, plus front post-processing.

NSGA-II is the default for two objectives; NSGA-III (Das-Dennis reference directions, one per
population member) is a configuration option. Rank and crowding distance are recomputed on the
final population so both algorithms store the same quantities (NSGA-III keeps niches, not
crowding).
"""

from __future__ import annotations

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.moo.nsga3 import NSGA3
from pymoo.core.problem import Problem
from pymoo.indicators.hv import HV
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.optimize import minimize
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from pymoo.util.ref_dirs import get_reference_directions

ALGORITHMS = ("nsga2", "nsga3")

# Hypervolume reference point, physical units: (cost EUR m⁻² d⁻¹, −growth g CH2O m⁻² d⁻¹).
# 2.5 EUR is above the dearest corner of the box at the default prices (28 °C on a −10 °C day
# with full vents, 600 µmol/m²/s lamps for 18 h and CO2 at capacity is ~2 EUR) and 0 g is no
# growth, so every sensible solution counts. Runs are comparable at equal prices only.
REFERENCE_POINT = (2.5, 0.0)


def make_algorithm(name: str, pop_size: int, n_obj: int = 2):
    if name == "nsga2":
        return NSGA2(pop_size=pop_size)
    if name == "nsga3":
        ref_dirs = get_reference_directions("das-dennis", n_obj, n_partitions=pop_size - 1 if n_obj == 2 else 12)
        return NSGA3(ref_dirs=ref_dirs, pop_size=pop_size)
    raise ValueError(f"unknown algorithm {name!r}: choose one of {ALGORITHMS}")


def run(problem: Problem, algorithm: str, pop_size: int, generations: int, seed: int, callback=None):
    """One seeded optimisation; the same seed, problem and settings give the same population."""
    extra = {"callback": callback} if callback else {}
    return minimize(
        problem,
        make_algorithm(algorithm, pop_size, problem.n_obj),
        ("n_gen", generations),
        seed=seed,
        verbose=False,
        **extra,
    )


def hypervolume(F: np.ndarray, reference_point) -> float:
    return float(HV(ref_point=np.asarray(reference_point, dtype=float))(F)) if len(F) else 0.0


def rank_and_crowding(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-dominated rank (0 = Pareto front) and crowding distance within each front."""
    ranks = np.empty(len(F), dtype=int)
    crowding = np.empty(len(F))
    for rank, front in enumerate(NonDominatedSorting().do(F)):
        ranks[front] = rank
        crowding[front] = calc_crowding_distance(F[front]) if len(front) > 2 else np.inf
    return ranks, crowding


def knee_index(F: np.ndarray) -> int:
    """The front point farthest below the line joining its two extremes, on normalised objectives."""
    span = np.ptp(F, axis=0)
    normalised = (F - F.min(axis=0)) / np.where(span > 0, span, 1.0)
    a, b = normalised[np.argmin(normalised[:, 0])], normalised[np.argmin(normalised[:, 1])]
    direction = (b - a) / (np.linalg.norm(b - a) or 1.0)
    offsets = normalised - a
    distance = offsets[:, 0] * direction[1] - offsets[:, 1] * direction[0]
    return int(np.argmax(np.abs(distance)))


def recommendations(F: np.ndarray, ranks: np.ndarray) -> dict[str, int]:
    """Indices (into F) of the lowest-cost, highest-growth and knee solutions of the Pareto front."""
    front = np.flatnonzero(ranks == 0)
    return {
        "lowest_cost": int(front[np.argmin(F[front, 0])]),
        "highest_growth": int(front[np.argmin(F[front, 1])]),
        "knee": int(front[knee_index(F[front])]),
    }
