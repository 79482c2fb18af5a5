{#- Canonical long time series; see measurements.yml for the contract, flags and precedence.
    The migration created the table as a hypertable: this model only ever deletes and inserts
    rows in it (full_refresh=false: `--full-refresh` truncates and rebuilds in place instead of
    swapping in a plain table). -#}
{%- set tables = staging_mapped_columns() -%}
{%- set rebuild = measurements_rebuild() -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='fail',
    pre_hook="{{ measurements_prepare() }}",
    post_hook=["{{ measurements_flag_anomalies() }}", "{{ measurements_finish() }}"],
) }}
-- depends_on: {{ source('metadata', 'files') }}
-- depends_on: {{ source('staging', 'raw_aarslev') }}
-- depends_on: {{ source('staging', 'raw_knudjepsen') }}
-- depends_on: {{ source('staging', 'raw_generic') }}

with

-- Per mapped staged column: where it goes and how its unit converts. The unit the values are
-- really in comes from the registry rule whose pattern matches the original column name. Only
-- series the registry's allow-list admits pass; the rest stay in staging (counted by quality_metrics).
column_map as (
    select distinct on (fc.file_id, fc.staged_column)
        fc.file_id, fc.staged_column, fc.site, fc.zone, fc.variable, fc.canonical_unit,
        coalesce(uc.scale, 1.0) as scale, coalesce(uc."offset", 0.0) as "offset"
    from {{ source('metadata', 'file_columns') }} fc
    join _mfs_scope using (file_id)
    join {{ source('metadata', 'files') }} f using (file_id)
    join {{ ref('allow_list') }} al on al.source = f.source and al.site = fc.site and al.variable = fc.variable
    left join {{ ref('column_mappings') }} cm
        on cm.source = f.source and cm.variable = fc.variable and normalize(fc.original_name, nfc) ~ cm.pattern
    left join {{ ref('unit_conversions') }} uc
        on uc.from_unit = cm.unit and uc.to_unit = fc.canonical_unit
    where fc.variable is not null
    order by fc.file_id, fc.staged_column, cm.rule
),

observed as (
    {{ staging_unpivot(tables) }}
),

converted as (
    select
        o.file_id, o.row_number, o.time, m.site, m.zone, m.variable, m.canonical_unit as unit,
        o.raw_value,
        o.raw_value * m.scale + m."offset" as value,
        -- -2.14748e+08 is the logger's int32-minimum sentinel; |x| > 1e30 is garbage (5.3e+36).
        (round(o.raw_value / 1000) = -214748 or abs(o.raw_value) > 1e30) as is_sentinel
    from observed o
    join column_map m on m.file_id = o.file_id and m.staged_column = o.staged_column
),

-- Row-level view of the staged row (all its mapped values, even outside the windows).
per_row as (
    select *,
        bool_and(raw_value = 0 or is_sentinel) over staged_row as row_has_no_reading,
        count(*) filter (where raw_value = 0) over staged_row as row_zeros
    from converted
    window staged_row as (partition by file_id, row_number)
),

flagged as (
    select p.*,
        case
            when p.is_sentinel then 'sentinel'
            when p.row_has_no_reading and p.row_zeros >= {{ var('logger_reset_min_zeros') }} then 'logger_reset'
            when p.value < r.min_value or p.value > r.max_value then 'out_of_range'
            else 'ok'
        end as quality_flag
    from per_row p
    left join {{ ref('physical_ranges') }} r using (variable)
    {%- if not rebuild %}
    where exists (
        select 1 from _mfs_windows w
        where w.site = p.site and w.zone = p.zone and w.variable = p.variable and p.time between w.t0 and w.t1)
    {%- endif %}
),

-- Precedence: a clean value beats a flagged one, then higher metadata.files.precedence, then the
-- newer version (higher file_id), then the later row of the file.
ranked as (
    select fl.*,
        row_number() over (
            partition by fl.time, fl.site, fl.zone, fl.variable
            order by (fl.quality_flag = 'ok') desc, a.precedence desc, fl.file_id desc, fl.row_number desc
        ) as precedence_rank
    from flagged fl
    join _mfs_active a using (file_id)
)

select time, site, zone, variable, value, unit, file_id, quality_flag
from ranked
where precedence_rank = 1
