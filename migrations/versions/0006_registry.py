"""`metadata.file_columns`: the controller point, stream UUID and per-column unit conversion.

The loader now resolves each mapped column's unit itself (the file's declared unit checked against
the registry with pint): `scale`/`offset` turn the staged value into the canonical unit
(`value * scale + offset`) and `unit_note` says how that was decided (declared and converted, not
declared, or declared wrongly and ignored by the registry). The dbt model prefers these over the
`unit_conversions` seed, which stays the fallback for versions registered before this migration
(NULL scale). `point` (header row 2 of name / point / unit) and `uuid` (sMAP stream) record what
told a column apart from others named alike; `registry_unit` the unit the registry says the
values are in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("point", "text", "Controller point of the column (header row 2 of name / point / unit), if the file has one."),
    ("uuid", "text", "sMAP stream UUID, if the column is a stream that has one."),
    ("registry_unit", "text", "Unit the source registry says the values are in (mapped columns)."),
    (
        "scale",
        "double precision",
        "value_canonical = value * scale + offset (mapped columns; NULL: use the unit_conversions seed).",
    ),
    ('"offset"', "double precision", "See scale."),
    (
        "unit_note",
        "text",
        "How the unit was resolved: declared and converted, not declared, or declared wrongly and ignored.",
    ),
)


def upgrade() -> None:
    for name, sql_type, comment in _COLUMNS:
        op.execute(f"ALTER TABLE metadata.file_columns ADD COLUMN IF NOT EXISTS {name} {sql_type}")
        op.execute(f"COMMENT ON COLUMN metadata.file_columns.{name} IS '{comment}'")


def downgrade() -> None:
    for name, _sql_type, _comment in _COLUMNS:
        op.execute(f"ALTER TABLE metadata.file_columns DROP COLUMN IF EXISTS {name}")
