"""`metadata.set_file_active`: a first activation no longer re-reads the version's staged rows.

The staging load writes every row as `loaded` and then activates the version in the same
transaction; 0001's function still visited each of those rows to confirm `_status` (a full index
scan of the file, about a third of a second per million rows, inside the load's transaction). A
version still `received` has only rows staged that way, so its activation skips them; activating a
deactivated version (rollback) and deactivating anything rewrite `_status` as before. Same
signature: `CREATE OR REPLACE` keeps 0002's EXECUTE grants.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION metadata.set_file_active(target_id bigint, active boolean)
RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
    target metadata.files;
    changed bigint;
    staging_table text;
BEGIN
    SELECT * INTO target FROM metadata.files WHERE file_id = target_id FOR UPDATE;
    IF NOT FOUND OR target.status NOT IN ('received', 'loaded', 'deactivated') THEN
        RAISE EXCEPTION 'file % is not a loaded file version', target_id;
    END IF;
    staging_table := 'raw_' || target.source;
    IF active THEN
        FOR changed IN
            UPDATE metadata.files SET is_active = false, status = 'deactivated', superseded_by = target_id
            WHERE source = target.source AND path = target.path AND is_active AND file_id <> target_id
            RETURNING file_id
        LOOP
            IF to_regclass(format('staging.%I', staging_table)) IS NOT NULL THEN
                EXECUTE format('UPDATE staging.%I SET _status = $1 WHERE _file_id = $2 AND _status <> $1',
                               staging_table)
                    USING 'deactivated', changed;
            END IF;
            RETURN NEXT changed;
        END LOOP;
    END IF;
    UPDATE metadata.files
       SET is_active = active, status = CASE WHEN active THEN 'loaded' ELSE 'deactivated' END
     WHERE file_id = target_id;
    -- {skip}
    IF {condition} AND to_regclass(format('staging.%I', staging_table)) IS NOT NULL THEN
        EXECUTE format('UPDATE staging.%I SET _status = $1 WHERE _file_id = $2 AND _status <> $1',
                       staging_table)
            USING CASE WHEN active THEN 'loaded' ELSE 'deactivated' END, target_id;
    END IF;
    RETURN NEXT target_id;
END
$$;
"""


def upgrade() -> None:
    op.execute(
        _FUNCTION.format(
            skip="A received version's rows were all just staged as 'loaded': its first activation rewrites none.",
            condition="NOT (active AND target.status = 'received')",
        )
    )


def downgrade() -> None:
    op.execute(
        _FUNCTION.format(skip="Rows are staged as 'loaded': a first activation rewrites nothing.", condition="true")
    )
