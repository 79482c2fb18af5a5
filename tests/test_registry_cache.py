"""The source registry and pint's unit definitions are parsed once per process, and re-read when they change."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from greenhouse_assets import settings
from greenhouse_assets.ingest.registry import SourceRegistry

pytestmark = pytest.mark.pure  # no database


def test_the_registry_is_parsed_once_and_again_after_an_edit(tmp_path):
    path = tmp_path / "sources.yaml"
    raw = yaml.safe_load(settings.SOURCE_REGISTRY.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    first = SourceRegistry.load(path)
    assert SourceRegistry.load(path) is first

    raw["sources"][0]["site"] = raw["sources"][0]["site"] + "_edited"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    edited = SourceRegistry.load(path)
    assert edited is not first and edited.sources[0].site.endswith("_edited")


def test_pint_definitions_cached_by_one_process_serve_the_next_alike(tmp_path):
    code = (
        "import json\nfrom greenhouse_assets.ingest import units\n"
        "print(json.dumps([(l.scale, l.offset) for l in (units.convert('°F', '°C'), units.convert('%', 'ppm'),"
        " units.convert('W/cm^2', 'W/m²'))]))"
    )
    env = {**os.environ, "GREENHOUSE_LOCAL_DIR": str(tmp_path)}

    def conversions() -> list:
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    uncached = conversions()  # parses pint's definitions and fills the cache
    cached_folders = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("pint-")]
    assert len(cached_folders) == 1 and any(cached_folders[0].iterdir())
    assert conversions() == uncached == [[5 / 9, -160 / 9], [10_000, 0], [10_000, 0]]


def test_units_worked_out_by_one_process_serve_the_next_without_pint(tmp_path):
    """The registry's units are validated with pint once; the next process (each `greenhouse ingest`) reads
    the results, imports no pint, and converts exactly alike; a label pint cannot read still fails."""
    code = (
        "import json, sys\nfrom greenhouse_assets.ingest import units\n"
        "from greenhouse_assets.ingest.registry import SourceRegistry\n"
        "SourceRegistry.load()\n"
        "result = [(l.scale, l.offset) for l in (units.convert('°F', '°C'), units.convert('%', 'ppm'))]\n"
        "print(json.dumps({'pint': 'pint' in sys.modules, 'result': result}))"
    )
    env = {**os.environ, "GREENHOUSE_LOCAL_DIR": str(tmp_path)}

    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert first["pint"] and not second["pint"]
    assert first["result"] == second["result"] == [[5 / 9, -160 / 9], [10_000, 0]]
    failing = "from greenhouse_assets.ingest import units\ntry:\n    units.check('furlongs per glorp')\nexcept units.UnitError as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", failing], env=env, check=True, capture_output=True, text=True)
    assert "is not a unit pint can read" in out.stdout


def test_units_learned_in_a_registry_load_are_written_once_and_replace_stale_files(tmp_path):
    """Validating the registry works out dozens of units; the results file is written once for them all,
    and a file for another pint or another version of the units code (never read again) is removed."""
    stale = tmp_path / "cache" / "units-0.0-0000000000000000.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    code = (
        "import json, os\nfrom greenhouse_assets.ingest import units\n"
        "from greenhouse_assets.ingest.registry import SourceRegistry\n"
        "writes = []\nreplace = os.replace\n"
        "def counting(src, dst):\n    writes.append(os.path.basename(dst))\n    replace(src, dst)\n"
        "os.replace = counting\n"
        "SourceRegistry.load()\n"
        "print(json.dumps({'writes': writes, 'known': len(units._known())}))"
    )
    env = {**os.environ, "GREENHOUSE_LOCAL_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    files = sorted(p.name for p in (tmp_path / "cache").glob("units-*.json"))
    assert result["known"] > 1 and len(result["writes"]) == 1
    assert files == result["writes"] and not stale.exists()
    assert len(json.loads((tmp_path / "cache" / files[0]).read_text(encoding="utf-8"))) == result["known"]
