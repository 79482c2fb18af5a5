"""The layering the folders promise, checked on the source (imports parsed with `ast`, nothing imported).

Bottom to top: the domain modules of `greenhouse_assets` (ingest, features, moga, quality, governance,
transform, settings, ...) → `greenhouse_assets/defs/` (the Dagster definitions) → `definitions.py` (the code
location, and `ingest_definitions.py`, the ingest job alone for the CLI) → the entry points that run the
platform's jobs (`cli.py`, `in_process.py`, `celery_workers.py`: the Celery app). Developer tooling,
`greenhouse_dev/`, sits beside all of it and stays out of the image. A lower layer never imports a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "greenhouse_assets"
DEFS = RUNTIME / "defs"
DEFINITIONS = RUNTIME / "definitions.py"
CODE_LOCATIONS = {DEFINITIONS, RUNTIME / "ingest_definitions.py"}
ENTRY_POINTS = {RUNTIME / "cli.py", RUNTIME / "in_process.py", RUNTIME / "celery_workers.py"}
UPPER = ("greenhouse_assets.defs", "greenhouse_assets.definitions")


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, anywhere in it (function-level imports too), as absolute names."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imports_of(path: Path, prefixes: tuple[str, ...]) -> set[str]:
    return {name for name in imported_modules(path) if any(name == p or name.startswith(p + ".") for p in prefixes)}


def runtime_files() -> list[Path]:
    return sorted(RUNTIME.rglob("*.py"))


def test_the_runtime_never_imports_developer_tooling():
    offenders = {
        str(p.relative_to(ROOT)): sorted(found)
        for p in runtime_files()
        if (found := imports_of(p, ("greenhouse_dev",)))
    }
    assert not offenders, f"greenhouse_assets imports greenhouse_dev: {offenders}"


def test_only_defs_the_code_location_and_the_entry_points_import_defs():
    allowed = {*CODE_LOCATIONS, *ENTRY_POINTS}
    offenders = {
        str(p.relative_to(ROOT)): sorted(found)
        for p in runtime_files()
        if p not in allowed and DEFS not in p.parents and (found := imports_of(p, UPPER))
    }
    assert not offenders, f"domain code imports up into the Dagster definitions: {offenders}"


def test_defs_never_import_the_code_location_or_the_entry_points():
    upper = ("greenhouse_assets.definitions", "greenhouse_assets.cli", "greenhouse_assets.in_process")
    offenders = {
        str(p.relative_to(ROOT)): sorted(found) for p in sorted(DEFS.rglob("*.py")) if (found := imports_of(p, upper))
    }
    assert not offenders, f"defs/ imports what loads it: {offenders}"


def test_the_image_gets_no_developer_tooling():
    """The Dockerfile copies named folders (never the whole context), none of them tooling or tests; and
    .dockerignore keeps tooling out of the build context anyway."""
    copied = [line.split()[1:-1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")]
    sources = {source for sources in copied for source in sources}
    assert sources and not sources & {".", "greenhouse_dev", "tests", "bench"}, sources
    ignored = {line.strip().strip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {"greenhouse_dev", "tests", "bench", ".local", ".venv"} <= ignored


def test_the_checker_sees_imports_at_any_depth(tmp_path):
    """A function-level import counts (the upward import this replaced was one), and a relative one too."""
    module = tmp_path / "greenhouse_assets" / "ingest" / "probe.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def f():\n    from greenhouse_assets.defs.ingest.raw import RAW_FILES\n    from . import names\n"
    )
    found = imported_modules(module, root=tmp_path)
    assert {"greenhouse_assets.defs.ingest.raw", "greenhouse_assets.ingest.names"} <= found


def commands(parser) -> dict[str, list[str]]:
    """Sub-command names, each with the choices of its first positional argument (e.g. db's actions)."""
    sub = next(a for a in parser._actions if a.dest == "command")
    return {
        name: next((list(a.choices) for a in p._actions if a.choices and not a.option_strings), [])
        for name, p in sub.choices.items()
    }


def test_the_runtime_cli_runs_the_platform_and_the_dev_cli_adds_the_tooling():
    from greenhouse_assets import cli
    from greenhouse_dev import cli as dev_cli

    runtime, dev = commands(cli.build_parser()), commands(dev_cli.build_parser())
    assert set(runtime) == {"db", "migrate", "ingest", "docs", "files", "rollback", "ui-proxy"}
    assert runtime["db"] == ["up", "status", "url"]  # prepares a server; never starts or stops one
    assert set(dev) - set(runtime) == {"generate-sample", "run", "dev"}
    assert dev["db"] == ["up", "stop", "status", "url", "standby", "promote"]
