"""MOGA: cost objective with separately priced heat, electricity and CO2; day/night temperature;
overheating and humidity constraints; hypervolume over several seeds.

`moga.solutions` gains the night temperature setpoint, the day's heat (boiler, kWh), lamp
electricity (kWh), dosed CO2 (kg) and cost (EUR, the optimised objective) per m² floor, and the
values of the overheating and humidity constraints. `energy_kwh_m2` stays: heat + electricity.
`moga.runs` gains the hypervolume of every seed (`hypervolume_seeds`), their spread
((max − min) / max) and the objective's name. Older rows keep NULL in the new columns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE moga.solutions
    ADD COLUMN temperature_night_setpoint double precision,
    ADD COLUMN heat_kwh_m2 double precision,
    ADD COLUMN electricity_kwh_m2 double precision,
    ADD COLUMN co2_kg_m2 double precision,
    ADD COLUMN cost_eur_m2 double precision,
    ADD COLUMN constraint_overheating double precision,
    ADD COLUMN constraint_humidity double precision;
COMMENT ON COLUMN moga.solutions.temperature_setpoint IS 'day (lit hours) air temperature setpoint, °C';
COMMENT ON COLUMN moga.solutions.temperature_night_setpoint IS 'night (dark hours) air temperature setpoint, °C';
COMMENT ON COLUMN moga.solutions.energy_kwh_m2 IS 'boiler heat + lamp electricity, kWh per m² floor per day (not the objective: see cost_eur_m2)';
COMMENT ON COLUMN moga.solutions.cost_eur_m2 IS 'the optimised objective: heat x heat price + electricity x electricity price + CO2 x CO2 price (sites.yaml), EUR per m² floor per day';
COMMENT ON COLUMN moga.solutions.constraint_overheating IS 'largest hourly heat surplus (sun + lamps - losses at the setpoint and chosen vent opening), W/m²; feasible when <= 0';
COMMENT ON COLUMN moga.solutions.constraint_humidity IS 'transpiration - (vented + condensed water) at the humidity setpoint, kg/m² per day; feasible when <= 0';
ALTER TABLE moga.runs
    ADD COLUMN hypervolume_seeds jsonb,
    ADD COLUMN hypervolume_spread double precision,
    ADD COLUMN objective text;
COMMENT ON COLUMN moga.runs.hypervolume_seeds IS 'hypervolume of each seed''s front, {"seed": hv}; the stored front is the best seed''s';
COMMENT ON COLUMN moga.runs.hypervolume_spread IS '(max - min) / max of hypervolume_seeds: how much the answer depends on the seed';
""")


def downgrade() -> None:
    op.execute("""
ALTER TABLE moga.runs DROP COLUMN objective, DROP COLUMN hypervolume_spread, DROP COLUMN hypervolume_seeds;
ALTER TABLE moga.solutions DROP COLUMN constraint_humidity, DROP COLUMN constraint_overheating, DROP COLUMN cost_eur_m2,
    DROP COLUMN co2_kg_m2, DROP COLUMN electricity_kwh_m2, DROP COLUMN heat_kwh_m2, DROP COLUMN temperature_night_setpoint;
COMMENT ON COLUMN moga.solutions.temperature_setpoint IS NULL;
COMMENT ON COLUMN moga.solutions.energy_kwh_m2 IS NULL;
""")
