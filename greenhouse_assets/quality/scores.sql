-- Quality scores per file version and per UTC day and site (definitions: quality/scores.py).
-- Statements run in this order, in one transaction; each starts with a `-- name:` line. quality/scores.py
-- fills the `{placeholders}` with psycopg's sql.Identifier / sql.Literal (no driver parameters: staged
-- column names may contain '%'). Every score is computed here; Python only runs and stores the rows.

-- name: scores_table
-- One row per active loaded file version (day NULL) and per (day, site) (file_id NULL).
create temporary table _quality_scores (
    file_id bigint, day date, source text, site text, rows bigint,
    completeness float8, consistency float8, timeliness float8, validity float8, accuracy float8,
    uniqueness float8, aggregate float8,
    "values" bigint not null default 0, anomalies bigint not null default 0,
    rejected_by_allow_list bigint not null default 0
) on commit drop

-- name: staged_sources
-- Per source with active loaded versions: the staged columns any of them maps to a variable.
select f.source, array_agg(distinct fc.staged_column order by fc.staged_column)
    filter (where fc.variable is not null) as mapped_columns
from metadata.files f
left join metadata.file_columns fc using (file_id)
where f.is_active and f.status = 'loaded'
group by f.source
order by f.source

-- name: file_scores
-- One source's active versions in its staging table: one scan counts rows, distinct times, the last time
-- and the filled cells of every column a version maps (`filled`, in the order of `mapped_columns`); one
-- windowed scan takes the time steps in file order.
insert into _quality_scores (file_id, source, site, rows, completeness, consistency, timeliness, uniqueness,
                             rejected_by_allow_list)
with versions as (
    select file_id, received_at from metadata.files
    where is_active and status = 'loaded' and source = {source}
),
counts as (
    select _file_id as file_id, count(*) as rows, count(distinct time) as distinct_times, max(time) as last_time,
           array[{filled}]::bigint[] as filled
    from {table} where _file_id in (select file_id from versions)
    group by _file_id
),
cells as (
    select c.file_id, cell.staged_column, cell.filled
    from counts c cross join lateral unnest({mapped_columns}::text[], c.filled) as cell (staged_column, filled)
),
mapped as (
    select fc.file_id, fc.position, fc.site, fc.variable, coalesce(cells.filled, 0) as filled
    from metadata.file_columns fc
    join versions using (file_id)
    left join cells using (file_id, staged_column)
    where fc.variable is not null
),
per_version as (
    select m.file_id, (array_agg(m.site order by m.position))[1] as site, count(*) as columns,
           sum(m.filled) as filled,
           -- cells of series the allow-list keeps out of timeseries (they stay in staging)
           sum(m.filled) filter (where not exists (
               select 1 from {allow_list} a where a.source = {source} and a.site = m.site and a.variable = m.variable
           )) as rejected
    from mapped m
    group by m.file_id
),
steps as (
    select _file_id as file_id,
           extract(epoch from time - lag(time) over (partition by _file_id order by _row_number)) as step
    from {table} where _file_id in (select file_id from versions)
),
cadence as (
    select file_id, percentile_cont(0.5) within group (order by step) as median_step
    from steps where step > 0 group by file_id
),
regularity as (
    select s.file_id, count(s.step) as steps, count(*) filter (where s.step = c.median_step) as regular
    from steps s left join cadence c using (file_id)
    group by s.file_id
)
select v.file_id, {source}, p.site, coalesce(c.rows, 0),
       p.filled::float8 / nullif(c.rows * p.columns, 0),
       case when r.steps > 0 then r.regular::float8 / r.steps when c.rows > 0 then 1.0 end,
       -- exp() underflows below -745: anything past -700 is 0 for a score anyway
       case when c.last_time is not null
            then exp(greatest(-700, -greatest(0, extract(epoch from v.received_at - c.last_time)) / {scale})) end,
       c.distinct_times::float8 / nullif(c.rows, 0),
       coalesce(p.rejected, 0)
from versions v
left join counts c using (file_id)
left join per_version p using (file_id)
left join regularity r using (file_id)

-- name: contributed
-- What each version contributes to timeseries (it may win no key): validity and accuracy over its values.
update _quality_scores q
set "values" = c.n, anomalies = c.anomalies,
    validity = c.valid::float8 / c.n,
    accuracy = 1 - c.anomalies::float8 / c.n
from (
    select file_id, count(*) as n,
           count(*) filter (where quality_flag = 'anomaly') as anomalies,
           count(*) filter (where quality_flag <> all({invalid})) as valid
    from timeseries.measurements group by file_id
) c
where q.day is null and q.file_id = c.file_id

-- name: daily_scores
-- Per UTC day and site over timeseries.measurements; completeness as in `daily_completeness`.
insert into _quality_scores (day, site, "values", anomalies, completeness, consistency, timeliness, validity,
                             accuracy, uniqueness)
with cadence as (
    -- per series: the median step between consecutive readings
    select site, zone, variable,
           percentile_cont(0.5) within group (order by extract(epoch from step)) as step_s
    from (select site, zone, variable,
                 time - lag(time) over (partition by site, zone, variable order by time) as step
          from timeseries.measurements) s
    where step > interval '0'
    group by site, zone, variable
),
rows as (
    select (m.time at time zone 'UTC')::date as day, m.site, m.quality_flag, m.file_id,
           abs(extract(epoch from m.time - lag(m.time) over series) - c.step_s) < 1 as regular
    from timeseries.measurements m
    left join cadence c using (site, zone, variable)
    window series as (partition by m.site, m.zone, m.variable order by m.time)
),
series_days as (
    -- per (day, site, zone, variable): min(1, readings x cadence / 86400 s)
    select d.day, d.site, least(1.0, d.n * c.step_s / 86400.0) as completeness
    from (select (time at time zone 'UTC')::date as day, site, zone, variable, count(*) as n
          from timeseries.measurements group by 1, 2, 3, 4) d
    join cadence c using (site, zone, variable)
),
completeness as (
    select day, site, avg(completeness) as completeness from series_days group by day, site
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
       count(*),
       count(*) filter (where r.quality_flag = 'anomaly'),
       max(c.completeness),
       count(*) filter (where r.regular)::float8 / count(*),
       exp(greatest(-700, -greatest(0, extract(epoch from max(a.first_received)
                                               - (r.day + 1)::timestamp at time zone 'UTC')) / {scale})),
       count(*) filter (where r.quality_flag <> all({invalid}))::float8 / count(*),
       1 - count(*) filter (where r.quality_flag = 'anomaly')::float8 / count(*),
       max(k.n_keys)::float8 / count(*)
from rows r
join completeness c using (day, site)
join keys k using (day, site)
join arrival a using (day, site)
group by r.day, r.site

-- name: aggregate
-- The mean of the dimensions that are not NULL (NULL when none is).
update _quality_scores
set aggregate = (select avg(d) from unnest(array[completeness, consistency, timeliness, validity, accuracy,
                                                 uniqueness]) d)

-- name: store
-- Replace this asset's metrics (others' rows are left alone); per day there is no allow-list count.
with removed as (
    delete from metadata.quality_metrics where metric = any({metrics})
)
insert into metadata.quality_metrics (file_id, day, source, site, metric, value, details, run_id)
select q.file_id, q.day, q.source, q.site, m.metric, m.value,
       case when q.day is null then jsonb_build_object('rows', q.rows) end, {run_id}
from _quality_scores q
cross join lateral (values
    ('completeness', q.completeness), ('consistency', q.consistency), ('timeliness', q.timeliness),
    ('validity', q.validity), ('accuracy', q.accuracy), ('uniqueness', q.uniqueness),
    ('aggregate', q.aggregate), ('values', q."values"::float8), ('anomalies', q.anomalies::float8),
    ('rejected_by_allow_list', q.rejected_by_allow_list::float8)
) as m (metric, value)
where q.day is null or m.metric <> 'rejected_by_allow_list'
order by q.day nulls first, q.file_id, q.site, m.metric
