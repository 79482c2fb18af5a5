{#- Generic unpivot of every staging.raw_<source> table, discovered at run time.

    Only columns that some file version of the source maps to a variable are unpivoted, so
    unmapped columns (and new columns until a file maps them) cost nothing. Returns, at execute
    time, {table: [(column, sql type, attnum), ...]}; empty during parse. Columns are numbered by
    attnum, which never changes for a column, so the pre-hook's lookup arrays (`_mfs_files`) and
    this SQL agree even if a column is added in between. -#}
{% macro staging_mapped_columns() %}
    {%- set tables = {} -%}
    {%- if execute -%}
        {%- set query -%}
            select c.relname, a.attname, format_type(a.atttypid, null), a.attnum
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
            {%- do tables.setdefault(row[0], []).append((row[1], row[2], row[3])) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tables) }}
{% endmacro %}

{#- {table: [(file ids, attnums)]}: the active file versions of each table grouped by the set of
    columns they map. A file fills only its own columns (a cell CSV 15 of the 80 mapped columns of
    raw_aarslev), so unpivoting each group over just its columns skips ~80 % of the cells. -#}
{% macro staging_column_groups(tables) %}
    {%- set groups = {} -%}
    {%- if execute and tables -%}
        {%- set query -%}
            select relname, string_agg(file_id::text, ',' order by file_id), attnums
            from (
                select c.relname, fc.file_id, string_agg(a.attnum::text, ',' order by a.attnum) as attnums
                from metadata.file_columns fc
                join metadata.files f using (file_id)
                join pg_class c on c.relname = 'raw_' || f.source
                join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'staging'
                join pg_attribute a on a.attrelid = c.oid and a.attname = fc.staged_column and a.attnum > 0 and not a.attisdropped
                where fc.variable is not null and f.is_active and f.status = 'loaded' and f.excluded_by_check is null
                group by c.relname, fc.file_id
            ) per_file
            group by relname, attnums
            order by relname, 2
        {%- endset -%}
        {%- for row in run_query(query) -%}
            {%- do groups.setdefault(row[0], []).append((row[1].split(','), row[2].split(',') | map('int') | list)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(groups) }}
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

{#- -2.14748e+08 is the logger's int32-minimum sentinel; |x| > 1e30 is garbage (5.3e+36). -#}
{% macro gh_is_sentinel(x) -%}
    (round({{ x }} / 1000) = -214748 or abs({{ x }}) > 1e30)
{%- endmacro %}

{#- One row per non-null cell that `_mfs_files` maps, for the staged rows of the files in `_mfs_scope`
    within each file's [t0, t1]: (file_id, row_number, time, precedence, column_id, series_id, value,
    flag), value in the canonical unit, flag 0 ok, 1 sentinel, 2 logger_reset, 3 out_of_range.

    The row-level logger_reset test looks at all mapped values of the staged row, so it is computed
    once per staged row (over the group's columns) before the row is unpivoted. Files that were not
    active when the SQL was compiled (activated since) go through one branch over all mapped columns. -#}
{% macro staging_unpivot(tables, groups) %}
    {%- set branches = [] -%}
    {%- for table, columns in tables.items() -%}
        {%- set by_attnum = {} -%}
        {%- for column, sql_type, attnum in columns -%}{%- do by_attnum.update({attnum: (column, sql_type)}) -%}{%- endfor -%}
        {%- set grouped = [] -%}
        {%- for file_ids, attnums in groups.get(table, []) -%}
            {%- set group_columns = [] -%}
            {%- for attnum in attnums if attnum in by_attnum -%}
                {%- do group_columns.append((by_attnum[attnum][0], by_attnum[attnum][1], attnum)) -%}
            {%- endfor -%}
            {%- do grouped.extend(file_ids) -%}
            {%- if group_columns -%}
                {%- do branches.append(staging_unpivot_branch(table, group_columns, "s._file_id = any('{" ~ file_ids | join(',') ~ "}'::bigint[])")) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do branches.append(staging_unpivot_branch(table, columns, ("s._file_id <> all('{" ~ grouped | join(',') ~ "}'::bigint[])") if grouped else "true")) -%}
    {%- endfor -%}
    {%- for branch in branches %}
    {{ branch }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select null::bigint as file_id, null::bigint as row_number, null::timestamptz as time, null::int as precedence,
           null::int as column_id, null::int as series_id, null::float8 as value, null::int as flag
    where false
    {%- endfor %}
{% endmacro %}

{% macro staging_unpivot_branch(table, columns, file_filter) %}
    select s.file_id, s.row_number, s.time, s.precedence, s.column_ids[v.col_no] as column_id,
        s.series[v.col_no] as series_id, v.value,
        case
            when {{ gh_is_sentinel('v.raw_value') }} then 1
            when s.row_reset then 2
            when v.value < s.min_value[v.col_no] or v.value > s.max_value[v.col_no] then 3
            else 0
        end as flag
    from (
        select s._file_id as file_id, s._row_number as row_number, s.time, f.precedence, f.column_ids, f.series,
            f.scale, f."offset", f.min_value, f.max_value,
            -- logger_reset: every mapped value of the row is 0 or a sentinel, at least N of them 0
            {% for column, sql_type, attnum in columns -%}
            (coalesce(f.series[{{ attnum }}], 0) = 0 or {{ gh_as_float(column, sql_type) }} is null or {{ gh_as_float(column, sql_type) }} = 0
             or {{ gh_is_sentinel(gh_as_float(column, sql_type)) }}){{ " and" if not loop.last }}
            {% endfor -%}
            and ({% for column, sql_type, attnum in columns -%}
                 (coalesce(f.series[{{ attnum }}], 0) <> 0 and coalesce({{ gh_as_float(column, sql_type) }} = 0, false))::int{{ " +" if not loop.last }}
                 {% endfor -%}) >= {{ var('logger_reset_min_zeros') }} as row_reset,
            {% for column, sql_type, attnum in columns -%}
            {{ gh_as_float(column, sql_type) }} as c{{ attnum }}{{ "," if not loop.last }}
            {% endfor %}
        from staging.{{ gh_ident(table) }} as s
        join _mfs_scope as scope on scope.file_id = s._file_id and s.time between scope.t0 and scope.t1
        join _mfs_files as f on f.file_id = s._file_id
        where {{ file_filter }}
        offset 0  -- keep row_reset evaluated once per staged row, not once per unpivoted cell
    ) as s
    cross join lateral (
        select v.col_no, v.raw_value, v.raw_value * s.scale[v.col_no] + s."offset"[v.col_no] as value
        from (values
            {%- for column, sql_type, attnum in columns %}
            ({{ attnum }}, s.c{{ attnum }}){{ "," if not loop.last }}
            {%- endfor %}
        ) as v (col_no, raw_value)
        where v.raw_value is not null and s.series[v.col_no] <> 0
    ) as v
{% endmacro %}
