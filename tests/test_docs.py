"""`make docs`: dbt's data dictionary builds against the platform database and describes every column."""

import json
import subprocess
import sys

from greenhouse_assets import settings


def test_docs_describe_every_model_and_column(clean_platform):
    completed = subprocess.run([sys.executable, "-m", "greenhouse_assets.cli", "docs"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {m["name"] for m in models} >= {"measurements", "aarslev_data", "knudjepsen_data"}
    for model in models:
        assert model["description"], model["name"]
        assert model["columns"], model["name"]
        assert all(column["description"] for column in model["columns"].values()), model["name"]
    assert (settings.DBT_PROJECT_DIR / "target" / "index.html").is_file()
