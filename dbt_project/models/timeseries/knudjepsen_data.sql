{{ config(materialized='view') }}
-- depends_on: {{ ref('column_mappings') }}
{{ wide_view('knudjepsen') }}
