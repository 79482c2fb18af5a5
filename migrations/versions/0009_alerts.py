"""Alerts that went out (or could not): one row per alert, keyed by a stable dedup key.

The alert sensors record every alert here before they deliver it and mark it `sent` (or `failed`,
with the number of attempts and the last error) after; a key already `sent` is never sent again, so
a sensor tick that fails half-way, a lost sensor cursor or a re-read event repeats nothing. Rows
still `pending` or `failed` are delivered again by the next alert sensor tick.

Dedup keys: `run_failure:<run id>`, `check:<event storage id of the evaluation>`,
`freshness:<asset>:<state>:<last update, epoch s or 'never'>`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE metadata.alerts (
    alert_id    bigserial PRIMARY KEY,
    dedup_key   text NOT NULL UNIQUE,
    kind        text NOT NULL,
    text        text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    notifier    text,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX alerts_unsent ON metadata.alerts (alert_id) WHERE status <> 'sent';
COMMENT ON TABLE metadata.alerts IS
    'Every alert the alert sensors raised: what was sent, when, after how many attempts. A dedup_key already sent is never sent again.';
COMMENT ON COLUMN metadata.alerts.dedup_key IS
    'Stable key of the event: run_failure:<run id>, check:<evaluation event id>, freshness:<asset>:<state>:<last update>.';
COMMENT ON COLUMN metadata.alerts.status IS 'pending (recorded, not yet delivered), sent, failed (every attempt of the last delivery failed; retried by the next tick).';
COMMENT ON COLUMN metadata.alerts.attempts IS 'Delivery attempts so far, over all ticks.';
""")


def downgrade() -> None:
    op.execute("DROP TABLE metadata.alerts")
