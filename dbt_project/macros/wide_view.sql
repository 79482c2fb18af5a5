{#- One row per (time, zone) of a site, one column per variable the registry maps for that
    source (from the generated `column_mappings` seed, so the view follows the registry). Values
    are taken whatever their quality flag; `flagged_variables` lists the ones that are not 'ok'. -#}
{% macro wide_view(source_name) %}
{%- set variables = [] -%}
{%- set site = [source_name] -%}
{%- if execute -%}
    {%- set query -%}
        select distinct site, variable from {{ ref('column_mappings') }}
        where source = {{ gh_literal(source_name) }} order by variable
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {%- set variables = result.columns[1].values() -%}
    {%- if variables -%}{%- set site = result.columns[0].values() -%}{%- endif -%}
{%- endif %}
select
    m.time,
    m.zone,
    {%- for variable in variables %}
    max(m.value) filter (where m.variable = {{ gh_literal(variable) }}) as {{ gh_ident(variable) }},
    {%- endfor %}
    array_remove(array_agg(case when m.quality_flag <> 'ok' then m.variable end order by m.variable), null)
        as flagged_variables
from {{ ref('measurements') }} m
where m.site = {{ gh_literal(site[0]) }}
group by m.time, m.zone
{% endmacro %}
