{#- The audit row and lineage edges of a model or seed, written by a post-hook inside the model's own
    transaction (dbt runs post-hooks before it commits the model): the row exists exactly when the
    model's new contents do, and a failing audit insert fails the model and rolls it back.

    Who and which Dagster run come from session settings the asset passes to dbt's connections
    (PGOPTIONS, greenhouse_assets/governance/dbt_audit.py); they are read at run time, so they never
    change what dbt parses. Run outside Dagster (dbt by hand), the actor is the database user.

    `rows_sql`: the rows the write produced (default: the table's rows; none for a view).
    `file_ids_sql`: a bigint[] of the input file versions; `details_sql`: jsonb merged into details.
    `measurements` calls this from its own finishing hook, which knows its file versions. -#}

{% macro gh_audit_write(rows_sql=none, file_ids_sql=none, details_sql=none) -%}
{%- if execute and (model.name != 'measurements' or rows_sql is not none) -%}
{%- set relation = this.schema ~ '.' ~ this.identifier -%}
{%- set materialized = config.get('materialized') -%}
{%- if rows_sql is none -%}
    {%- set rows_sql = 'null' if materialized == 'view' else '(select count(*) from ' ~ this ~ ')' -%}
{%- endif -%}
{%- set parents = [] -%}
{%- for unique_id in model.depends_on.nodes -%}
    {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
    {%- if node -%}
        {%- do parents.append(node.schema ~ '.' ~ (node.alias or node.identifier or node.name)) -%}
    {%- endif -%}
{%- endfor -%}
with written as (
    insert into metadata.audit_log (actor, run_id, asset, table_name, operation, rows_affected, input_file_ids, details)
    values (coalesce(nullif(current_setting('greenhouse.audit_actor', true), ''), session_user),
            nullif(current_setting('greenhouse.audit_run_id', true), ''),
            {{ gh_literal('timeseries/' ~ model.name) }}, {{ gh_literal(relation) }},
            {{ gh_literal('dbt ' ~ model.resource_type ~ ' (' ~ materialized ~ ')') }},
            {{ rows_sql }}, {{ file_ids_sql or 'null' }},
            jsonb_build_object('unique_id', {{ gh_literal(model.unique_id) }},
                               'outputs', jsonb_build_array(jsonb_build_array('table', {{ gh_literal(relation) }})))
            {%- if details_sql %} || {{ details_sql }}{% endif %})
    returning run_id, input_file_ids
)
insert into metadata.lineage (from_kind, from_ref, to_kind, to_ref, run_id)
select source.kind, source.ref, 'table', {{ gh_literal(relation) }}, written.run_id
from written
cross join lateral (
    select 'file_version' as kind, file_id::text as ref from unnest(written.input_file_ids) as file_id
    -- the staging tables those versions were loaded into: `measurements` finds its staging tables at
    -- run time, so its manifest lists none of them
    union
    select 'table', 'staging.raw_' || f.source from metadata.files f where f.file_id = any(written.input_file_ids)
    {%- for parent in parents | unique %}
    union select 'table', {{ gh_literal(parent) }}
    {%- endfor %}
) source;
{%- endif -%}
{%- endmacro %}
