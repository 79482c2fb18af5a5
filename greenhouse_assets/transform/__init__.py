"""Plain helpers for the dbt transformation layer (no Dagster imports)."""
