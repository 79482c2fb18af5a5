"""MOGA throughput: evaluations/s of the vectorised greenhouse problem against the same problem element-wise.

Anchor: `evaluate` called once per row through pymoo's ElementwiseProblem — same physics, same
numbers, only the Python-level loop differs — so the ratio is what vectorising `_evaluate` buys.
The problem is the hourly day/night model with a cost objective (heat, electricity and CO2
priced separately). Also: a full NSGA-II run of 100 × 500 generations (issue target ≤ 10 s on this 2-core machine),
its hypervolume against the fixed reference point, and the generation at which the front first
reaches 99 % of its final hypervolume (how many generations the default config really needs).
The 24-hour plan (`greenhouse_assets.moga.hourly`, 29 variables: a lamp level per hour, heating by
light state, ventilation limit, CO2 by light state, costed with an hourly price curve) is measured
the same way against its own element-wise anchor, with one planner run at the asset's defaults.
The day is a fixed, typical Danish February day with literature-range parameters, so the figure
does not depend on what is in the database.
"""

from __future__ import annotations

import os
import time
from datetime import date

import numpy as np
from _harness import report
from pymoo.core.callback import Callback
from pymoo.core.problem import ElementwiseProblem

from greenhouse_assets.moga import hourly, optimise
from greenhouse_assets.moga.hourly_optimise import HourlyPlanProblem, optimise_plan
from greenhouse_assets.moga.problem import (
    LOWER,
    UPPER,
    VARIABLES,
    WINTER_DAY,
    DayInputs,
    GreenhouseDayProblem,
    evaluate,
)

POPULATION, SEED = 100, 1
GENERATIONS = int(os.environ.get("MOGA_BENCH_GENERATIONS", "500"))  # a smaller budget for a quick check


class ElementwiseGreenhouseDay(ElementwiseProblem):
    """The anchor: the same `evaluate`, handed one setpoint vector at a time."""

    def __init__(self, day: DayInputs):
        super().__init__(n_var=len(VARIABLES), n_obj=2, n_ieq_constr=5, xl=LOWER, xu=UPPER)
        self.day = day

    def _evaluate(self, x, out, *args, **kwargs):
        result = evaluate(x[None, :], self.day)
        out["F"], out["G"] = result["F"][0], result["G"][0]


# The same February day, hour by hour: half-sine sun around solar noon (UTC), a double-peaked price curve.
_HOURS = np.arange(24) + 0.5
HOURLY_DAY = hourly.HourlyDay(
    day=date(2014, 2, 9),
    outdoor_temperature_c=2.0 + 2.0 * np.sin(np.pi * (_HOURS - 8) / 12),
    radiation_w_m2=170.0 * np.clip(np.sin(np.pi * (_HOURS - (hourly.solar_noon_utc() - 4.5)) / 9.0), 0.0, None),
    electricity_eur_per_kwh=0.06
    + 0.03 * (1 + 0.4 * np.exp(-0.5 * ((_HOURS - 7.5) / 1.6) ** 2) + 0.3 * np.exp(-0.5 * ((_HOURS - 17.5) / 1.8) ** 2)),
    u_value_w_m2k=7.0,
    solar_gain_fraction=0.4,
    baseline_kwh_m2=0.3,
    lamp_efficacy_umol_j=1.8,
    installed_lamp_ppfd=150.0,
    transmission=0.7,
    heat_eur_per_kwh=0.045,
    co2_eur_per_kg=0.12,
    max_light_period_h=18.0,
    short_day=False,
    dli_min_mol_m2=0.0,
    dli_max_mol_m2=30.0,
    heating_day_bounds=(18.0, 28.0),
    heating_night_bounds=(18.0, 28.0),
)


class ElementwiseHourlyPlan(ElementwiseProblem):
    """The hourly anchor: `hourly.evaluate_plan`, one plan at a time."""

    def __init__(self, day: hourly.HourlyDay):
        lower, upper = day.bounds()
        super().__init__(n_var=len(hourly.VARIABLES), n_obj=2, n_ieq_constr=len(hourly.CONSTRAINTS), xl=lower, xu=upper)
        self.day = day

    def _evaluate(self, x, out, *args, **kwargs):
        result = hourly.evaluate_plan(x[None, :], self.day)
        out["F"], out["G"] = result["F"][0], result["G"][0]


def hourly_plan() -> dict:
    """evaluations/s of the 24-hour problem, vectorised and element-wise, and one planner run (100 × 150, 3 seeds)."""
    x = np.random.default_rng(SEED).uniform(*HOURLY_DAY.bounds(), size=(POPULATION, len(hourly.VARIABLES)))
    vectorised, elementwise = HourlyPlanProblem(HOURLY_DAY), ElementwiseHourlyPlan(HOURLY_DAY)
    assert np.allclose(
        vectorised.evaluate(x, return_as_dictionary=True)["F"], elementwise.evaluate(x, return_as_dictionary=True)["F"]
    ), "anchor must compute the same objectives"
    started = time.perf_counter()
    front = optimise_plan(HOURLY_DAY, pop_size=100, generations=150, seed=SEED, seeds=3)
    seconds = time.perf_counter() - started
    return {
        "evaluations_per_second": evaluations_per_second(vectorised, x),
        "anchor_evaluations_per_second": evaluations_per_second(elementwise, x),
        "planner_run_seconds": seconds,
        "planner_evaluations": front.evaluations,
        "front_size": len(front.x),
    }


class HypervolumeTrace(Callback):
    def __init__(self):
        super().__init__()
        self.trace = []

    def notify(self, algorithm):
        F, G = algorithm.opt.get("F"), algorithm.opt.get("G")
        self.trace.append(optimise.hypervolume(F[np.all(G <= 0, axis=1)], optimise.REFERENCE_POINT))


def evaluations_per_second(problem, x: np.ndarray, seconds: float = 2.0) -> float:
    problem.evaluate(x)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        problem.evaluate(x)
        done += len(x)
    return done / (time.perf_counter() - started)


def main() -> None:
    x = np.random.default_rng(SEED).uniform(LOWER, UPPER, size=(POPULATION, len(VARIABLES)))
    vectorised = GreenhouseDayProblem(WINTER_DAY)
    elementwise = ElementwiseGreenhouseDay(WINTER_DAY)
    assert np.allclose(
        vectorised.evaluate(x, return_as_dictionary=True)["F"], elementwise.evaluate(x, return_as_dictionary=True)["F"]
    ), "anchor must compute the same objectives"
    ours = evaluations_per_second(vectorised, x)
    anchor = evaluations_per_second(elementwise, x)

    trace = HypervolumeTrace()
    started = time.perf_counter()
    result = optimise.run(vectorised, "nsga2", POPULATION, GENERATIONS, SEED, callback=trace)
    run_seconds = time.perf_counter() - started
    final = trace.trace[-1]
    to_99 = next(i + 1 for i, hv in enumerate(trace.trace) if hv >= 0.99 * final)

    plan = hourly_plan()

    report(
        "moga",
        ours=ours,
        anchor=anchor,
        unit="evaluations/s",
        target="vectorised ≫ element-wise; 100 × 500 NSGA-II run ≤ 10 s",
        summary=(
            f"NSGA-II {POPULATION}×{GENERATIONS} in {run_seconds:.1f} s, HV {final:.1f}, "
            f"99 % of final HV at generation {to_99}; 24-hour plan "
            f"{plan['evaluations_per_second']:,.0f} evaluations/s (element-wise "
            f"{plan['anchor_evaluations_per_second']:,.0f}), planner 100×150×3 seeds in "
            f"{plan['planner_run_seconds']:.1f} s"
        ),
        run_seconds=run_seconds,
        run_evaluations=int(result.algorithm.evaluator.n_eval),
        run_evaluations_per_second=result.algorithm.evaluator.n_eval / run_seconds,
        hypervolume=final,
        reference_point=optimise.REFERENCE_POINT,
        generations_to_99pct_hypervolume=to_99,
        population=POPULATION,
        generations=GENERATIONS,
        seed=SEED,
        day=WINTER_DAY.as_dict(),
        hourly_plan=plan,
        hourly_day=HOURLY_DAY.as_dict(),
        load_average_1_5_15_min=os.getloadavg(),
        note=(
            "measured on a shared 2-core machine while other sessions' tests ran (see load average): "
            "throughputs and run time are lower bounds of what an idle machine does"
        ),
    )


if __name__ == "__main__":
    main()
