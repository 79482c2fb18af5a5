"""The dbt CLI resource, in a module of its own: a module with a `@dg.definitions` function
contributes only what that function returns, so it must not also hold the dbt assets.

`PlatformDbtCliResource` is dagster-dbt's resource with the dbt executable named (this interpreter's)
and its version read from the installed `dbt-core` package. dagster-dbt otherwise starts `dbt --version`
before every invocation (its cached value lives on a resource instance, and each run gets a new one):
a second dbt process start per build, 3 s of CPU and ~10 s of wall time on a loaded 2-core machine.
"""

import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from greenhouse_assets.transform.project import dbt_project

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")  # the one whose package version is read below


class PlatformDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))


@dg.definitions
def transform_resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"dbt": PlatformDbtCliResource(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)}
    )
