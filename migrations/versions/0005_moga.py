"""MOGA: honest model statuses and per-zone runs.

`moga.objective_models` gains the model's status (`validated` | `rejected` | `derived` |
`literature`), the reason, its skill against a monthly climatology, the number of out-of-fold
test days and the cross-validation scheme. `moga.runs` gains `status` (`optimised` | `skipped`),
the reason a zone was skipped, and `model_statuses` (what each recommendation rests on). A skipped
zone's run has no solutions and zero evaluations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE moga.objective_models
    ADD COLUMN status text NOT NULL DEFAULT 'rejected'
        CHECK (status IN ('validated', 'rejected', 'derived', 'literature')),
    ADD COLUMN reason text,
    ADD COLUMN skill_vs_climatology double precision,
    ADD COLUMN n_test_days integer,
    ADD COLUMN cv_scheme text;
COMMENT ON COLUMN moga.objective_models.status IS
    'validated: passed blocked CV, skill and plausibility; rejected: failed one (reason); derived: target computed from its own regressors; literature: published parameters, not validated';
COMMENT ON COLUMN moga.objective_models.skill_vs_climatology IS
    '1 - MSE_model / MSE_climatology over out-of-fold days; climatology = monthly mean of the training blocks';
ALTER TABLE moga.runs
    ADD COLUMN status text NOT NULL DEFAULT 'optimised' CHECK (status IN ('optimised', 'skipped')),
    ADD COLUMN reason text,
    ADD COLUMN model_statuses jsonb;
COMMENT ON COLUMN moga.runs.status IS 'optimised: a Pareto front is stored; skipped: the zone''s models did not pass (reason)';
""")


def downgrade() -> None:
    op.execute("""
ALTER TABLE moga.runs DROP COLUMN model_statuses, DROP COLUMN reason, DROP COLUMN status;
ALTER TABLE moga.objective_models DROP COLUMN cv_scheme, DROP COLUMN n_test_days, DROP COLUMN skill_vs_climatology,
    DROP COLUMN reason, DROP COLUMN status;
""")
