"""The dbt timeseries layer on the real files, run through Dagster as in production.

Files are staged with the ingestion pipeline's own functions (reader -> Parquet -> staging COPY),
then `timeseries_dbt` is materialized: `dbt build` of the seeds, models and tests.
"""

from collections import defaultdict
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from helpers import stage
from psycopg import sql

from greenhouse_assets import catalog
from greenhouse_assets.database import libpq_url
from greenhouse_assets.defs.resources import resources
from greenhouse_assets.defs.transform.dbt import timeseries_dbt
from greenhouse_assets.defs.transform.resources import transform_resources
from greenhouse_assets.transform import seeds
from greenhouse_assets.transform.project import dbt_project
from greenhouse_assets.transform.variables import dbt_vars

MEASUREMENTS = catalog.MEASUREMENTS.asset_key
CELL = "aarslev/celle5/output-2014-03-01-00-00.csv"
# MortenSDU exports are left out until the loader stages their unmapped `End` column (zone NULL today).
FILES = [CELL, CELL + ".json", "aarslev/celle5/output-2014-02-01-00-00.csv"]
SCALE = {"vpd": 0.1}  # the only non-identity conversion in the registry (hPa -> kPa)


def build(instance, full_refresh: bool = False, measurements_only: bool = False) -> dg.ExecuteInProcessResult:
    """`dbt build` of the project; `measurements_only` (once a test has built the seeds): of
    `timeseries.measurements` and its tests, all that a rollback, a reactivation or a refresh changes."""
    before = build_folders()  # a failed build of another test keeps its folder (its error names the dbt.log)
    result = dg.materialize(
        [timeseries_dbt],
        selection=[MEASUREMENTS] if measurements_only else None,
        instance=instance,
        resources={**resources().resources, **transform_resources().resources},
        run_config=dg.RunConfig(ops={"timeseries_dbt": {"config": {"full_refresh": full_refresh}}}),
    )
    assert result.success
    assert MEASUREMENTS in {e.asset_key for e in result.get_asset_materialization_events()}
    failed = [
        e.check_name
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []
    # The project is unchanged since the session parsed it: dbt reuses that parse (partial_parse.py)
    # instead of parsing every file again, and leaves no target folder of the build's behind.
    parses = [r.user_message for r in instance.all_logs(result.run_id) if r.user_message.startswith("dbt parse:")]
    assert parses == ["dbt parse: partial, 0 files added, 0 changed, 0 deleted"]
    assert build_folders() == before
    return result


def build_folders() -> set[Path]:
    """The dbt target folders of builds: `target/<database>/build-*` (ours), `target/*_dbt-*` (dagster-dbt's)."""
    project = dbt_project()
    return {
        *(project.project_dir / project.target_path).glob("build-*"),
        *project.project_dir.glob("target/*_dbt-*"),
    }


def rows(conn) -> list[tuple]:
    return conn.execute(
        "SELECT time, site, zone, variable, value, unit, file_id, quality_flag "
        "FROM timeseries.measurements ORDER BY time, site, zone, variable"
    ).fetchall()


def staged_cells(conn) -> dict[tuple, list[tuple[int, float]]]:
    """Every non-empty numeric mapped cell of the active files: key -> [(file_id, canonical value)]."""
    cells = defaultdict(list)
    mapped = conn.execute(
        """SELECT f.file_id, f.source, fc.staged_column, fc.site, fc.zone, fc.variable
           FROM metadata.file_columns fc JOIN metadata.files f USING (file_id)
           WHERE f.is_active AND fc.variable IS NOT NULL"""
    ).fetchall()
    for file_id, source, column, site, zone, variable in mapped:
        for time, value in conn.execute(
            # No parameters: column names may contain '%', which psycopg would read as a placeholder.
            sql.SQL("SELECT time, {c}::float8 FROM staging.{t} WHERE _file_id = {f} AND {c} IS NOT NULL").format(
                c=sql.Identifier(column), t=sql.Identifier(f"raw_{source}"), f=sql.Literal(file_id)
            )
        ):
            cells[(time, site, zone, variable)].append((file_id, value * SCALE.get(variable, 1.0)))
    return cells


@pytest.mark.pure
def test_seeds_follow_the_registry():
    for name, text in seeds.rendered().items():
        assert (seeds.SEEDS / name).read_text(encoding="utf-8") == text, (
            "run python -m greenhouse_assets.transform.seeds"
        )


def test_real_files_to_measurements(clean_platform, real_data, tmp_path):
    url = clean_platform
    instance = dg.DagsterInstance.ephemeral()  # run history is not under test here
    ids = {path: stage(url, real_data / path, real_data, tmp_path / "lake").file_id for path in FILES}
    build(instance)
    with psycopg.connect(libpq_url(url)) as conn:
        first = rows(conn)
        cells = staged_cells(conn)
        stored = {(t, s, z, v): (val, f) for t, s, z, v, val, _u, f, _q in first}

        # Every staged value is represented exactly once (the table's key is unique), none invented,
        # and each stored value is one of the candidates for its key.
        assert len(stored) == len(first)
        assert set(stored) == set(cells)
        for key, (value, file_id) in stored.items():
            assert (file_id, pytest.approx(value)) in [(f, pytest.approx(v)) for f, v in cells[key]]

        # Per (file, variable): its cells minus those another file won for the same key.
        expected = defaultdict(int)
        for key in cells:
            expected[(stored[key][1], key[3])] += 1
        actual = {
            (f, v): n
            for f, v, n in conn.execute("SELECT file_id, variable, count(*) FROM timeseries.measurements GROUP BY 1, 2")
        }
        assert actual == dict(expected)

        # CSV and sMAP JSON of the same cell and month carry the same keys: merged to one row per key
        # (checked above: keys unique, none lost), the newer version winning ties.
        overlap = [k for k, c in cells.items() if {f for f, _ in c} >= {ids[CELL], ids[CELL + ".json"]}]
        assert overlap

        # DST day: the cell CSV holds 138 ten-minute slots on 2014-03-30 (01:50 -> 03:00 local).
        slots = conn.execute(
            """SELECT count(DISTINCT time) FROM timeseries.measurements
               WHERE site = 'aarslev' AND zone = 'celle5' AND variable = 'air_temperature'
                 AND (time AT TIME ZONE 'Europe/Copenhagen')::date = '2014-03-30'"""
        ).fetchone()[0]
        assert slots == 138

        # The logger's sentinel at 2014-03-05 21:10 local is kept and flagged.
        flags = dict(
            conn.execute(
                """SELECT variable, quality_flag FROM timeseries.measurements
               WHERE zone = 'celle5' AND time = '2014-03-05 20:10+00'"""
            ).fetchall()
        )
        assert flags["par"] == "sentinel" and flags["air_temperature"] == "logger_reset"

        # Rollback: the JSON's rows disappear and the CSV's values it shadowed come back.
        conn.execute("SELECT metadata.set_file_active(%s, false)", (ids[CELL + ".json"],))
        conn.commit()
    build(instance, measurements_only=True)
    with psycopg.connect(libpq_url(url)) as conn:
        rolled_back = rows(conn)
        assert not [r for r in rolled_back if r[6] == ids[CELL + ".json"]]
        assert [r for r in rolled_back if r[6] == ids[CELL]]  # the CSV's shadowed values are back
        assert set(stored_keys := {r[:4] for r in rolled_back}) == set(staged_cells(conn))
        assert len(stored_keys) == len(rolled_back)
        conn.execute("SELECT metadata.set_file_active(%s, true)", (ids[CELL + ".json"],))
        conn.commit()
    build(instance, measurements_only=True)
    with psycopg.connect(libpq_url(url)) as conn:
        assert rows(conn) == first

    # A full refresh rebuilds the same table, in place: still a hypertable with its unique key.
    build(instance, full_refresh=True, measurements_only=True)
    with psycopg.connect(libpq_url(url)) as conn:
        assert rows(conn) == first
        assert (
            conn.execute("""SELECT count(*) FROM timescaledb_information.hypertables
                               WHERE hypertable_schema = 'timeseries' AND hypertable_name = 'measurements'""").fetchone()[
                0
            ]
            == 1
        )
        assert (
            conn.execute("""SELECT count(*) FROM pg_constraint WHERE conname = 'measurements_key'
                               AND conrelid = 'timeseries.measurements'::regclass""").fetchone()[0]
            == 1
        )


# The anomaly rule as written in the model's YAML, computed the plain way: every 'ok'/'anomaly' value's
# neighbours within +/- h sorted for the median, their deviations sorted for the MAD.
PLAIN_ANOMALY_FLAGS = """
    SELECT m.time, m.site, m.zone, m.variable, m.quality_flag,
           CASE WHEN m.quality_flag NOT IN ('ok', 'anomaly') THEN m.quality_flag
                WHEN med.n >= %(min_points)s AND mad.mad > 0
                     AND abs(0.6745 * (m.value - med.median) / mad.mad) > %(z)s THEN 'anomaly'
                ELSE 'ok' END AS expected
    FROM (SELECT *, array_agg(value) FILTER (WHERE quality_flag IN ('ok', 'anomaly')) OVER (
                     PARTITION BY site, zone, variable ORDER BY time
                     RANGE BETWEEN %(h)s::interval PRECEDING AND %(h)s::interval FOLLOWING) AS neighbours
          FROM timeseries.measurements) m
    CROSS JOIN LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) AS median, count(*) AS n
                        FROM unnest(m.neighbours) x) med
    CROSS JOIN LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(x - med.median)) AS mad
                        FROM unnest(m.neighbours) x) mad
"""


def mismatched_anomaly_flags(conn) -> tuple[list[tuple], int]:
    """Rows whose stored flag differs from the plain computation, and how many anomalies there are."""
    v = dbt_vars()
    params = {
        "h": v["anomaly_half_window"],
        "z": v["anomaly_z_threshold"],
        "min_points": v["anomaly_min_points"],
    }
    flags = conn.execute(PLAIN_ANOMALY_FLAGS, params).fetchall()
    return [r for r in flags if r[4] != r[5]], sum(r[5] == "anomaly" for r in flags)


def test_anomaly_flags_equal_a_plain_rolling_computation(clean_platform, real_data, tmp_path):
    """The model clears most values with bounds from hourly anchors and computes the rest exactly; the
    flags must be those of the plain definition, also on plateaus, on/off signals, steps and spikes
    (where the bounds are weakest) and after an incremental run that only recomputes some windows."""
    url = clean_platform
    instance = dg.DagsterInstance.ephemeral()
    ids = {path: stage(url, real_data / path, real_data, tmp_path / "lake").file_id for path in FILES}
    with psycopg.connect(libpq_url(url)) as conn:
        columns = dict(
            conn.execute(
                "SELECT variable, staged_column FROM metadata.file_columns WHERE file_id = %s"
                " AND variable IN ('air_temperature', 'co2', 'relative_humidity')",
                (ids[CELL],),
            ).fetchall()
        )
        rows = [
            r
            for (r,) in conn.execute(
                "SELECT _row_number FROM staging.raw_aarslev WHERE _file_id = %s ORDER BY _row_number", (ids[CELL],)
            ).fetchall()
        ]

        def set_values(variable: str, values: dict[int, float]) -> None:
            # No parameters: column names may contain '%', which psycopg would read as a placeholder.
            conn.execute(
                sql.SQL(
                    "UPDATE staging.raw_aarslev s SET {c} = v.x FROM (VALUES {v}) v (r, x)"
                    " WHERE s._file_id = {f} AND s._row_number = v.r"
                ).format(
                    c=sql.Identifier(columns[variable]),
                    f=sql.Literal(ids[CELL]),
                    v=sql.SQL(", ").join(
                        sql.SQL("({}, {}::float8)").format(sql.Literal(rows[i]), sql.Literal(x))
                        for i, x in values.items()
                    ),
                )
            )

        set_values(
            "air_temperature",
            {
                **{i: 20.0 for i in range(100, 200)},
                150: 20.5,  # flat (MAD 0), one deviation
                **{i: 10.0 if i < 900 else 30.0 for i in range(800, 1000)},  # a step
                1200: 44.0,
                1300: 44.0,
                1301: 43.0,
            },
        )  # spikes
        set_values("co2", {i: 400.0 if (i // 5) % 2 else 900.0 for i in range(500, 800)})  # on/off
        set_values("relative_humidity", {i: 50.0 + 0.01 * (i % 3) for i in range(300, 500)})  # nearly flat
        conn.commit()
    build(instance)
    with psycopg.connect(libpq_url(url)) as conn:
        mismatched, anomalies = mismatched_anomaly_flags(conn)
        assert mismatched == [] and anomalies >= 3

        conn.execute("SELECT metadata.set_file_active(%s, false)", (ids[CELL],))  # neighbours change in part
        conn.commit()
    build(instance, measurements_only=True)
    with psycopg.connect(libpq_url(url)) as conn:
        mismatched, _ = mismatched_anomaly_flags(conn)
        assert mismatched == []
        conn.execute("SELECT metadata.set_file_active(%s, true)", (ids[CELL],))
        conn.commit()
    build(instance, measurements_only=True)
    with psycopg.connect(libpq_url(url)) as conn:
        mismatched, anomalies_again = mismatched_anomaly_flags(conn)
        assert mismatched == [] and anomalies_again == anomalies
