"""Quality scores per file version and per day, stored in `metadata.quality_metrics`.

Every dimension is a share in [0, 1] (1 = perfect); a dimension with nothing to measure is NULL
and left out of the aggregate. Per file version f (active versions only):

- completeness = non-empty mapped cells / (staged rows x mapped columns)
- consistency  = time steps (consecutive rows in file order) equal to the file's median step / steps
                 (a back-step, a repeated time, a gap or jitter all break the cadence); 1 with < 2 rows
- timeliness   = exp(-delay / 1 day), delay = max(0, received_at - last timestamp in the file)
- validity     = values f contributes to timeseries not flagged sentinel / logger_reset /
                 out_of_range / values f contributes
- accuracy     = 1 - values of f flagged `anomaly` (rolling robust z-score) / values f contributes
- uniqueness   = distinct staged timestamps / staged rows
- aggregate    = mean of the dimensions above that are not NULL

Per day d (UTC) and site s, over `timeseries.measurements`:

- completeness = mean over the site's series seen that day of min(1, readings x cadence / 86400 s),
                 cadence = the series' median step over all its data
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

import json
import math
from dataclasses import dataclass

import psycopg
from psycopg import sql

from greenhouse_assets import catalog

DIMENSIONS = ("completeness", "consistency", "timeliness", "validity", "accuracy", "uniqueness")
COUNTS = ("values", "anomalies", "rejected_by_allow_list")
METRICS = (*DIMENSIONS, "aggregate", *COUNTS)
INVALID_FLAGS = ("sentinel", "logger_reset", "out_of_range")
TIMELINESS_SCALE_S = 86400.0

# Per series: the median step between consecutive readings (its cadence).
CADENCE = """
    select site, zone, variable,
           percentile_cont(0.5) within group (order by extract(epoch from step)) as step_s
    from (select site, zone, variable, time - lag(time) over (partition by site, zone, variable order by time) as step
          from timeseries.measurements) s
    where step > interval '0'
    group by site, zone, variable
"""

# Per (day, site, zone, variable): readings and completeness; also the batch of the daily GX suite.
DAILY_COMPLETENESS = f"""
    select d.day, d.site, d.zone, d.variable, d.n,
           least(1.0, d.n * c.step_s / 86400.0) as completeness
    from (select (time at time zone 'UTC')::date as day, site, zone, variable, count(*) as n
          from timeseries.measurements group by 1, 2, 3, 4) d
    join ({CADENCE}) c using (site, zone, variable)
"""

DAILY = f"""
with cadence as ({CADENCE}),
rows as (
    select (m.time at time zone 'UTC')::date as day, m.site, m.quality_flag, m.file_id,
           abs(extract(epoch from m.time - lag(m.time) over series) - c.step_s) < 1 as regular
    from timeseries.measurements m
    left join cadence c using (site, zone, variable)
    window series as (partition by m.site, m.zone, m.variable order by m.time)
),
completeness as (
    select day, site, avg(completeness) as completeness from ({DAILY_COMPLETENESS}) dc group by day, site
),
keys as (
    select (time at time zone 'UTC')::date as day, site, count(distinct (time, zone, variable)) as n_keys
    from timeseries.measurements group by 1, 2
),
arrival as (
    select r.day, r.site, min(f.received_at) as first_received
    from (select distinct day, site, file_id from rows) r join metadata.files f using (file_id)
    group by r.day, r.site
)
select r.day, r.site,
       count(*) as values,
       count(*) filter (where r.quality_flag = 'anomaly') as anomalies,
       max(c.completeness) as completeness,
       count(*) filter (where r.regular)::float8 / count(*) as consistency,
       -- exp() underflows below -745: anything past -700 is 0 for a score anyway
       exp(greatest(-700, -greatest(0, extract(epoch from max(a.first_received)
                                               - (r.day + 1)::timestamp at time zone 'UTC')) / %(scale)s)) as timeliness,
       count(*) filter (where r.quality_flag <> all(%(invalid)s))::float8 / count(*) as validity,
       1 - count(*) filter (where r.quality_flag = 'anomaly')::float8 / count(*) as accuracy,
       max(k.n_keys)::float8 / count(*) as uniqueness
from rows r
join completeness c using (day, site)
join keys k using (day, site)
join arrival a using (day, site)
group by r.day, r.site
order by r.day, r.site
"""

CONTRIBUTED = """
select file_id, count(*) as values,
       count(*) filter (where quality_flag = 'anomaly') as anomalies,
       count(*) filter (where quality_flag <> all(%(invalid)s))::float8 / count(*) as validity
from timeseries.measurements group by file_id
"""


@dataclass
class Scores:
    per_file: list[dict]
    per_day: list[dict]


def _aggregate(row: dict) -> float | None:
    present = [row[d] for d in DIMENSIONS if row.get(d) is not None]
    return sum(present) / len(present) if present else None


def _allowed(conn: psycopg.Connection) -> set[tuple[str, str, str]] | None:
    """The allow-list seed as dbt loaded it (None before the first dbt run: nothing filtered yet)."""
    if conn.execute("select to_regclass('timeseries.allow_list')").fetchone()[0] is None:
        return None
    return set(conn.execute("select source, site, variable from timeseries.allow_list").fetchall())


def _file_scores(conn: psycopg.Connection, file_id: int, source: str, received_at, contributed: dict,
                 allowed: set | None) -> dict:
    """One scan of the file's staged rows for counts per mapped column, one for its cadence."""
    columns = conn.execute(
        "select staged_column, site, variable from metadata.file_columns"
        " where file_id = %s and variable is not null order by position", (file_id,)).fetchall()
    table = sql.Identifier(catalog.STAGING_SCHEMA, catalog.staging_table_name(source))
    counts = sql.SQL(", ").join(
        [sql.SQL("count(*)"), sql.SQL("count(distinct time)"), sql.SQL("max(time)")]
        + [sql.SQL("count({})").format(sql.Identifier(c)) for c, _s, _v in columns])
    rows, distinct_times, last_time, *filled = conn.execute(
        sql.SQL("select {} from {} where _file_id = {}").format(counts, table, sql.Literal(file_id))).fetchone()
    steps, regular = conn.execute(sql.SQL(
        """with s as (select extract(epoch from time - lag(time) over (order by _row_number)) as step
                      from {} where _file_id = {})
           select count(step), count(*) filter (where step = (select percentile_cont(0.5) within group (order by step)
                                                              from s where step > 0))
           from s""").format(table, sql.Literal(file_id))).fetchone()
    site = columns[0][1] if columns else None
    mine = contributed.get(file_id, {})
    values = mine.get("values", 0)
    delay = max(0.0, (received_at - last_time).total_seconds()) if last_time else None
    return {
        "file_id": file_id, "source": source, "site": site, "rows": rows,
        "completeness": sum(filled) / (rows * len(columns)) if rows and columns else None,
        "consistency": regular / steps if steps else (1.0 if rows else None),
        "timeliness": _decay(delay),
        "validity": mine.get("validity"),
        "accuracy": 1 - mine["anomalies"] / values if values else None,
        "uniqueness": distinct_times / rows if rows else None,
        "values": values, "anomalies": mine.get("anomalies", 0),
        "rejected_by_allow_list": sum(
            n for n, (_c, s, v) in zip(filled, columns) if allowed is not None and (source, s, v) not in allowed),
    }


def _decay(delay_s: float | None) -> float | None:
    return None if delay_s is None else math.exp(-delay_s / TIMELINESS_SCALE_S)


def compute(conn: psycopg.Connection) -> Scores:
    params = {"invalid": list(INVALID_FLAGS), "scale": TIMELINESS_SCALE_S}
    contributed = {r[0]: {"values": r[1], "anomalies": r[2], "validity": r[3]}
                   for r in conn.execute(CONTRIBUTED, params).fetchall()}
    allowed = _allowed(conn)
    files = conn.execute("select file_id, source, received_at from metadata.files"
                         " where is_active and status = 'loaded' order by file_id").fetchall()
    per_file = [_file_scores(conn, f, s, r, contributed, allowed) for f, s, r in files]
    cur = conn.execute(DAILY, params)
    names = [c.name for c in cur.description]
    per_day = [dict(zip(names, row)) for row in cur.fetchall()]
    for row in (*per_file, *per_day):
        row["aggregate"] = _aggregate(row)
    return Scores(per_file, per_day)


def store(conn: psycopg.Connection, scores: Scores, run_id: str | None) -> int:
    """Replace this asset's metrics (others' rows in the table are left alone); caller commits."""
    conn.execute("delete from metadata.quality_metrics where metric = any(%s)", (list(METRICS),))
    rows = []
    for r in scores.per_file:
        detail = json.dumps({"rows": r["rows"]})
        rows += [(r["file_id"], None, r["source"], r["site"], m, r[m], detail, run_id) for m in METRICS]
    for r in scores.per_day:
        rows += [(None, r["day"], None, r["site"], m, r[m], None, run_id) for m in METRICS if m in r]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into metadata.quality_metrics (file_id, day, source, site, metric, value, details, run_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)
