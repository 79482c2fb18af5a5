{#- Incremental by file version, for `measurements` (see its YAML for the contract).

    `timeseries.measurement_file_state` holds the file versions the table currently reflects:
    (file_id, loaded_at, precedence) of every active file at the end of the last run. It belongs
    to the `measurements` asset: only these hooks write it, inside the model's transaction. -#}

{% macro measurements_state_relation() -%}
    {{ this.schema }}.measurement_file_state
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

{% macro measurements_prepare() %}
{%- set tables = staging_mapped_columns() -%}
{%- set rebuild = measurements_rebuild() -%}
create table if not exists {{ measurements_state_relation() }} (
    file_id     bigint primary key,
    loaded_at   timestamptz,
    precedence  integer not null,
    recorded_at timestamptz not null default now()
);
comment on table {{ measurements_state_relation() }} is
    'Bookkeeping of the measurements asset: the active file versions timeseries.measurements reflects.';
-- One run at a time: a second run waits here and then sees the first one's state.
lock table {{ measurements_state_relation() }} in exclusive mode;

-- The active set is read once, so files activated during the run are simply left for the next run.
create temporary table _mfs_active on commit drop as
    select file_id, loaded_at, precedence from metadata.files where is_active and status = 'loaded';

{% if rebuild %}
truncate {{ measurements_state_relation() }};
{% if is_incremental() %}truncate {{ this }};{% endif %}
{% endif %}

{% if not rebuild %}
-- Versions that appeared, disappeared (rollback, superseded) or were re-staged / re-ranked.
create temporary table _mfs_changed on commit drop as
    (select file_id, loaded_at, precedence from _mfs_active
     except select file_id, loaded_at, precedence from {{ measurements_state_relation() }})
    union
    (select file_id, loaded_at, precedence from {{ measurements_state_relation() }}
     except select file_id, loaded_at, precedence from _mfs_active);

-- Windows: each changed version's mapped series over the time span of its staged rows. Inside a
-- window every key is recomputed from all active versions; outside, nothing can have changed.
create temporary table _mfs_windows on commit drop as
    with spans as (
        {%- for table in tables %}
        select _file_id as file_id, min(time) as t0, max(time) as t1
        from staging.{{ gh_ident(table) }}
        where _file_id in (select file_id from _mfs_changed)
        group by _file_id
        {{ "union all" if not loop.last }}
        {%- else %}
        select null::bigint as file_id, null::timestamptz as t0, null::timestamptz as t1 where false
        {%- endfor %}
    )
    select distinct fc.site, fc.zone, fc.variable, spans.t0, spans.t1
    from spans join metadata.file_columns fc using (file_id)
    where fc.variable is not null;

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
{% endmacro %}

{% macro measurements_finish() %}
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
