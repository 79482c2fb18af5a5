"""A file version a blocking check failed is kept out of the time series, not the whole source.

`metadata.files` gets `excluded_by_check` (the check's name), `exclusion_reason` (what it found)
and `excluded_at`. The staging check writes them when it fails with ERROR and clears them when it
passes again; the `measurements` model reads only active, loaded versions that are not excluded.
The version stays `loaded` and its rows stay staged, so a fix (re-running the check or the staging
partition) or a re-landed fixed file lets it flow on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE metadata.files
    ADD COLUMN excluded_by_check text,
    ADD COLUMN exclusion_reason  text,
    ADD COLUMN excluded_at       timestamptz;
COMMENT ON COLUMN metadata.files.excluded_by_check IS
    'The blocking staging check that failed for this version: its rows stay staged but do not reach timeseries.measurements. NULL: not excluded.';
COMMENT ON COLUMN metadata.files.exclusion_reason IS 'What the failing check found (e.g. times before 1990).';
COMMENT ON COLUMN metadata.files.excluded_at IS 'When the check excluded the version.';
""")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE metadata.files DROP COLUMN excluded_by_check, DROP COLUMN exclusion_reason,"
        " DROP COLUMN excluded_at"
    )
