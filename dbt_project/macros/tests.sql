{#- Generic tests (dbt_utils is not installed). Each returns the failing rows. -#}

{#- No two rows share the combination of columns (the table's key). -#}
{% test unique_combination(model, combination) %}
select {{ combination | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Physical range (owner of the check). The model compares each value with `physical_ranges` once
    and stores the verdict as `quality_flag = 'out_of_range'` (data, kept on purpose); this test judges
    the stored flags: a variable with more than `max_share` of its values out of range points to a unit
    or mapping error, not to a few bad readings. Sentinels and logger resets carry their own flags. -#}
{% test out_of_range_share(model, max_share) %}
select variable, count(*) as n, count(*) filter (where quality_flag = 'out_of_range') as out_of_range
from {{ model }}
group by variable
having count(*) filter (where quality_flag = 'out_of_range') > {{ max_share }} * count(*)
{% endtest %}

{#- Allow-list: every (site, variable) series in the table is one the registry's allow-list admits
    (seed `allow_list`); the model filters by it, so a row outside it is a broken model or a hand edit. -#}
{% test series_allowed(model) %}
select m.site, m.variable, count(*) as n
from {{ model }} m
where not exists (select 1 from {{ ref('allow_list') }} a where a.site = m.site and a.variable = m.variable)
group by m.site, m.variable
{% endtest %}

{#- Gaps: at least `mostly` of the series-days (UTC) hold `min_completeness` of their expected
    readings, completeness = min(1, readings x cadence / 86400 s) with cadence = the series' median
    step (the same quantity the daily quality score averages per site, quality/scores.sql). -#}
{% test daily_completeness(model, min_completeness, mostly) %}
with cadence as (
    select site, zone, variable, percentile_cont(0.5) within group (order by extract(epoch from step)) as step_s
    from (select site, zone, variable, time - lag(time) over (partition by site, zone, variable order by time) as step
          from {{ model }}) s
    where step > interval '0'
    group by site, zone, variable
),
series_days as (
    select least(1.0, d.n * c.step_s / 86400.0) as completeness
    from (select (time at time zone 'UTC')::date as day, site, zone, variable, count(*) as n
          from {{ model }} group by 1, 2, 3, 4) d
    join cadence c using (site, zone, variable)
)
select count(*) as series_days, count(*) filter (where completeness >= {{ min_completeness }}) as complete_enough
from series_days
having count(*) filter (where completeness >= {{ min_completeness }}) < {{ mostly }} * count(*)
{% endtest %}

{#- Canonical units (owner of the check): every variable is stored in its canonical unit from the
    registry vocabulary (seed `variables`). -#}
{% test unit_matches_vocabulary(model, column_name) %}
select m.variable, m.{{ column_name }}, count(*) as n
from {{ model }} m
left join {{ ref('variables') }} v on v.variable = m.variable and v.canonical_unit = m.{{ column_name }}
where v.variable is null
group by m.variable, m.{{ column_name }}
{% endtest %}

{#- Every mapped column of an active file version resolves to exactly one registry unit, and that
    unit converts to the canonical unit (equal, or a row in `unit_conversions`): a unit is never
    passed through unconverted by accident. Columns the loader resolved itself (scale/offset from the
    declared unit, checked with pint) are resolved by construction; only older versions are checked. -#}
{% test mapped_columns_resolve(model) %}
with mapped as (
    select fc.file_id, fc.staged_column, fc.variable, fc.canonical_unit, f.source,
           array_agg(distinct cm.unit) filter (where cm.unit is not null) as units
    from {{ source('metadata', 'file_columns') }} fc
    join {{ source('metadata', 'files') }} f using (file_id)
    left join {{ ref('column_mappings') }} cm
        on cm.source = f.source and cm.variable = fc.variable and normalize(fc.original_name, nfc) ~ cm.pattern
    where f.is_active and fc.variable is not null and fc.scale is null
    group by 1, 2, 3, 4, 5
)
select mapped.*
from mapped
where coalesce(cardinality(units), 0) <> 1
   or (units[1] <> canonical_unit and not exists (
        select 1 from {{ ref('unit_conversions') }} uc where uc.from_unit = units[1] and uc.to_unit = canonical_unit))
{% endtest %}

{#- Values outside [min_value, max_value] (nulls pass). -#}
{% test within_range(model, column_name, min_value, max_value) %}
select {{ column_name }}, count(*) as n
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
group by {{ column_name }}
{% endtest %}

{#- Rows whose two prices do not agree with the DKK/EUR rate (the krone is pegged to the euro at
    7.46038 within +/- 2.25 %): a price in the wrong unit or column. Prices near zero are skipped. -#}
{% test currency_ratio(model, numerator, denominator, min_ratio, max_ratio) %}
select *
from {{ model }}
where abs({{ denominator }}) >= 1
  and ({{ numerator }} / {{ denominator }} < {{ min_ratio }} or {{ numerator }} / {{ denominator }} > {{ max_ratio }})
{% endtest %}
