"""Roles by duty: the pipeline owns the schemas it builds, may only write data elsewhere, and only
append to the audit trail.

The roles themselves are cluster-wide and made by the administrator before migrations run
(greenhouse_assets/roles.py); this gives them their places in this database:
- `greenhouse_pipeline` owns `staging` and `timeseries` and everything in them: the loader creates
  and widens staging tables, dbt creates and replaces its models and seeds, and the `measurements`
  model truncates, re-indexes and comments on the hypertable. Everywhere else it has DML only
  (through `greenhouse_writer`): no CREATE on `metadata`, `features` or `moga`, no TRUNCATE, and on
  `metadata.audit_log` and `metadata.lineage` only SELECT and INSERT.
- Tables the migrations (the owner) create later get the same privileges by default; tables the
  pipeline creates are readable by the analyst.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PIPELINE = "greenhouse_pipeline"
OWNED_BY_PIPELINE = ("staging", "timeseries")
DML_ONLY = ("metadata", "features", "moga")
APPEND_ONLY = ("metadata.audit_log", "metadata.lineage")

_REQUIRE_ROLES = """
DO $$
BEGIN
    IF (SELECT count(*) FROM pg_roles WHERE rolname IN ('greenhouse_owner', 'greenhouse_pipeline',
                                                        'greenhouse_analyst', 'greenhouse_writer')) < 4 THEN
        RAISE EXCEPTION 'the platform roles do not exist on this cluster'
            USING HINT = 'run `greenhouse db up` (with GREENHOUSE_ADMIN_URL for a server of your own) as the '
                         'cluster administrator first: it creates them';
    END IF;
END
$$;
"""

# Every relation in a schema to `new_owner` (a hypertable's chunks follow it; a column's sequence its table).
_HAND_OVER = """
DO $$
DECLARE
    r record;
BEGIN
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', '{schema}', '{owner}');
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = '{schema}' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
               AND c.relowner <> '{owner}'::regrole
               AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                    AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %I.%I OWNER TO %I',
                       CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                      WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       '{schema}', r.relname, '{owner}');
    END LOOP;
END
$$;
"""


def upgrade() -> None:
    op.execute(_REQUIRE_ROLES)
    for schema in OWNED_BY_PIPELINE:
        op.execute(_HAND_OVER.format(schema=schema, owner=PIPELINE))
        op.execute(f"REVOKE CREATE ON SCHEMA {schema} FROM greenhouse_writer")
        op.execute(f"GRANT USAGE ON SCHEMA {schema} TO greenhouse_analyst")
        op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO greenhouse_analyst")
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {PIPELINE} IN SCHEMA {schema} "
            "GRANT SELECT ON TABLES TO greenhouse_analyst"
        )
    schemas = ", ".join(DML_ONLY)
    op.execute(f"REVOKE CREATE ON SCHEMA {schemas} FROM greenhouse_writer")
    op.execute(f"REVOKE TRUNCATE ON ALL TABLES IN SCHEMA {schemas} FROM greenhouse_writer")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {', '.join(APPEND_ONLY)} FROM greenhouse_writer")
    # For tables later migrations create (run as the owner): DML for the pipeline, SELECT for analysts.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} REVOKE TRUNCATE ON TABLES FROM greenhouse_writer")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO greenhouse_writer"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT USAGE ON SEQUENCES TO greenhouse_writer")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT SELECT ON TABLES TO greenhouse_analyst")


def downgrade() -> None:
    schemas = ", ".join(DML_ONLY)
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT TRUNCATE ON TABLES TO greenhouse_writer")
    op.execute("GRANT UPDATE, DELETE, TRUNCATE ON metadata.lineage TO greenhouse_writer")
    op.execute(f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA {schemas} TO greenhouse_writer")
    op.execute("REVOKE TRUNCATE ON metadata.audit_log FROM greenhouse_writer")
    op.execute(f"GRANT CREATE ON SCHEMA {schemas} TO greenhouse_writer")
    for schema in OWNED_BY_PIPELINE:
        op.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {PIPELINE} IN SCHEMA {schema} "
            "REVOKE SELECT ON TABLES FROM greenhouse_analyst"
        )
        op.execute(_HAND_OVER.format(schema=schema, owner="greenhouse_owner"))
        op.execute(f"GRANT CREATE ON SCHEMA {schema} TO greenhouse_writer")
