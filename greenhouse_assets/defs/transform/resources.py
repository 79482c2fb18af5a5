"""The dbt CLI resource, in a module of its own: a module with a `@dg.definitions` function
contributes only what that function returns, so it must not also hold the dbt assets."""

import dagster as dg
from dagster_dbt import DbtCliResource

from greenhouse_assets.transform.project import dbt_project


@dg.definitions
def transform_resources() -> dg.Definitions:
    return dg.Definitions(resources={"dbt": DbtCliResource(project_dir=dbt_project())})
