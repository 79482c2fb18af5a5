{{ config(materialized='view') }}
-- Each site's hourly spot price: its price area from sites.yaml (seed `site_price_areas`).
select a.site, p.hour_utc, p.price_area, p.price_dkk_per_mwh, p.price_eur_per_mwh, p.file_id
from {{ ref('site_price_areas') }} a
join {{ ref('electricity_prices') }} p using (price_area)
