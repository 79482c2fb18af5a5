"""Data quality: Great Expectations suites (versioned JSON in `expectations/`), quality scores, plots.

Plain library code; the Dagster checks and the `quality/quality_metrics` asset live in `defs/quality`.
"""
