"""MOGA: the overheating constraint is now in kelvin (floating air above the crop's maximum), and the
stored cost and growth stay per calendar day while crops with a development model are ranked per day
of development. Only column comments change: the values of older rows keep their old meaning
(W/m² heat surplus), which the comment says.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
COMMENT ON COLUMN moga.solutions.constraint_overheating IS 'warmest hour of the floating air (setpoint plus the sun and lamp surplus the vents carry away) minus the crop''s maximum day temperature, K; feasible when <= 0 (rows before revision 0010: largest hourly heat surplus, W/m²)';
COMMENT ON COLUMN moga.solutions.cost_eur_m2 IS 'cost of the day (heat + lamp electricity + CO2), EUR per m² floor per calendar day; crops with a development model are ranked on this divided by the day''s development rate (moga.runs.recommendations picks)';
""")


def downgrade() -> None:
    op.execute("""
COMMENT ON COLUMN moga.solutions.constraint_overheating IS 'largest hourly heat surplus (sun + lamps - losses at the setpoint and chosen vent opening), W/m²; feasible when <= 0';
COMMENT ON COLUMN moga.solutions.cost_eur_m2 IS 'the optimised objective: heat x heat price + electricity x electricity price + CO2 x CO2 price (sites.yaml), EUR per m² floor per day';
""")
