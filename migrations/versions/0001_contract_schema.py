"""Contract schema: layer schemas, file registry, timeseries hypertable, features, MOGA, roles.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LAYER_SCHEMAS = ("metadata", "staging", "timeseries", "features", "moga")

TABLES = """
CREATE TABLE metadata.schema_versions (
    schema_version_id serial PRIMARY KEY,
    source            text        NOT NULL,
    fingerprint       text        NOT NULL,
    columns           jsonb       NOT NULL,
    detection         jsonb       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, fingerprint)
);
COMMENT ON TABLE metadata.schema_versions IS 'One row per distinct file layout (columns + detected format) seen for a source.';

CREATE TABLE metadata.files (
    file_id           bigserial PRIMARY KEY,
    source            text        NOT NULL,
    path              text        NOT NULL,
    sha256            char(64)    NOT NULL,
    bytes             bigint      NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    loaded_at         timestamptz,
    status            text        NOT NULL CHECK (status IN ('received', 'loaded', 'duplicate', 'quarantined', 'deactivated')),
    error             text,
    error_detail      jsonb,
    rows_read         bigint,
    rows_staged       bigint,
    schema_version_id integer REFERENCES metadata.schema_versions,
    is_active         boolean     NOT NULL DEFAULT false,
    version           integer     NOT NULL DEFAULT 1,
    precedence        integer     NOT NULL DEFAULT 0,
    duplicate_of      bigint REFERENCES metadata.files,
    superseded_by     bigint REFERENCES metadata.files,
    raw_uri           text,
    parquet_uri       text,
    partition_key     text,
    run_id            text
);
COMMENT ON TABLE metadata.files IS 'One row per received file version: where it came from, its bytes, what happened to it.';
CREATE INDEX files_sha256_idx ON metadata.files (sha256);
CREATE INDEX files_path_idx ON metadata.files (source, path);
-- A content hash is loaded at most once; duplicates and quarantined copies are recorded beside it.
CREATE UNIQUE INDEX files_one_load_per_content ON metadata.files (sha256) WHERE status IN ('received', 'loaded', 'deactivated');

CREATE TABLE metadata.file_columns (
    file_id        bigint NOT NULL REFERENCES metadata.files ON DELETE CASCADE,
    staged_column  text   NOT NULL,
    original_name  text   NOT NULL,
    position       integer NOT NULL,
    unit           text,
    variable       text,
    canonical_unit text,
    site           text   NOT NULL,
    zone           text,  -- NULL for unmapped columns that name no zone (e.g. MortenSDU `End`)
    PRIMARY KEY (file_id, staged_column)
);
COMMENT ON TABLE metadata.file_columns IS 'Per file version: staged column -> canonical variable, unit, site and zone (from the source registry).';

CREATE TABLE metadata.schema_changes (
    change_id    bigserial PRIMARY KEY,
    source       text        NOT NULL,
    table_name   text        NOT NULL,
    column_name  text        NOT NULL,
    change       text        NOT NULL CHECK (change IN ('create_table', 'add_column', 'widen_type')),
    old_type     text,
    new_type     text,
    file_id      bigint REFERENCES metadata.files,
    changed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE metadata.quality_metrics (
    metric_id    bigserial PRIMARY KEY,
    file_id      bigint REFERENCES metadata.files,
    day          date,
    source       text,
    site         text,
    zone         text,
    variable     text,
    metric       text             NOT NULL,
    value        double precision,
    details      jsonb,
    computed_at  timestamptz      NOT NULL DEFAULT now(),
    run_id       text
);

CREATE TABLE metadata.lineage (
    edge_id      bigserial PRIMARY KEY,
    from_kind    text        NOT NULL,
    from_ref     text        NOT NULL,
    to_kind      text        NOT NULL,
    to_ref       text        NOT NULL,
    run_id       text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE metadata.audit_log (
    audit_id        bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text        NOT NULL,
    run_id          text,
    asset           text        NOT NULL,
    table_name      text,
    partition_key   text,
    operation       text        NOT NULL,
    rows_affected   bigint,
    input_file_ids  bigint[],
    details         jsonb
);
COMMENT ON TABLE metadata.audit_log IS 'Append-only: who wrote what, when, from which file versions.';

CREATE TABLE timeseries.measurements (
    time          timestamptz      NOT NULL,
    site          text             NOT NULL,
    zone          text             NOT NULL,
    variable      text             NOT NULL,
    value         double precision NOT NULL,
    unit          text             NOT NULL,
    file_id       bigint           NOT NULL,
    quality_flag  text             NOT NULL DEFAULT 'ok',
    CONSTRAINT measurements_key UNIQUE (time, site, zone, variable)
);
COMMENT ON TABLE timeseries.measurements IS 'Canonical long time series: UTC, SI units, one row per observed value.';
SELECT create_hypertable('timeseries.measurements', 'time', chunk_time_interval => interval '7 days');

CREATE TABLE features.windows (
    window_kind     text        NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    site            text        NOT NULL,
    zone            text        NOT NULL,
    variable        text        NOT NULL,
    n_points        integer     NOT NULL,
    coverage        double precision NOT NULL,
    longest_gap_s   double precision,
    status          text        NOT NULL CHECK (status IN ('computed', 'skipped')),
    imputed         boolean     NOT NULL DEFAULT false,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (window_kind, window_start, site, zone, variable)
);

CREATE TABLE features.extracted_features (
    window_kind    text             NOT NULL,
    window_start   timestamptz      NOT NULL,
    window_end     timestamptz      NOT NULL,
    site           text             NOT NULL,
    zone           text             NOT NULL,
    variable       text             NOT NULL,
    feature        text             NOT NULL,
    value          double precision,
    imputed        boolean          NOT NULL DEFAULT false,
    computed_at    timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT extracted_features_key UNIQUE (window_start, window_kind, site, zone, variable, feature)
);
SELECT create_hypertable('features.extracted_features', 'window_start', chunk_time_interval => interval '30 days');

CREATE TABLE features.feature_metadata (
    feature           text PRIMARY KEY,
    algorithm         text  NOT NULL,
    parameters        jsonb NOT NULL DEFAULT '{}',
    library_versions  jsonb NOT NULL DEFAULT '{}',
    window_spec       jsonb NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE features.feature_importance (
    target        text             NOT NULL,
    feature       text             NOT NULL,
    site          text             NOT NULL,
    zone          text             NOT NULL,
    p_value       double precision,
    relevant      boolean,
    importance    double precision,
    method        text             NOT NULL,
    data_version  text             NOT NULL,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (target, feature, site, zone, method)
);

CREATE TABLE moga.objective_models (
    model_version  text PRIMARY KEY,
    site           text             NOT NULL,
    zone           text             NOT NULL,
    objective      text             NOT NULL,
    kind           text             NOT NULL,
    parameters     jsonb            NOT NULL DEFAULT '{}',
    r2             double precision,
    mae            double precision,
    n_train        integer,
    n_test         integer,
    data_version   text,
    created_at     timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE moga.runs (
    moga_run_id      bigserial PRIMARY KEY,
    created_at       timestamptz NOT NULL DEFAULT now(),
    site             text        NOT NULL,
    zone             text        NOT NULL,
    horizon_start    timestamptz NOT NULL,
    horizon_end      timestamptz NOT NULL,
    algorithm        text        NOT NULL,
    seed             integer     NOT NULL,
    population       integer     NOT NULL,
    generations      integer     NOT NULL,
    evaluations      integer     NOT NULL,
    hypervolume      double precision,
    reference_point  jsonb,
    runtime_s        double precision,
    input_data_version text,
    model_versions   jsonb,
    recommendations  jsonb,
    plot_uri         text,
    dagster_run_id   text
);

CREATE TABLE moga.solutions (
    moga_run_id           bigint  NOT NULL REFERENCES moga.runs ON DELETE CASCADE,
    solution_index        integer NOT NULL,
    temperature_setpoint  double precision NOT NULL,
    humidity_setpoint     double precision NOT NULL,
    co2_setpoint          double precision NOT NULL,
    supplemental_light    double precision NOT NULL,
    photoperiod           double precision NOT NULL,
    ventilation           double precision NOT NULL,
    energy_kwh_m2         double precision NOT NULL,
    growth                double precision NOT NULL,
    vpd_kpa               double precision NOT NULL,
    dli_mol_m2            double precision NOT NULL,
    constraint_vpd        double precision NOT NULL,
    constraint_dli        double precision NOT NULL,
    rank                  integer NOT NULL,
    crowding_distance     double precision,
    PRIMARY KEY (moga_run_id, solution_index)
);
"""

# Activation is one SQL function so the staging load (ADBC) and rollback (psycopg) share it:
# a path has at most one active version, and staging rows carry their version's state.
ACTIVATION = """
CREATE FUNCTION metadata.set_file_active(target_id bigint, active boolean)
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
    IF to_regclass(format('staging.%I', staging_table)) IS NOT NULL THEN
        -- Rows are staged as 'loaded': a first activation rewrites nothing.
        EXECUTE format('UPDATE staging.%I SET _status = $1 WHERE _file_id = $2 AND _status <> $1',
                       staging_table)
            USING CASE WHEN active THEN 'loaded' ELSE 'deactivated' END, target_id;
    END IF;
    RETURN NEXT target_id;
END
$$;
"""

ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'greenhouse_writer') THEN
        CREATE ROLE greenhouse_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'greenhouse_analyst') THEN
        CREATE ROLE greenhouse_analyst LOGIN;
    END IF;
END
$$;
"""


def _grants() -> str:
    schemas = ", ".join(LAYER_SCHEMAS)
    statements = [
        f"GRANT USAGE ON SCHEMA {schemas} TO greenhouse_writer, greenhouse_analyst",
        f"GRANT CREATE ON SCHEMA {schemas} TO greenhouse_writer",
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {schemas} TO greenhouse_writer",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schemas} TO greenhouse_writer",
        # The audit trail is append-only for the pipeline.
        "REVOKE UPDATE, DELETE, TRUNCATE ON metadata.audit_log FROM greenhouse_writer",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schemas} TO greenhouse_analyst",
        # Tables that dbt and the staging loader create later are readable by analysts too.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT SELECT ON TABLES TO greenhouse_analyst",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO greenhouse_writer",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT USAGE ON SEQUENCES TO greenhouse_writer",
    ]
    return ";\n".join(statements) + ";"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    for schema in LAYER_SCHEMAS:
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    op.execute(TABLES)
    op.execute(ACTIVATION)
    op.execute(ROLES)
    op.execute(_grants())


def downgrade() -> None:
    # Roles are cluster-wide and may hold privileges in other databases: only drop what they own here.
    op.execute("DROP OWNED BY greenhouse_writer, greenhouse_analyst")
    for schema in reversed(LAYER_SCHEMAS):
        if schema == "metadata":
            # Alembic's own version table lives here; keep the schema, drop the contract tables.
            op.execute("DROP FUNCTION IF EXISTS metadata.set_file_active(bigint, boolean)")
            for table in (
                "audit_log",
                "lineage",
                "quality_metrics",
                "schema_changes",
                "file_columns",
                "files",
                "schema_versions",
            ):
                op.execute(f"DROP TABLE IF EXISTS metadata.{table} CASCADE")
        else:
            op.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
