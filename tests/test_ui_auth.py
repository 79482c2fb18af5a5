"""The UI behind authentication, as `make dev AUTH=1` runs it: `greenhouse dev --auth` (nginx with basic
auth, the full webserver and a read-only one on loopback), in a real headless browser.

One stack for the whole module: no credentials get 401, a viewer sees the asset graph but no enabled
"Materialize" (Dagster's read-only UI greys it out; its GraphQL grants no launch, terminate or wipe),
an operator launches a run from the asset page. Credentials are made up here and reach the stack only through the
environment, as a deployment's would.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from e2e.stack import platform_under_dagster_dev

from greenhouse_assets import settings, webauth

ARTIFACTS = Path(__file__).parent / "artifacts"
NODE_MODULES = settings.PROJECT_ROOT / ".local" / "e2e" / "node_modules"
ASSET = "timeseries/variables"  # a dbt seed: the cheapest asset to launch
DESCRIPTION = "Canonical vocabulary from the source registry"  # shown once its page has loaded
PERMISSIONS = "{ permissions { permission value } }"
OPERATOR = ("op-erin", secrets.token_urlsafe(12))
VIEWER = ("view-vic", secrets.token_urlsafe(12))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Module-scoped: the platform database as conftest made it (nothing here needs it empty)."""
    state = tmp_path_factory.mktemp("ui-auth")
    env = {
        "GREENHOUSE_LOCAL_DIR": str(state),  # nginx's config, htpasswd and logs
        "GREENHOUSE_UI_OPERATOR_USER": OPERATOR[0],
        "GREENHOUSE_UI_OPERATOR_PASSWORD": OPERATOR[1],
        "GREENHOUSE_UI_VIEWER_USER": VIEWER[0],
        "GREENHOUSE_UI_VIEWER_PASSWORD": VIEWER[1],
    }
    log = state / "greenhouse-dev-auth.log"
    # Two webservers load the code location side by side: slower to answer than `dagster dev` alone.
    with platform_under_dagster_dev(os.environ["DATABASE_URL"], log, auth=OPERATOR, timeout=300, **env) as dagster:
        viewer = dagster.as_user(*VIEWER)
        deadline = time.monotonic() + 300
        while True:  # the read-only webserver loads the code location on its own
            try:
                viewer.graphql("{ version }")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"read-only webserver not answering through nginx:\n{dagster.log_tail()}")
                time.sleep(1)
        yield dagster


def launch_permissions(client) -> dict[str, bool]:
    return {
        p["permission"]: p["value"]
        for p in client.graphql(PERMISSIONS)["permissions"]
        if p["permission"] in ("launch_pipeline_execution", "terminate_pipeline_execution", "wipe_assets")
    }


def test_credentials_decide_which_ui(stack):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stack.url}/graphql", timeout=30)
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        stack.as_user(OPERATOR[0], VIEWER[1]).graphql("{ version }")
    assert wrong.value.code == 401, "the operator's name with another password"
    assert launch_permissions(stack) == dict.fromkeys(launch_permissions(stack), True) != {}
    viewer = launch_permissions(stack.as_user(*VIEWER))
    assert viewer and not any(viewer.values()), viewer


def test_in_a_browser(stack):
    if not NODE_MODULES.is_dir():
        pytest.fail(
            f"{NODE_MODULES} missing: run `make test` (its e2e prerequisite installs playwright-core and chromium)"
        )
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.time() - 5
    browser = subprocess.run(
        [
            "node",
            str(Path(__file__).parent / "e2e" / "ui_auth.js"),
            stack.url,
            str(ARTIFACTS / "ui_auth"),
            ":".join(VIEWER),
            ":".join(OPERATOR),
            ASSET,
            DESCRIPTION,
            "raw",
            "staging",
            "timeseries",
            "features",
            "moga",
        ],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert browser.returncode == 0, browser.stdout + browser.stderr + stack.log_tail()
    run_id = browser.stdout.split("launched run ", 1)[1].split()[0]
    launched = [r for r in stack.runs(started) if r["runId"] == run_id]
    assert len(launched) == 1 and launched[0]["assets"] == [ASSET], stack.runs(started)


def test_missing_or_clashing_credentials_are_refused_before_anything_starts():
    operator = {"GREENHOUSE_UI_OPERATOR_PASSWORD": "a", "GREENHOUSE_UI_VIEWER_PASSWORD": "b"}
    assert webauth.accounts_from_env(operator) == (webauth.Account("operator", "a"), webauth.Account("viewer", "b"))
    for env, message in [
        ({"GREENHOUSE_UI_OPERATOR_PASSWORD": "a"}, "set GREENHOUSE_UI_VIEWER_PASSWORD"),
        ({**operator, "GREENHOUSE_UI_VIEWER_USER": "operator"}, "both 'operator'"),
        ({**operator, "GREENHOUSE_UI_OPERATOR_USER": 'x" operator_ui; #'}, "letters, digits"),  # nginx.conf injection
    ]:
        with pytest.raises(webauth.AuthSetupError, match=message):
            webauth.accounts_from_env(env)
