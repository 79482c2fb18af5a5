{#- Generic unpivot of every staging.raw_<source> table, discovered at run time.

    Only columns that some file version of the source maps to a variable are unpivoted, so
    unmapped columns (and new columns until a file maps them) cost nothing. Returns, at execute
    time, {table: [(column, sql type), ...]}; empty during parse. -#}
{% macro staging_mapped_columns() %}
    {%- set tables = {} -%}
    {%- if execute -%}
        {%- set query -%}
            select c.relname, a.attname, format_type(a.atttypid, null)
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'staging'
            join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where c.relkind in ('r', 'p') and c.relname like 'raw\_%'
              and a.attname not in ('_file_id', '_row_number', '_source_file', '_ingested_at', '_status', 'time')
              and exists (
                  select 1 from metadata.file_columns fc join metadata.files f using (file_id)
                  where 'raw_' || f.source = c.relname and fc.staged_column = a.attname and fc.variable is not null)
            order by c.relname, a.attnum
        {%- endset -%}
        {%- for row in run_query(query) -%}
            {%- do tables.setdefault(row[0], []).append((row[1], row[2])) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tables) }}
{% endmacro %}

{#- A staged value as float8. Text columns (a file had text in them) are cast only when the cell
    is a plain number; anything else yields NULL, i.e. no observation. -#}
{% macro gh_as_float(column, sql_type) -%}
    {%- set ref = 's.' ~ gh_ident(column) -%}
    {%- if sql_type == 'double precision' -%} {{ ref }}
    {%- elif sql_type in ('bigint', 'integer', 'smallint', 'real', 'numeric') -%} {{ ref }}::float8
    {%- elif sql_type == 'boolean' -%} {{ ref }}::int::float8
    {%- else -%}
        case when {{ ref }}::text ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?\s*$'
             then trim({{ ref }}::text)::float8 end
    {%- endif -%}
{%- endmacro %}

{#- One row per non-null mapped cell: (file_id, row_number, time, staged_column, raw_value), for
    the staged rows of the files in `_mfs_scope` within each file's [t0, t1]. -#}
{% macro staging_unpivot(tables) %}
    {%- for table, columns in tables.items() %}
    select s._file_id as file_id, s._row_number as row_number, s.time, v.staged_column, v.raw_value
    from staging.{{ gh_ident(table) }} as s
    join _mfs_scope as scope on scope.file_id = s._file_id and s.time between scope.t0 and scope.t1
    cross join lateral (values
        {%- for column, sql_type in columns %}
        ({{ gh_literal(column) }}, {{ gh_as_float(column, sql_type) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as v (staged_column, raw_value)
    where v.raw_value is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select null::bigint as file_id, null::bigint as row_number, null::timestamptz as time,
           null::text as staged_column, null::float8 as raw_value
    where false
    {%- endfor %}
{% endmacro %}
