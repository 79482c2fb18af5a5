"""`metadata.files.resolutions`: what the reader resolved by a registry rule in each file version.

Counts per file version of the values read by a rule rather than verbatim, e.g.
`{"nonexistent_local_times": 1, "ambiguous_local_times": 12, "other_decimal_marks": 40}`:
local times in a spring-forward gap (read per the rule's `nonexistent_time`), local times of the
repeated autumn hour (`ambiguous_time`), and numeric cells written with the decimal mark that is
not the file's own (`;`/tab files may use both). NULL for versions recorded before this column,
duplicates and quarantined files.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE metadata.files ADD COLUMN resolutions jsonb")
    op.execute(
        "COMMENT ON COLUMN metadata.files.resolutions IS 'Values the reader resolved by a registry rule: "
        "{nonexistent_local_times, ambiguous_local_times, other_decimal_marks} (counts).'"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE metadata.files DROP COLUMN resolutions")
