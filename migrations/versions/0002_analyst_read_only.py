"""Analyst access: read every contract table and view, write nothing.

0001 grants SELECT on what exists and, by default privileges, on what the migrating role creates
later (dbt models and seeds, staging tables, when the pipeline runs as that role). This adds:
- the same default privilege for objects created by members of `greenhouse_writer` (a deployment
  whose pipeline logs in as its own role), where the migrating role may set it;
- SELECT on everything already in the layer schemas (objects created between the migrations);
- EXECUTE on `metadata.set_file_active` only for the pipeline (functions are PUBLIC by default);
- read-only transactions by default for the analyst in this database, a second fence behind the
  missing privileges (also no temporary tables).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMAS = "metadata, staging, timeseries, features, moga"
FUNCTION = "metadata.set_file_active(bigint, boolean)"

# ALTER DEFAULT PRIVILEGES FOR ROLE needs membership in that role (or superuser).
_FOR_WRITER = """
DO $$
BEGIN
    IF pg_has_role(current_user, 'greenhouse_writer', 'MEMBER') THEN
        EXECUTE 'ALTER DEFAULT PRIVILEGES FOR ROLE greenhouse_writer IN SCHEMA {schemas} {verb} SELECT ON TABLES {prep} greenhouse_analyst';
    END IF;
END
$$;
"""

_READ_ONLY = """
DO $$
BEGIN
    EXECUTE format('ALTER ROLE greenhouse_analyst IN DATABASE %I {action}', current_database());
END
$$;
"""


def upgrade() -> None:
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMAS} TO greenhouse_analyst")
    op.execute(_FOR_WRITER.format(schemas=SCHEMAS, verb="GRANT", prep="TO"))
    op.execute(f"REVOKE EXECUTE ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO greenhouse_writer")
    op.execute(_READ_ONLY.format(action="SET default_transaction_read_only = on"))


def downgrade() -> None:
    op.execute(_READ_ONLY.format(action="RESET default_transaction_read_only"))
    op.execute(f"REVOKE EXECUTE ON FUNCTION {FUNCTION} FROM greenhouse_writer")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO PUBLIC")
    op.execute(_FOR_WRITER.format(schemas=SCHEMAS, verb="REVOKE", prep="FROM"))
    # SELECT on objects that existed stays: 0001's grants and default privileges gave them anyway.
