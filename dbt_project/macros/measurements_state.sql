{#- Incremental by file version, for `measurements` (see its YAML for the contract).

    `timeseries.measurement_file_state` holds the file versions the table currently reflects:
    (file_id, loaded_at, precedence) of every active file at the end of the last run. It belongs
    to the `measurements` asset: only these hooks write it, inside the model's transaction. -#}

{% macro measurements_state_relation() -%}
    {{ this.schema }}.measurement_file_state
{%- endmacro %}

{#- `timeseries.measurement_changes`: the time spans each run recomputed (rows deleted, inserted or
    re-flagged, any series), in run order. The features sensor turns new ones into day partitions, so
    a rollback or a reactivation reaches the features like a new file does. -#}
{% macro measurements_changes_relation() -%}
    {{ this.schema }}.measurement_changes
{%- endmacro %}

{#- Rebuild everything when asked (--full-refresh), when the table is new, or when no state was
    recorded yet (first run over the migration's empty hypertable). Decided identically when the
    model SQL and its hooks are rendered. -#}
{% macro measurements_rebuild() %}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- if flags.FULL_REFRESH or not is_incremental() -%}{{ return(true) }}{%- endif -%}
    {%- set state = adapter.get_relation(this.database, this.schema, 'measurement_file_state') -%}
    {%- if state is none -%}{{ return(true) }}{%- endif -%}
    {%- set rows = run_query('select count(*) from ' ~ measurements_state_relation()) -%}
    {{ return(rows.columns[0].values()[0] == 0) }}
{% endmacro %}

{#- The series key the model sorts and windows on: the time shifted by 10^6 hours (114 years) per
    series, so one timestamptz orders by (series, time) and a +/- h range frame never reaches into
    another series. Sorting on one key is ~2x faster than on (series_id, time), whose ties on the
    first key fall back to the slow multi-column comparator. Overflows (an error, never a wrong
    answer) only past ~2 500 series or data spanning more than a century. -#}
{% macro measurements_series_key(time, series_id) -%}
    ({{ time }} + {{ series_id }} * interval '1000000 hours')
{%- endmacro %}

{% macro measurements_prepare() %}
{%- set rebuild = measurements_rebuild() -%}
{%- set h = "interval " ~ gh_literal(var('anomaly_half_window')) -%}
-- For this transaction only: sorts and hashes of a full rebuild (~2 M unpivoted values) stay in
-- memory instead of spilling to temp files, and JIT is off: compiling the large generated statement
-- costs more (~1 s) than it saves.
set local work_mem = '256MB';
set local jit = off;

create table if not exists {{ measurements_state_relation() }} (
    file_id     bigint primary key,
    loaded_at   timestamptz,
    precedence  integer not null,
    recorded_at timestamptz not null default now()
);
comment on table {{ measurements_state_relation() }} is
    'Bookkeeping of the measurements asset: the active file versions timeseries.measurements reflects.';
create table if not exists {{ measurements_changes_relation() }} (
    change_id   bigint generated always as identity primary key,
    t0          timestamptz not null,
    t1          timestamptz not null,
    recorded_at timestamptz not null default now()
);
comment on table {{ measurements_changes_relation() }} is
    'Bookkeeping of the measurements asset: the time spans each run recomputed, for the features sensor.';
-- Concatenates arrays; session-local, for the anomaly pass's per-hour neighbourhoods.
create or replace aggregate pg_temp.measurements_array_cat (anycompatiblearray) (sfunc = array_cat, stype = anycompatiblearray);
-- One run at a time: a second run waits here and then sees the first one's state.
lock table {{ measurements_state_relation() }} in exclusive mode;

-- The active set is read once, so files activated during the run are simply left for the next run.
create temporary table _mfs_active on commit drop as
    select file_id, loaded_at, precedence from metadata.files
    where is_active and status = 'loaded' and excluded_by_check is null;

{% if rebuild %}
truncate {{ measurements_state_relation() }};
-- What the table spanned before: with the new rows' span (measurements_finish), what this run recomputed.
create temporary table _mfs_rebuilt on commit drop as
{%- if is_incremental() %}
    select min(time) as t0, max(time) as t1 from {{ this }};
{%- else %}
    select null::timestamptz as t0, null::timestamptz as t1;
{%- endif %}
{% if is_incremental() %}
truncate {{ this }};
-- Bulk load: the table is empty, so its indexes (the unique key included) are dropped here and
-- rebuilt by `measurements_finish` after the insert, in this transaction: building a b-tree once
-- from all rows is ~2x cheaper than maintaining it row by row. Their definitions are read from the
-- catalog, so whatever the migrations define comes back as it was.
create temporary table _mfs_indexes on commit drop as
    select c.conname,
        case when c.conname is null then pg_get_indexdef(i.indexrelid)
             else format('alter table %s add constraint %I %s', i.indrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
        end as definition
    from pg_index i
    left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid
    where i.indrelid = '{{ this }}'::regclass;
do $$
declare
    r record;
begin
    for r in select conname, definition from _mfs_indexes loop
        if r.conname is not null then
            execute format('alter table {{ this }} drop constraint %I', r.conname);
        end if;
    end loop;
    for r in select i.indexrelid::regclass as index from pg_index i where i.indrelid = '{{ this }}'::regclass loop
        execute format('drop index %s', r.index);
    end loop;
end
$$;
{% endif %}
{% else %}
-- Versions that appeared, disappeared (rollback, superseded) or were re-staged / re-ranked.
create temporary table _mfs_changed on commit drop as
    (select file_id, loaded_at, precedence from _mfs_active
     except select file_id, loaded_at, precedence from {{ measurements_state_relation() }})
    union
    (select file_id, loaded_at, precedence from {{ measurements_state_relation() }}
     except select file_id, loaded_at, precedence from _mfs_active);

-- Windows: each changed version's mapped series over the time span of its staged rows, widened by the
-- anomaly half window h. Inside a window every key is recomputed from all active versions, flags
-- included; a key within h of the span has the same candidates as before but new neighbours, so its
-- anomaly flag is recomputed with it. Outside, nothing can have changed.
create temporary table _mfs_windows on commit drop as
    with spans as (
        {%- for table in staging_mapped_columns() %}
        select _file_id as file_id, min(time) as t0, max(time) as t1
        from staging.{{ gh_ident(table) }}
        where _file_id in (select file_id from _mfs_changed)
        group by _file_id
        {{ "union all" if not loop.last }}
        {%- else %}
        select null::bigint as file_id, null::timestamptz as t0, null::timestamptz as t1 where false
        {%- endfor %}
    )
    select distinct fc.site, fc.zone, fc.variable, spans.t0 - {{ h }} as t0, spans.t1 + {{ h }} as t1
    from spans join metadata.file_columns fc using (file_id)
    where fc.variable is not null;
analyze _mfs_windows;
insert into {{ measurements_changes_relation() }} (t0, t1) select distinct t0, t1 from _mfs_windows;

delete from {{ this }} m
using _mfs_windows w
where m.site = w.site and m.zone = w.zone and m.variable = w.variable and m.time between w.t0 and w.t1;
{% endif %}

-- Staged rows to read: every active version on a rebuild; else active versions feeding a window's
-- series, limited to the windows' overall span (whole rows, so row-level flags stay exact).
create temporary table _mfs_scope on commit drop as
{% if rebuild %}
    select file_id, '-infinity'::timestamptz as t0, 'infinity'::timestamptz as t1 from _mfs_active;
{% else %}
    select fc.file_id, min(w.t0) as t0, max(w.t1) as t1
    from _mfs_active a
    join metadata.file_columns fc using (file_id)
    join _mfs_windows w on w.site = fc.site and w.zone = fc.zone and w.variable = fc.variable
    group by fc.file_id;
{% endif %}
analyze _mfs_scope;

-- Per mapped staged column of the files in scope: where it goes and how its unit converts. The loader
-- resolved each column's unit (declared unit checked against the registry with pint) into
-- file_columns.scale/offset; versions registered before that (NULL scale) fall back to the registry
-- rule whose pattern matches the original column name and the `unit_conversions` seed. Only series the registry's allow-list admits pass; the rest stay in staging (counted by
-- quality_metrics). Columns are numbered by attnum, as in `staging_unpivot`.
create temporary table _mfs_columns on commit drop as
    select (row_number() over ())::int as column_id, m.*
    from (
        select distinct on (fc.file_id, fc.staged_column)
            fc.file_id, a.attnum::int as col_no, fc.site, fc.zone, fc.variable, fc.canonical_unit as unit,
            coalesce(fc.scale, uc.scale, 1.0) as scale, coalesce(fc."offset", uc."offset", 0.0) as "offset",
            r.min_value, r.max_value
        from metadata.file_columns fc
        join _mfs_scope using (file_id)
        join metadata.files f using (file_id)
        join pg_namespace n on n.nspname = 'staging'
        join pg_class c on c.relnamespace = n.oid and c.relname = 'raw_' || f.source  -- the staging naming rule: greenhouse_assets/catalog.py
        join pg_attribute a on a.attrelid = c.oid and a.attname = fc.staged_column and a.attnum > 0 and not a.attisdropped
        join {{ ref('allow_list') }} al on al.source = f.source and al.site = fc.site and al.variable = fc.variable
        left join {{ ref('column_mappings') }} cm
            on cm.source = f.source and cm.variable = fc.variable and normalize(fc.original_name, nfc) ~ cm.pattern
        left join {{ ref('unit_conversions') }} uc
            on uc.from_unit = cm.unit and uc.to_unit = fc.canonical_unit
        left join {{ ref('physical_ranges') }} r on r.variable = fc.variable
        where fc.variable is not null
        order by fc.file_id, fc.staged_column, cm.rule
    ) m;

create temporary table _mfs_series on commit drop as
    select (row_number() over (order by site, zone, variable))::int as series_id, site, zone, variable
    from (select distinct site, zone, variable from _mfs_columns) s;
analyze _mfs_series;

-- Per file, lookup arrays indexed by attnum. No NULLs (element access in an array without NULLs is
-- O(1)): an unmapped column has series 0; a variable without a physical range gets the bounds
-- (-infinity, NaN), which no value, NaN included, falls outside, exactly like NULL bounds.
create temporary table _mfs_files on commit drop as
    select f.file_id, a.precedence,
        array_agg(coalesce(c.column_id, 0) order by k) as column_ids,
        array_agg(coalesce(s.series_id, 0) order by k) as series,
        array_agg(coalesce(c.scale, 1.0) order by k) as scale,
        array_agg(coalesce(c."offset", 0.0) order by k) as "offset",
        array_agg(coalesce(c.min_value, '-infinity') order by k) as min_value,
        array_agg(coalesce(c.max_value, 'NaN') order by k) as max_value
    from (select distinct file_id from _mfs_columns) f
    join _mfs_active a using (file_id)
    cross join generate_series(1, (select max(col_no) from _mfs_columns)) k
    left join _mfs_columns c on c.file_id = f.file_id and c.col_no = k
    left join _mfs_series s using (site, zone, variable)
    group by f.file_id, a.precedence;
analyze _mfs_files;
analyze _mfs_columns;

{% if not rebuild %}
create temporary table _mfs_window_keys on commit drop as
    select s.series_id, w.t0, w.t1 from _mfs_windows w join _mfs_series s using (site, zone, variable);
analyze _mfs_window_keys;
{% endif %}
{% endmacro %}

{% macro measurements_finish() %}
-- After a rebuild's bulk load: the indexes `measurements_prepare` dropped, as they were.
do $$
declare
    r record;
begin
    if to_regclass('pg_temp._mfs_indexes') is not null then
        for r in select definition from _mfs_indexes order by conname is null loop
            execute r.definition;
        end loop;
    end if;
end
$$;
do $$
begin
    if to_regclass('pg_temp._mfs_rebuilt') is not null then
        insert into {{ measurements_changes_relation() }} (t0, t1)
            select least(r.t0, n.t0), greatest(r.t1, n.t1)
            from _mfs_rebuilt r cross join (select min(time) as t0, max(time) as t1 from {{ this }}) n
            where coalesce(r.t0, n.t0) is not null;
    end if;
end
$$;
-- Audited in this transaction, before the state moves on: the rows this run wrote (all of them on a
-- rebuild, else those in the recomputed windows) and the file versions it took in and left out.
{%- if measurements_rebuild() %}
{%- set rows_sql = '(select count(*) from ' ~ this ~ ')' %}
{%- else %}
{%- set rows_sql = '(select count(*) from ' ~ this ~ ' m where exists (select 1 from _mfs_windows w where '
                   ~ 'm.site = w.site and m.zone = w.zone and m.variable = w.variable and m.time between w.t0 and w.t1))' %}
{%- endif %}
{{ gh_audit_write(
    rows_sql=rows_sql,
    file_ids_sql='array(select file_id from _mfs_active except select file_id from ' ~ measurements_state_relation() ~ ' order by 1)',
    details_sql="jsonb_build_object('removed_file_ids', to_jsonb(array(select file_id from "
                ~ measurements_state_relation() ~ " except select file_id from _mfs_active order by 1)))") }}
delete from {{ measurements_state_relation() }};
insert into {{ measurements_state_relation() }} (file_id, loaded_at, precedence)
    select file_id, loaded_at, precedence from _mfs_active;
-- The contract table is a hypertable with a unique key; if dbt ever (re)creates it, restore both.
select create_hypertable('{{ this }}', 'time', chunk_time_interval => interval '7 days',
                         if_not_exists => true, migrate_data => true);
do $$
begin
    if not exists (select 1 from pg_constraint
                   where conrelid = '{{ this }}'::regclass and conname = 'measurements_key') then
        alter table {{ this }} add constraint measurements_key unique (time, site, zone, variable);
    end if;
end
$$;
{% endmacro %}
