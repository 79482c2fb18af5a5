"""Data quality: Great Expectations suites on staged data (versioned JSON in `expectations/`), quality
scores (`scores.sql`), plots.

Plain library code; the Dagster checks and the `quality/quality_metrics` asset live in `defs/quality`.
"""
