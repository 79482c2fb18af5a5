{#- Hourly spot prices per price area from staging.raw_elspot (Energi Data Service `Elspotprices`
    files); see electricity_prices.yml. A small table rebuilt whole on every run, then made a
    hypertable with its unique key (left unnamed: the previous table, renamed aside until the
    commit, still holds its index name). Until a price file was loaded there is no staging table:
    the model is then empty, with the same columns. -#}
{%- set staged = load_relation(source('staging', 'raw_elspot')) if execute else none -%}
{%- set present = adapter.get_columns_in_relation(staged) | map(attribute='name') | list
    if staged is not none else [] -%}
{%- set ready = staged is not none
    and 'PriceArea' in present and 'SpotPriceDKK' in present and 'SpotPriceEUR' in present -%}
{{ config(
    materialized='table',
    post_hook=[
        "alter table {{ this }} add unique (hour_utc, price_area)",
        "select create_hypertable('{{ this }}', 'hour_utc', chunk_time_interval => interval '365 days', migrate_data => true)",
    ],
) }}
-- depends_on: {{ source('metadata', 'files') }}
-- depends_on: {{ source('staging', 'raw_elspot') }}

{% if ready -%}
with staged as (
    select s.time as hour_utc, trim(s."PriceArea") as price_area,
        s."SpotPriceDKK"::float8 as price_dkk_per_mwh, s."SpotPriceEUR"::float8 as price_eur_per_mwh,
        s._file_id as file_id, s._row_number as row_number
    from {{ source('staging', 'raw_elspot') }} s
    join {{ source('metadata', 'files') }} f on s._file_id = f.file_id
    -- Active, loaded versions only: a deactivated (rolled back or superseded) version's rows drop out.
    where f.is_active and f.status = 'loaded'
      and s.time is not null
      and nullif(trim(s."PriceArea"), '') is not null
      -- No row for an hour without a price (as measurements keeps no row for a missing value).
      and (s."SpotPriceDKK" is not null or s."SpotPriceEUR" is not null)
)

-- One row per (hour, area): the newest file version wins (higher file_id), then its later row.
select distinct on (hour_utc, price_area)
    hour_utc, price_area, price_dkk_per_mwh, price_eur_per_mwh, file_id
from staged
order by hour_utc, price_area, file_id desc, row_number desc
{%- else -%}
select null::timestamptz as hour_utc, null::text as price_area, null::float8 as price_dkk_per_mwh,
    null::float8 as price_eur_per_mwh, null::bigint as file_id
where false
{%- endif %}
