"""Quality scores per file version and per day, stored in `metadata.quality_metrics`.

The SQL is `scores.sql` beside this file; this module only fills in the staging table names (from
the source, `raw_<source>`) and the column lists with psycopg's quoting, runs it, and reads back
what it stored. Scores are measurements of the data, not checks: no rule is judged here (see the
README's "Data quality" for which layer checks which rule).

Every dimension is a share in [0, 1] (1 = perfect); a dimension with nothing to measure is NULL
and left out of the aggregate. Per file version f (active versions only):

- completeness = non-empty mapped cells / (staged rows x mapped columns)
- consistency  = time steps (consecutive rows in file order) equal to the file's median step / steps
                 (a back-step, a repeated time, a gap or jitter all break the cadence); 1 with < 2 rows
- timeliness   = exp(-delay / 1 day), delay = max(0, received_at - last timestamp in the file)
- validity     = values f contributes to timeseries not flagged sentinel / logger_reset /
                 out_of_range / values f contributes (reads the flags the dbt model stored)
- accuracy     = 1 - values of f flagged `anomaly` (rolling robust z-score) / values f contributes
- uniqueness   = distinct staged timestamps / staged rows
- aggregate    = mean of the dimensions above that are not NULL

Per day d (UTC) and site s, over `timeseries.measurements`:

- completeness = mean over the site's series seen that day of min(1, readings x cadence / 86400 s),
                 cadence = the series' median step over all its data (the dbt test
                 `daily_completeness` judges the same quantity per series-day)
- consistency  = steps (to the series' previous reading) equal to its cadence / readings
- timeliness   = exp(-delay / 1 day), delay = max(0, first received_at of the file versions
                 feeding the day - end of the day)
- validity, accuracy as per file, over the day's rows
- uniqueness   = distinct (time, site, zone, variable) / rows (the table's key; < 1 means it broke)
- aggregate    = mean of the non-NULL dimensions

Counts stored beside them: `values`, `anomalies`, and per file `rejected_by_allow_list` (non-empty
mapped cells of series the registry's allow-list keeps out of timeseries; they stay in staging).
The whole set is recomputed in one transaction (delete then insert): re-running is idempotent.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from greenhouse_assets import catalog

DIMENSIONS = ("completeness", "consistency", "timeliness", "validity", "accuracy", "uniqueness")
COUNTS = ("values", "anomalies", "rejected_by_allow_list")
METRICS = (*DIMENSIONS, "aggregate", *COUNTS)
INVALID_FLAGS = ("sentinel", "logger_reset", "out_of_range")
TIMELINESS_SCALE_S = 86400.0
SQL_FILE = Path(__file__).with_name("scores.sql")
# Before the first dbt run there is no allow-list table: nothing is filtered yet, every mapped series passes.
_EVERY_SERIES = sql.SQL(
    "(select f.source, fc.site, fc.variable from metadata.file_columns fc join metadata.files f using (file_id))"
)


@dataclass
class Scores:
    per_file: list[dict]
    per_day: list[dict]


@functools.cache
def statements() -> dict[str, str]:
    """`scores.sql`'s statements by their `-- name:`, in file order."""
    parts = re.split(r"^-- name: (\w+)\n", SQL_FILE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def _run(conn: psycopg.Connection, name: str, **values: sql.Composable) -> psycopg.Cursor:
    return conn.execute(sql.SQL(statements()[name]).format(**values))


def compute_and_store(conn: psycopg.Connection, run_id: str | None) -> tuple[Scores, int]:
    """Recompute every score, replace this asset's rows in `metadata.quality_metrics` (others' rows are
    left alone) and return the scores and the number of rows stored; the caller commits."""
    common = {"scale": sql.Literal(TIMELINESS_SCALE_S), "invalid": sql.Literal(list(INVALID_FLAGS))}
    has_allow_list = conn.execute("select to_regclass('timeseries.allow_list')").fetchone()[0] is not None
    allow_list = sql.Identifier("timeseries", "allow_list") if has_allow_list else _EVERY_SERIES
    _run(conn, "scores_table")
    for source, columns in _run(conn, "staged_sources").fetchall():
        columns = columns or []
        _run(
            conn,
            "file_scores",
            **common,
            table=sql.Identifier(catalog.STAGING_SCHEMA, catalog.staging_table_name(source)),
            source=sql.Literal(source),
            allow_list=allow_list,
            mapped_columns=sql.Literal(columns),
            filled=sql.SQL(", ").join(sql.SQL("count({})").format(sql.Identifier(c)) for c in columns),
        )
    _run(conn, "contributed", **common)
    _run(conn, "daily_scores", **common)
    _run(conn, "aggregate")
    stored = _run(conn, "store", metrics=sql.Literal(list(METRICS)), run_id=sql.Literal(run_id)).rowcount
    return _read(conn), stored


def _read(conn: psycopg.Connection) -> Scores:
    with conn.cursor(row_factory=dict_row) as cur:
        per_file = cur.execute("select * from _quality_scores where day is null order by file_id").fetchall()
        per_day = cur.execute("select * from _quality_scores where day is not null order by day, site").fetchall()
    return Scores(per_file, per_day)
