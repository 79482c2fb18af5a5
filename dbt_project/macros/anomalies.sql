{#- Post-hook of `measurements`: flag rolling robust z-score outliers as 'anomaly' (see its YAML).

    Runs after precedence picked each key's value, over the table itself, so a flag depends only on
    the stored series. Only rows whose flag can have changed are reconsidered: on a rebuild every
    row; else rows within +/- h of a changed window (`_mfs_windows`), judged on neighbours within
    +/- h of them (context +/- 2h). Must run before `measurements_finish` rewrites the state, so
    `measurements_rebuild()` decides as the pre-hook did. -#}
{% macro measurements_flag_anomalies() %}
{%- set rebuild = measurements_rebuild() -%}
{%- set h = "interval " ~ gh_literal(var('anomaly_half_window')) -%}
with
{%- if not rebuild %}
affected as (
    select site, zone, variable, t0 - {{ h }} as t0, t1 + {{ h }} as t1 from _mfs_windows
),
{%- endif %}
candidates as (
    select m.time, m.site, m.zone, m.variable, m.value
    from {{ this }} m
    where m.quality_flag in ('ok', 'anomaly')
    {%- if not rebuild %}
      and exists (select 1 from affected a
                  where a.site = m.site and a.zone = m.zone and a.variable = m.variable
                    and m.time between a.t0 - {{ h }} and a.t1 + {{ h }})
    {%- endif %}
),
rolling as (
    select c.*, array_agg(c.value) over neighbourhood as neighbours
    from candidates c
    window neighbourhood as (partition by c.site, c.zone, c.variable order by c.time
                             range between {{ h }} preceding and {{ h }} following)
),
scored as (
    select r.time, r.site, r.zone, r.variable,
        case when med.n >= {{ var('anomaly_min_points') }} and mad.mad > 0
                  and abs(0.6745 * (r.value - med.median) / mad.mad) > {{ var('anomaly_z_threshold') }}
             then 'anomaly' else 'ok' end as flag
    from rolling r
    cross join lateral (select percentile_cont(0.5) within group (order by x) as median, count(*) as n
                        from unnest(r.neighbours) x) med
    cross join lateral (select percentile_cont(0.5) within group (order by abs(x - med.median)) as mad
                        from unnest(r.neighbours) x) mad
)
update {{ this }} m
set quality_flag = s.flag
from scored s
where m.time = s.time and m.site = s.site and m.zone = s.zone and m.variable = s.variable
  and m.quality_flag in ('ok', 'anomaly') and m.quality_flag <> s.flag
  {%- if not rebuild %}
  and exists (select 1 from affected a
              where a.site = m.site and a.zone = m.zone and a.variable = m.variable and m.time between a.t0 and a.t1)
  {%- endif %}
{% endmacro %}
