"""Governance: who wrote what (audit), where data came from (lineage, OpenLineage), how fresh it is,
who hears about failures (alerts), and which values may not be stored in clear (pseudonymisation).

The modules here are plain Python called from the assets and from `defs/governance` (sensors and
resources), so the rules live in one place and the assets only make one call each.
"""
