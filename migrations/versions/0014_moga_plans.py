"""MOGA day-ahead plans and their backtest (issue 15).

`moga.plan_days`: one row per site, zone and planned UTC day: the recommended plan's expected cost
and photosynthesis with their bootstrap intervals, where the weather and the prices came from, the
model statuses it rests on. `moga.plans`: its 24 hours (setpoints, price, forecast), replaced with
the day (ON DELETE CASCADE). `moga.backtest`: per past zone-day, the modelled cost and
photosynthesis of what the grower ran and of the plan made the day before, both evaluated on the
day's measured weather and prices, so every summary figure can be recomputed from the rows.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-04
"""

from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE moga.plan_days (
    site text NOT NULL,
    zone text NOT NULL,
    day date NOT NULL,
    mode text NOT NULL CHECK (mode IN ('pareto', 'target')),
    crop text NOT NULL,
    cost_eur_m2 double precision NOT NULL,
    cost_low_eur_m2 double precision,
    cost_high_eur_m2 double precision,
    photosynthesis_g_m2 double precision NOT NULL,
    photosynthesis_low_g_m2 double precision,
    photosynthesis_high_g_m2 double precision,
    photosynthesis_target_g_m2 double precision,
    heat_kwh_m2 double precision NOT NULL,
    electricity_kwh_m2 double precision NOT NULL,
    co2_kg_m2 double precision NOT NULL,
    dli_mol_m2 double precision NOT NULL,
    lit_hours double precision NOT NULL,
    weather_source text NOT NULL,
    price_source text NOT NULL,
    model_statuses jsonb NOT NULL,
    bootstrap jsonb,
    csv_uri text,
    plot_uri text,
    dagster_run_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, zone, day)
);
COMMENT ON TABLE moga.plan_days IS 'day-ahead plan per site, zone and UTC day: expected cost and photosynthesis (bootstrap interval), inputs'' provenance';
COMMENT ON COLUMN moga.plan_days.weather_source IS 'forecast (the site''s *_forecast series) or persistence (the last measured day), per variable';
COMMENT ON COLUMN moga.plan_days.price_source IS 'spot (timeseries.site_electricity_prices + grid tariff) or flat (sites.yaml electricity price)';

CREATE TABLE moga.plans (
    site text NOT NULL,
    zone text NOT NULL,
    day date NOT NULL,
    hour smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    hour_utc timestamptz NOT NULL,
    lamp_level double precision NOT NULL,
    lit boolean NOT NULL,
    heating_setpoint double precision NOT NULL,
    expected_temperature double precision NOT NULL,
    ventilation_limit double precision NOT NULL,
    co2_setpoint double precision NOT NULL,
    electricity_price_eur_per_kwh double precision NOT NULL,
    outdoor_temperature_forecast double precision NOT NULL,
    radiation_forecast double precision NOT NULL,
    natural_ppfd double precision NOT NULL,
    ppfd double precision NOT NULL,
    PRIMARY KEY (site, zone, day, hour),
    FOREIGN KEY (site, zone, day) REFERENCES moga.plan_days (site, zone, day) ON DELETE CASCADE
);
COMMENT ON TABLE moga.plans IS 'the recommended 24-hour plan: one row per UTC hour';
COMMENT ON COLUMN moga.plans.lamp_level IS 'share of the installed lamp PPFD (0/1 for on/off lamps)';
COMMENT ON COLUMN moga.plans.heating_setpoint IS 'the hour''s heating setpoint: the day value in lit hours, the night value in dark hours, °C';
COMMENT ON COLUMN moga.plans.expected_temperature IS 'the air temperature the model expects: the setpoint, or above it when sun and lamps heat more than the house loses with the vents at the plan''s opening, °C';
COMMENT ON COLUMN moga.plans.ventilation_limit IS 'largest vent opening the climate computer may use, %';
COMMENT ON COLUMN moga.plans.radiation_forecast IS 'outside global radiation used for the hour, W/m²';

CREATE TABLE moga.backtest (
    site text NOT NULL,
    zone text NOT NULL,
    day date NOT NULL,
    actual_cost_eur_m2 double precision NOT NULL,
    actual_photosynthesis_g_m2 double precision NOT NULL,
    actual_electricity_kwh_m2 double precision NOT NULL,
    actual_lamp_hours double precision NOT NULL,
    plan_cost_eur_m2 double precision NOT NULL,
    plan_photosynthesis_g_m2 double precision NOT NULL,
    plan_electricity_kwh_m2 double precision NOT NULL,
    plan_lamp_hours double precision NOT NULL,
    weather_source text NOT NULL,
    price_source text NOT NULL,
    dagster_run_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, zone, day)
);
COMMENT ON TABLE moga.backtest IS 'what the grower ran vs the plan made the day before, both modelled on the day''s measured weather and prices';
COMMENT ON COLUMN moga.backtest.weather_source IS 'what the plan was made with: forecast or persistence (the evaluation always uses the measured weather)';
""")


def downgrade() -> None:
    op.execute("DROP TABLE moga.backtest; DROP TABLE moga.plans; DROP TABLE moga.plan_days;")
