{#- Staged column names come from users' files (`Celle 5: `, `mål temp afd  Mid`, quotes...):
    always quote them, doubling embedded quotes; adapter.quote() does not escape. -#}
{% macro gh_ident(name) -%}
    "{{ name | replace('"', '""') }}"
{%- endmacro %}

{% macro gh_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}
