{#- Weather forecast against what was later measured, per site, zone, variable and UTC day; see
    forecast_errors.yml. Pairs come from the vocabulary: `<variable>_forecast` is the forecast of
    `<variable>` (outdoor_temperature_forecast / outdoor_temperature, radiation_forecast / radiation). -#}
{{ config(materialized='table') }}

with pairs as (
    select f.variable as forecast_variable, m.variable
    from {{ ref('variables') }} f
    join {{ ref('variables') }} m on f.variable = m.variable || '_forecast'
),

-- Hourly means in UTC hours (time_bucket is UTC), so a 10-minute measurement and an hourly forecast
-- meet on the same hour. Invalid values (sentinel, logger_reset, out_of_range) are left out;
-- statistical anomalies are real readings and count.
hourly as (
    select m.site, m.zone, m.variable, time_bucket(interval '1 hour', m.time) as hour, avg(m.value) as value
    from {{ ref('measurements') }} m
    where m.quality_flag in ('ok', 'anomaly')
      and m.variable in (
          select p.variable from pairs p
          union all
          select p.forecast_variable from pairs p
      )
    group by 1, 2, 3, 4
),

errors as (
    select f.site, f.zone, p.variable, p.forecast_variable, f.hour, f.value - m.value as error
    from pairs p
    join hourly f on p.forecast_variable = f.variable
    join hourly m on f.site = m.site and f.zone = m.zone and p.variable = m.variable and f.hour = m.hour
)

select site, zone, variable, forecast_variable, (hour at time zone 'UTC')::date as day_utc,
    avg(error) as mean_error, avg(abs(error)) as mean_absolute_error, count(*)::int as n_hours
from errors
group by 1, 2, 3, 4, 5
