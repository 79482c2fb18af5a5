"""NSGA-II over the 24-hour plan, and the two ways of picking the plan a grower gets.

- `pareto` mode: the knee of the cost / photosynthesis front (`optimise.knee_index`).
- `target` mode, as DynaLight (Mærsk-Møller & Jørgensen 2011): the cheapest plan of the front
  that reaches the day's photosynthesis target. Without a target set, the target is
  `target_share` of the highest photosynthesis on the front, and it is stored with the plan.

Several seeds run; their feasible final populations are pooled and the front is taken over the
pool, so one unlucky seed cannot make the plan worse, only fail to improve it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymoo.core.problem import Problem

from greenhouse_assets.moga import optimise
from greenhouse_assets.moga.hourly import CONSTRAINTS, VARIABLES, HourlyDay, evaluate_plan

MODES = ("pareto", "target")


class NoFeasiblePlan(RuntimeError):
    """No plan of any seed met the constraints (e.g. a hot day the vents cannot hold at the bounds)."""


class HourlyPlanProblem(Problem):
    """Vectorised: the whole population is one numpy pass through `evaluate_plan`."""

    def __init__(self, day: HourlyDay):
        lower, upper = day.bounds()
        super().__init__(n_var=len(VARIABLES), n_obj=2, n_ieq_constr=len(CONSTRAINTS), xl=lower, xu=upper)
        self.day = day

    def _evaluate(self, x, out, *args, **kwargs):
        result = evaluate_plan(np.atleast_2d(x), self.day)
        out["F"], out["G"] = result["F"], result["G"]


@dataclass(frozen=True)
class PlanFront:
    x: np.ndarray  # the Pareto front's plans, (m, 29)
    cost: np.ndarray
    photosynthesis: np.ndarray
    evaluations: int

    def pick(self, mode: str, target: float | None = None, target_share: float = 0.9) -> tuple[int, float | None]:
        """(index into the front, the photosynthesis target used or None)."""
        if mode == "pareto":
            return optimise.knee_index(np.column_stack([self.cost, -self.photosynthesis])), None
        if mode != "target":
            raise ValueError(f"unknown mode {mode!r}: choose one of {MODES}")
        goal = target if target is not None else target_share * float(self.photosynthesis.max())
        reaching = np.flatnonzero(self.photosynthesis >= goal - 1e-9)
        if not len(reaching):  # the target is out of reach today: the most photosynthesis there is
            return int(np.argmax(self.photosynthesis)), goal
        return int(reaching[np.argmin(self.cost[reaching])]), goal


def optimise_plan(day: HourlyDay, *, pop_size: int, generations: int, seed: int, seeds: int = 1) -> PlanFront:
    problem = HourlyPlanProblem(day)
    pool, evaluations, closest = [], 0, None
    for s in range(seed, seed + max(seeds, 1)):
        result = optimise.run(problem, "nsga2", pop_size, generations, s)
        evaluations += int(result.algorithm.evaluator.n_eval)
        x = result.pop.get("X")
        g = evaluate_plan(x, day)["G"]
        feasible = np.all(g <= 1e-9, axis=1)
        pool.append(x[feasible])
        if not feasible.any():
            closest = g[np.argmin(np.maximum(g, 0).sum(axis=1))]
    x = np.vstack(pool)
    if not len(x):
        worst = {name: round(float(v), 3) for name, v in zip(CONSTRAINTS, closest) if v > 0}
        raise NoFeasiblePlan(
            f"no hourly plan meets every constraint within the crop's bounds (closest violates {worst})"
        )
    evaluated = evaluate_plan(x, day)
    ranks, _ = optimise.rank_and_crowding(evaluated["F"])
    front = np.flatnonzero(ranks == 0)
    order = front[np.argsort(evaluated["cost"][front])]
    return PlanFront(
        x=x[order],
        cost=evaluated["cost"][order],
        photosynthesis=evaluated["photosynthesis"][order],
        evaluations=evaluations,
    )
