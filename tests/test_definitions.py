"""The loaded graph: what the registry wires into it, and a snapshot that makes graph changes visible.

The snapshot (`tests/snapshots/definitions.json`) lists every asset with its group, upstream assets
and checks (blocking or not), and every job, sensor and schedule. An intended change updates it with
`GREENHOUSE_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_definitions.py`, so the diff shows
in review beside the code that caused it; an unintended one fails here.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from greenhouse_assets import settings

pytestmark = pytest.mark.pure

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
MEASUREMENTS = "timeseries/measurements"

ROOFTOP = {
    "name": "rooftop",
    "site": "knudjepsen",
    "rules": [
        {
            "name": "rooftop_csv",
            "globs": ["Rooftop*.csv"],
            "timezone": "UTC",
            "zone": {"fixed": "roof"},
            "timestamp": {"columns": ["time"]},
            "columns": [{"match": "^temp$", "variable": "outdoor_temperature", "unit": "°C"}],
        }
    ],
}


def graph_of(defs) -> dict:
    """Assets (group, deps, checks), jobs, sensors and schedules of loaded definitions, as sorted JSON data."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "checks": sorted(f"{c.name}{' (blocking)' if graph.get(c).blocking else ''}" for c in node.check_keys),
        }
    repository = defs.get_repository_def()
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in repository.get_all_jobs() if not j.name.startswith("__")),
        "sensors": sorted(s.name for s in repository.sensor_defs),
        "schedules": sorted(s.name for s in repository.schedule_defs),
    }


def test_the_loaded_graph_matches_its_snapshot():
    from greenhouse_assets.definitions import defs

    current = json.dumps(graph_of(defs), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("GREENHOUSE_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    recorded = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    diff = "".join(
        difflib.unified_diff(recorded.splitlines(True), current.splitlines(True), "snapshot", "loaded definitions")
    )
    assert not diff, (
        "the asset graph changed; if intended, update the snapshot with "
        f"GREENHOUSE_UPDATE_SNAPSHOT=1 and commit it:\n{diff}"
    )


def test_a_source_added_to_the_registry_feeds_measurements_in_the_graph(tmp_path):
    """One edit to the registry: the new source's staging asset exists and is upstream of
    `timeseries/measurements` (lineage in the UI, and the automation guard waits on its checks); a
    source that maps no variable (spot prices) stays out of it."""
    raw = yaml.safe_load(settings.SOURCE_REGISTRY.read_text(encoding="utf-8"))
    raw["sources"].insert(0, ROOFTOP)
    registry = tmp_path / "sources.yaml"
    registry.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code = (
        "import json\nfrom greenhouse_assets.definitions import defs\nfrom test_definitions import graph_of\n"
        "print(json.dumps(graph_of(defs)['assets']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        env={**os.environ, "GREENHOUSE_SOURCE_REGISTRY": str(registry)},
    )
    assets = json.loads(out.stdout.strip().splitlines()[-1])

    assert "staging/raw_rooftop" in assets
    upstream = set(assets[MEASUREMENTS]["deps"])
    assert {"staging/raw_rooftop", "staging/raw_knudjepsen", "staging/raw_aarslev", "staging/raw_generic"} <= upstream
    assert "staging/raw_elspot" not in upstream
    assert "staging/raw_elspot" in assets["timeseries/electricity_prices"]["deps"]


def _job_facts(defs) -> dict:
    """What a run of `ingest_file` executes and records: ops, assets, checks (blocking), executor, tags, resources."""
    job = defs.resolve_job_def("ingest_file")
    graph = job.asset_layer.asset_graph
    selected = job.asset_layer.executable_asset_keys
    return {
        "ops": sorted(node.name for node in job.graph.nodes),
        "assets": sorted(k.to_user_string() for k in selected),
        "checks": sorted(
            f"{c.asset_key.to_user_string()}:{c.name}:{graph.get(c).blocking}"
            for c in graph.asset_check_keys
            if c.asset_key in selected
        ),
        "executor": job.executor_def.name,
        "partitions": job.partitions_def.name,
        "tags": job.tags,
        "resources": sorted({k for op in job.graph.node_defs for k in op.required_resource_keys}),
    }


def test_the_cli_ingest_job_is_the_code_locations():
    """`greenhouse ingest` loads only ingest_definitions.py: its job must run what the sensor's runs run."""
    from greenhouse_assets.definitions import defs
    from greenhouse_assets.ingest_definitions import defs as ingest_only

    facts = _job_facts(ingest_only)
    assert facts == _job_facts(defs)
    assert "staging_quality_checks" in facts["ops"] and any(":True" in c for c in facts["checks"])


def _last_line_printed_by(code: str) -> str:
    """A fresh interpreter's view: modules already imported by this test process do not count."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def test_the_cli_ingest_path_imports_neither_dbt_nor_great_expectations():
    """What `greenhouse ingest` imports before (and for) a run: no dagster-dbt, dbt, GX or scikit-learn
    (seconds of start-up each; tests/test_ingest.py runs the command through its checks), nor Celery,
    which only the Celery executor needs."""
    code = (
        "import sys\nfrom greenhouse_assets import cli\nfrom greenhouse_assets import in_process\n"
        "import greenhouse_assets.ingest_definitions\n"
        "from greenhouse_assets.defs.quality import checks\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster_dbt', 'dbt', 'great_expectations', "
        "'sklearn', 'tsfresh', 'celery', 'dagster_celery'}))"
    )
    assert _last_line_printed_by(code) == "[]"


def test_the_loads_arrow_work_imports_no_pandas():
    """The COPY's batches (staging._typed) and the load's profile of them (staged_profile) stay off
    pyarrow's conversions that import pandas (ingest/arrow_values.py): ≈ 0.25 s of `greenhouse ingest`."""
    code = (
        "import sys\nfrom datetime import UTC, datetime\nimport polars as pl\n"
        "from greenhouse_assets.ingest import staged_profile, staging\n"
        "t = pl.DataFrame({'_row_number': [2, 3, 4], 'time': [datetime(2020, 1, 1, tzinfo=UTC), None, "
        "datetime(2020, 1, 2, tzinfo=UTC)], 'x': [1.0, None, 2.5]}).to_arrow()\n"
        "profiler = staged_profile.Profiler(datetime.now(UTC))\n"
        "types = {'time': 'timestamptz', 'x': 'double precision'}\n"
        "for batch in staging._typed(iter([t.slice(0, 1), t.slice(1)]), types, 7):\n"
        "    profiler.add(batch)\n"
        "    assert batch.column('_file_id').to_pylist() == [7] * batch.num_rows\n"
        "profile = profiler.profile()\n"
        "print(profile.aggregates['rows_without_time'], profile.aggregates['first_row_without_time'], "
        "profile.strictly_one_way, 'pandas' in sys.modules)"
    )
    assert _last_line_printed_by(code) == "1 3 True False"


def test_the_cli_ingest_freezes_its_imports_out_of_the_collectors_scans():
    """`greenhouse ingest` imports with the cyclic collector off, then freezes what the imports built
    (cli.py `_ingest`): the collector is on again for the runs, and does not scan the ~250 000 imported
    objects (≈ 0.4 s of full collections otherwise)."""
    code = (
        "import argparse, gc\nimport greenhouse_assets.in_process as in_process\n"
        "in_process.ingest_paths = lambda paths, as_json: gc.get_freeze_count()\n"
        "from greenhouse_assets import cli\n"
        "frozen = cli._ingest(argparse.Namespace(paths=[], json=False))\n"
        "print(frozen > 100_000, gc.isenabled(), len(gc.get_objects()) < frozen / 5)"
    )
    assert _last_line_printed_by(code) == "True True True"
