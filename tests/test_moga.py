"""MOGA layer: optimiser wiring, feasibility, reproducibility, DB-only inputs, the validation check.

Days are written straight into features.extracted_features (and a few measurements), so these
tests do not depend on the features or transform layers' code. Plausible days follow the heat
balance and light model with realistic noise; "noise" days replace the heating proxy with
random numbers, which no heat balance can explain.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg
import pytest
from pymoo.problems import get_problem

from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.moga.models import moga_objective_models, objective_models_validated
from greenhouse_assets.defs.moga.results import MogaConfig, moga_results
from greenhouse_assets.defs.resources import LakeResource, PostgresResource
from greenhouse_assets.moga import data, optimise
from greenhouse_assets.moga.problem import DayInputs
from greenhouse_assets.moga.recommend import optimise_day

START = date(2014, 1, 1)
WINTER_DAY = DayInputs(day_of_year=40, outdoor_temperature_c=2.0, radiation_sum_mj_m2=3.0, natural_dli_mol_m2=4.2,
                       u_value_w_m2k=7.0, solar_gain_fraction=0.4, baseline_kwh_m2=0.3, lamp_efficacy_umol_j=1.8)
FAST = dg.RunConfig(ops={"moga_results": MogaConfig(pop_size=40, generations=60, seed=7)})


def synthetic_days(site: str, zone: str, n: int, *, noise: bool, seed: int) -> list[tuple]:
    """Daily domain features: U = 7 W/m²K, η = 0.4, k_pipe = 2, transmission 0.6, 150 µmol/m²/s lamps."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        season = np.cos(2 * np.pi * i / 365)
        outdoor = 4 - 6 * season + rng.normal(0, 3)
        radiation = max(0.5, 8 - 6 * season + rng.normal(0, 2))
        air = 20 + rng.normal(0, 0.7)
        lamp_hours = float(np.clip(16 - 1.2 * radiation + rng.normal(0, 1), 0, 18))
        hdh = 3.5 * (air - outdoor) * 24 - 55.6 * radiation + 100 + rng.normal(0, 40)
        features = {
            "air_temperature_mean": air, "outdoor_temperature_mean": outdoor, "radiation_sum_mj_m2": radiation,
            "lamp_on_hours": lamp_hours,
            "dli_mol_m2": 0.6 * 2.15 * radiation + 150 * lamp_hours * 0.0036 + rng.normal(0, 0.4),
            "heating_degree_hours": rng.uniform(0, 1500) if noise else max(hdh, 0.0),
        }
        start = datetime.combine(START + timedelta(days=i), datetime.min.time(), UTC)
        rows += [("day", start, start + timedelta(days=1), site, zone, "domain", name, float(value))
                 for name, value in features.items()]
    return rows


def insert_days(url: str, rows: list[tuple]) -> None:
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO features.extracted_features (window_kind, window_start, window_end, site, zone, variable,
                                                        feature, value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            rows)


def materialize(url: str, lake: Path, instance):
    return dg.materialize(
        [moga_objective_models, moga_results, objective_models_validated],
        resources={"postgres": PostgresResource(url=url), "lake": LakeResource(root=str(lake))},
        instance=instance, run_config=FAST, raise_on_error=False,
    )


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(sql).fetchall()


def test_zdt1_front_within_one_percent_of_true_hypervolume():
    problem = get_problem("zdt1")
    result = optimise.run(problem, "nsga2", pop_size=100, generations=250, seed=1)
    reference = (1.1, 1.1)
    true = optimise.hypervolume(problem.pareto_front(), reference)
    assert optimise.hypervolume(result.F, reference) >= 0.99 * true


@pytest.mark.parametrize("algorithm", optimise.ALGORITHMS)
def test_front_is_feasible_and_reproducible(algorithm):
    first = optimise_day(WINTER_DAY, algorithm=algorithm, pop_size=60, generations=80, seed=3)
    again = optimise_day(WINTER_DAY, algorithm=algorithm, pop_size=60, generations=80, seed=3)
    other = optimise_day(WINTER_DAY, algorithm=algorithm, pop_size=60, generations=80, seed=4)
    assert np.array_equal(first.solutions, again.solutions)
    assert not np.array_equal(first.solutions, other.solutions)
    vpd, dli, g_vpd, g_dli = first.solutions[:, 9:13].T
    assert len(vpd) > 0 and (g_vpd <= 0).all() and (g_dli <= 0).all() and (vpd <= 3).all() and (dli <= 30 + 1e-9).all()
    picks = first.picks
    assert first.energy[picks["lowest_energy"]] <= first.energy[picks["knee"]] <= first.energy[picks["highest_growth"]]


def test_validation_check_fails_on_noise_and_blocks_the_optimiser(clean_platform, instance, tmp_path):
    insert_days(clean_platform, synthetic_days("aarslev", "celle5", 120, noise=True, seed=11))
    result = materialize(clean_platform, tmp_path / "lake", instance)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    energy_r2 = query(clean_platform, "SELECT r2 FROM moga.objective_models WHERE objective = 'energy'")[0][0]
    assert energy_r2 < 0.7
    assert not result.asset_materializations_for_node("moga_results")
    assert query(clean_platform, "SELECT count(*) FROM moga.runs") == [(0,)]


class FileReads:
    """Records every file Python opens while active (audit hooks cannot be removed, only muted)."""

    def __init__(self):
        self.active, self.opened = False, []
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if self.active and event == "open" and isinstance(args[0], str | bytes):
            self.opened.append((Path(args[0].decode() if isinstance(args[0], bytes) else args[0]).resolve(), args[1]))


def test_materialize_plausible_days_reads_only_the_database(clean_platform, instance, tmp_path):
    for zone, seed in (("celle5", 1), ("celle6", 2)):
        insert_days(clean_platform, synthetic_days("aarslev", zone, 120, noise=False, seed=seed))
    lake, landing = tmp_path / "lake", tmp_path / "landing"
    reads = FileReads()
    reads.active = True
    try:
        result = materialize(clean_platform, lake, instance)
    finally:
        reads.active = False
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    # Inputs come from the database only: nothing is opened in the landing folder or the lake but the plots written.
    touched = [(p, mode) for p, mode in reads.opened if p.is_relative_to(landing.resolve()) or p.is_relative_to(lake.resolve())]
    assert touched and all(p.parent == (lake / "moga").resolve() and p.suffix == ".png" and "w" in str(mode) for p, mode in touched)
    assert not [p for p, _ in reads.opened if p.suffix in {".csv", ".parquet", ".json", ".xlsx"} and "data" in p.parts]

    assert query(clean_platform, "SELECT count(*), min(r2) >= 0.7 FROM moga.objective_models") == [(4, True)]
    runs = query(clean_platform, "SELECT moga_run_id, zone, horizon_start, algorithm, evaluations, hypervolume, plot_uri, "
                                 "recommendations FROM moga.runs ORDER BY zone")
    assert [(r[1], r[2].date(), r[3], r[4]) for r in runs] == [
        ("celle5", START + timedelta(days=120), "nsga2", 2400), ("celle6", START + timedelta(days=120), "nsga2", 2400)]
    assert all(r[5] > 0 and Path(r[6].removeprefix("file://")).is_file() for r in runs)
    assert {pick["pick"] for pick in runs[0][7]["picks"]} == {"lowest_energy", "highest_growth", "knee"}
    assert query(clean_platform, "SELECT count(*) > 0, bool_and(constraint_vpd <= 0 AND constraint_dli <= 0), "
                                 "bool_or(rank = 0) FROM moga.solutions") == [(True, True, True)]
    metadata = result.asset_materializations_for_node("moga_results")[0].metadata
    assert "knee" in metadata["recommendations"].value and "data:image/png;base64" in metadata["pareto_front"].value

    # Idempotent and deterministic: the same data and seed replace each run with an identical front.
    before = query(clean_platform, "SELECT * FROM moga.solutions ORDER BY moga_run_id, solution_index")
    assert materialize(clean_platform, lake, instance).success
    assert query(clean_platform, "SELECT count(*) FROM moga.runs") == [(2,)]
    after = query(clean_platform, "SELECT * FROM moga.solutions ORDER BY moga_run_id, solution_index")
    assert [row[1:] for row in after] == [row[1:] for row in before]


def test_site_weather_fills_zones_without_outdoor_features(clean_platform):
    rows = [r for r in synthetic_days("knudjepsen", "afd3", 3, noise=False, seed=5)
            if r[6] not in ("outdoor_temperature_mean", "radiation_sum_mj_m2")]
    insert_days(clean_platform, rows)
    with psycopg.connect(libpq_url(clean_platform)) as conn:
        conn.execute("""INSERT INTO timeseries.measurements (time, site, zone, variable, value, unit, file_id)
                        VALUES ('2014-01-01 06:00Z', 'knudjepsen', 'outside', 'outdoor_temperature', -2.0, '°C', 1),
                               ('2014-01-01 18:00Z', 'knudjepsen', 'outside', 'outdoor_temperature', 4.0, '°C', 1),
                               ('2014-01-01 12:00Z', 'knudjepsen', 'outside', 'radiation', 100.0, 'W/m²', 1)""")
        daily = data.load_daily(conn)
    first = daily.row(0, named=True)
    assert daily.height == 3 and first["outdoor_temperature_mean"] == 1.0
    assert first["radiation_sum_mj_m2"] == pytest.approx(8.64)
    assert daily["outdoor_temperature_mean"].null_count() == 2
