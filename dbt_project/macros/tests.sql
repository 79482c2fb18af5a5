{#- Generic tests (dbt_utils is not installed). Each returns the failing rows. -#}

{#- No two rows share the combination of columns (the table's key). -#}
{% test unique_combination(model, combination) %}
select {{ combination | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Values outside their variable's plausible range. They are kept and flagged `out_of_range`, so this
    is a warning that shows how many there are, not an error. -#}
{% test within_physical_range(model, column_name) %}
select m.variable, count(*) as n, min(m.{{ column_name }}) as lowest, max(m.{{ column_name }}) as highest
from {{ model }} m
join {{ ref('physical_ranges') }} r using (variable)
where m.{{ column_name }} < r.min_value or m.{{ column_name }} > r.max_value
group by m.variable
{% endtest %}

{#- Every variable is stored in its canonical unit from the registry vocabulary. -#}
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
