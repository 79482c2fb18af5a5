{#- Canonical long time series; see measurements.yml for the contract, flags and precedence.
    The migration created the table as a hypertable: this model only ever deletes and inserts
    rows in it (full_refresh=false: `--full-refresh` truncates and rebuilds in place instead of
    swapping in a plain table). The pre-hook (`measurements_prepare`) decides what to recompute and
    builds the lookup tables used here (`_mfs_*`). The staging tables are found at run time (every
    `staging.raw_<source>` with mapped columns); the asset graph takes them from the source registry
    (defs/transform/dbt.py `measured_sources`), so they are not listed here. -#}
{%- set tables = staging_mapped_columns() -%}
{%- set rebuild = measurements_rebuild() -%}
{%- set h = "interval " ~ gh_literal(var('anomaly_half_window')) -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail',
    pre_hook="{{ measurements_prepare() }}",
    post_hook="{{ measurements_finish() }}",
) }}
-- depends_on: {{ source('metadata', 'files') }}
-- depends_on: {{ source('metadata', 'file_columns') }}
-- depends_on: {{ ref('allow_list') }}
-- depends_on: {{ ref('column_mappings') }}
-- depends_on: {{ ref('unit_conversions') }}
-- depends_on: {{ ref('physical_ranges') }}

with

-- Every mapped non-null staged value with its quality flag (0 ok, 1 sentinel, 2 logger_reset, 3 out_of_range).
candidates as (
    {{ staging_unpivot(tables, staging_column_groups(tables)) }}
),

-- Precedence, one row per key: a clean value beats a flagged one, then higher metadata.files.precedence,
-- then the newer version (higher file_id), then the later row of the file.
winners as (
    select distinct on (skey) *
    from (
        select c.*, {{ measurements_series_key('c.time', 'c.series_id') }} as skey
        from candidates c
        {%- if not rebuild %}
        where exists (select 1 from _mfs_window_keys w
                      where w.series_id = c.series_id and c.time between w.t0 and w.t1)
        {%- endif %}
    ) c
    order by skey, flag <> 0, precedence desc, file_id desc, row_number desc
),

-- The series values the anomaly flags are judged on: the new clean winners and, on an incremental run,
-- the stored 'ok'/'anomaly' rows within h of the recomputed windows (the rest of the table is untouched).
judged as (
    select skey, value, true as is_new
    from winners
    where flag = 0
    {%- if not rebuild %}
    union all
    select {{ measurements_series_key('m.time', 's.series_id') }} as skey, m.value, false as is_new
    from {{ this }} m
    join _mfs_series s using (site, zone, variable)
    where m.quality_flag in ('ok', 'anomaly')
      and exists (select 1 from _mfs_window_keys w
                  where w.series_id = s.series_id and m.time between w.t0 - {{ h }} and w.t1 + {{ h }})
    {%- endif %}
),

-- Materialized: computed once. Inlined, the planner may put it on the inner side of a nested loop against
-- `winners` and re-run the whole anomaly pass for every new row: it estimates `winners` at a row or two
-- when the staging table's statistics predate the load (autoanalyze not yet run), and an incremental
-- build of a 744-row file then took 190 s instead of 0.2 s.
anomalies as materialized (
    -- sqlfluff's grammar has no expression as a window frame offset (`range between x + interval ...`):
    {{ measurements_anomalies('judged', with_context=not rebuild) }}  -- noqa: PRS
)

select w.time, c.site, c.zone, c.variable, w.value, c.unit, w.file_id,
    case w.flag
        when 1 then 'sentinel'
        when 2 then 'logger_reset'
        when 3 then 'out_of_range'
        else case when a.skey is null then 'ok' else 'anomaly' end
    end as quality_flag
from winners w
join _mfs_columns c using (column_id)
left join anomalies a using (skey)
