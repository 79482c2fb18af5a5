"""Feature extraction from TimescaleDB: curated tsfresh features (vectorised) and greenhouse domain features."""
