"""Incremental backtest and stated interval sources (issue 15).

`moga.backtest.inputs_fingerprint`: a digest of everything a row was computed from (the day's
forecast and measured weather, prices, the grower's climate, crop limits, the energy and light
parameters, the optimiser settings and the model code), so `moga/backtest` re-optimises only the
days whose inputs changed. A day on which no plan met the constraints is kept with its reason
(`no_plan_reason`, plan columns NULL), so it is not retried while its inputs stay the same.

`moga.plan_days.interval_sources`: which sources of uncertainty the cost and photosynthesis
intervals cover (parameter bootstrap, forecast or persistence error).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PLAN_COLUMNS = ("plan_cost_eur_m2", "plan_photosynthesis_g_m2", "plan_electricity_kwh_m2", "plan_lamp_hours")


def upgrade() -> None:
    op.execute(
        "ALTER TABLE moga.backtest ADD COLUMN inputs_fingerprint text, ADD COLUMN no_plan_reason text, "
        + ", ".join(f"ALTER COLUMN {c} DROP NOT NULL" for c in PLAN_COLUMNS)
        + ", ADD CONSTRAINT backtest_plan_or_reason CHECK ((plan_cost_eur_m2 IS NULL) = "
        "(no_plan_reason IS NOT NULL))"
    )
    op.execute("""
COMMENT ON COLUMN moga.backtest.inputs_fingerprint IS 'sha256 of the row''s inputs (weather, prices, grower climate, crop limits, model parameters, optimiser settings, model code): the row is recomputed only when it changes';
COMMENT ON COLUMN moga.backtest.no_plan_reason IS 'why the planner had no feasible plan for the day (plan columns NULL)';
ALTER TABLE moga.plan_days ADD COLUMN interval_sources text;
COMMENT ON COLUMN moga.plan_days.interval_sources IS 'the sources of uncertainty the cost and photosynthesis intervals cover, or why there is no interval';
""")


def downgrade() -> None:
    op.execute("DELETE FROM moga.backtest WHERE plan_cost_eur_m2 IS NULL")
    op.execute("ALTER TABLE moga.plan_days DROP COLUMN interval_sources")
    op.execute(
        "ALTER TABLE moga.backtest DROP CONSTRAINT backtest_plan_or_reason, DROP COLUMN no_plan_reason, "
        "DROP COLUMN inputs_fingerprint, " + ", ".join(f"ALTER COLUMN {c} SET NOT NULL" for c in PLAN_COLUMNS)
    )
