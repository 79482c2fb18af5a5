"""Every received file version is its own partition, so a new file recomputes only what depends on it."""

import dagster as dg

file_versions = dg.DynamicPartitionsDefinition(name="file_versions")
