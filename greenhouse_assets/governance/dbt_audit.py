"""Who and which run, for the audit rows dbt writes itself (dbt_project/macros/audit.sql).

Each model and seed audits its write in a post-hook, inside the model's own transaction, so a model's
new contents and its audit row commit together or not at all; auditing afterwards from dbt's artifacts
(as before) left a window in which a crash kept the data and lost the row. The hook reads the actor and
the Dagster run id from session settings: libpq applies `PGOPTIONS` to every connection dbt opens, and
settings read at run time (unlike dbt vars) do not make dbt parse the project again for every run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from greenhouse_assets.governance import audit


def _option(name: str, value: str) -> str:
    """`-c name=value`, with spaces and backslashes escaped as libpq's options parser expects."""
    return f"-c {name}=" + re.sub(r"([\\\s])", r"\\\1", value)


@contextmanager
def audit_settings(context: dg.AssetExecutionContext) -> Iterator[None]:
    """While dbt is started: its connections carry this run's actor and id (`greenhouse.audit_*`)."""
    by = audit.writer(context)
    previous = os.environ.get("PGOPTIONS")
    options = [_option("greenhouse.audit_actor", by.actor), _option("greenhouse.audit_run_id", by.run_id or "")]
    os.environ["PGOPTIONS"] = " ".join([*([previous] if previous else []), *options])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = previous
