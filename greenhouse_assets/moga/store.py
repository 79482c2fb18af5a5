"""moga.objective_models, moga.runs and moga.solutions: the layer's writes and its reads of its own tables.

Re-runs are idempotent: a model version is a content hash (same data → same version, upserted),
and a run replaces the earlier run for the same site, zone and horizon day in one transaction
(solutions go with it by ON DELETE CASCADE), so moga.runs holds exactly the latest
recommendation per zone and day, and older days stay as history. A zone whose models did not
pass gets a run row too, `status = 'skipped'` with the reason and no solutions, so "why is
there no recommendation for this zone today?" is answered in the table. Boundary points of a front
have an infinite crowding distance, stored as 'Infinity'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from greenhouse_assets.moga.calibration import ObjectiveModel

SOLUTION_COLUMNS = (
    "solution_index",
    "temperature_setpoint",
    "temperature_night_setpoint",
    "humidity_setpoint",
    "co2_setpoint",
    "supplemental_light",
    "photoperiod",
    "ventilation",
    "energy_kwh_m2",
    "heat_kwh_m2",
    "electricity_kwh_m2",
    "co2_kg_m2",
    "cost_eur_m2",
    "growth",
    "vpd_kpa",
    "dli_mol_m2",
    "constraint_vpd",
    "constraint_dli",
    "constraint_overheating",
    "constraint_humidity",
    "rank",
    "crowding_distance",
)
OBJECTIVE = "cost_eur_m2"


def save_models(conn: psycopg.Connection, models: list[ObjectiveModel]) -> None:
    for m in models:
        fit = m.fit
        conn.execute(
            """INSERT INTO moga.objective_models (model_version, site, zone, objective, kind, parameters, r2, mae,
                                                  n_train, n_test, data_version, status, reason,
                                                  skill_vs_climatology, n_test_days, cv_scheme)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (model_version) DO UPDATE SET created_at = now()""",
            (
                m.model_version,
                m.site,
                m.zone,
                m.objective,
                m.kind,
                Jsonb(m.parameters),
                fit and fit.r2,
                fit and fit.mae,
                fit and fit.n_train,
                fit and fit.n_test,
                m.data_version,
                m.status,
                m.reason,
                fit and fit.skill,
                fit and fit.n_test,
                fit and fit.cv_scheme,
            ),
        )


def latest_models(conn: psycopg.Connection) -> dict[tuple[str, str], dict[str, dict]]:
    """Per (site, zone): the newest model of each objective, as column → value dicts."""
    cursor = conn.execute(
        """SELECT DISTINCT ON (site, zone, objective) model_version, site, zone, objective, kind, parameters, r2, mae,
                  n_train, n_test, data_version, status, reason, skill_vs_climatology, n_test_days, cv_scheme,
                  created_at
             FROM moga.objective_models ORDER BY site, zone, objective, created_at DESC, model_version"""
    )
    names = [c.name for c in cursor.description]
    latest: dict[tuple[str, str], dict[str, dict]] = {}
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        latest.setdefault((record["site"], record["zone"]), {})[record["objective"]] = record
    return latest


@dataclass(frozen=True)
class RunRecord:
    site: str
    zone: str
    horizon_start: object
    horizon_end: object
    algorithm: str
    seed: int
    population: int
    generations: int
    evaluations: int
    hypervolume: float
    reference_point: dict
    runtime_s: float
    input_data_version: str
    model_versions: dict
    recommendations: dict
    plot_uri: str | None
    dagster_run_id: str
    status: str = "optimised"
    reason: str | None = None
    model_statuses: dict | None = None
    hypervolume_seeds: dict | None = None
    hypervolume_spread: float | None = None
    objective: str = OBJECTIVE


def replace_run(conn: psycopg.Connection, run: RunRecord, solutions: np.ndarray) -> int:
    """Delete the zone's run for this horizon, insert the new one and its solutions; returns moga_run_id."""
    conn.execute(
        "DELETE FROM moga.runs WHERE site = %s AND zone = %s AND horizon_start = %s",
        (run.site, run.zone, run.horizon_start),
    )
    values = dict(run.__dict__)
    for key in ("reference_point", "model_versions", "recommendations", "model_statuses", "hypervolume_seeds"):
        values[key] = Jsonb(values[key]) if values[key] is not None else None
    columns = ", ".join(values)
    (run_id,) = conn.execute(
        f"INSERT INTO moga.runs ({columns}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING moga_run_id",
        list(values.values()),
    ).fetchone()
    if not len(solutions):
        return run_id
    with conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO moga.solutions (moga_run_id, {', '.join(SOLUTION_COLUMNS)}) "
            f"VALUES (%s, {', '.join(['%s'] * len(SOLUTION_COLUMNS))})",
            [(run_id, int(row[0]), *(float(v) for v in row[1:-2]), int(row[-2]), float(row[-1])) for row in solutions],
        )
    return run_id
