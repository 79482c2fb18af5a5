"""deploy/helm/values.yaml (Dagster's Helm chart) runs what docker-compose.yml runs: the same code location
module, the same environment variables (secrets from a Secret), the K8s run launcher and step Jobs."""

from __future__ import annotations

import re

import pytest
import yaml

from greenhouse_assets import settings

pytestmark = pytest.mark.pure  # no database

COMPOSE_DEFAULT = re.compile(r"^\$\{(\w+):-(.*)\}$")  # ${NAME:-default}: the chart sets the default
COMPOSE_REQUIRED = re.compile(r"\$\{\w+:\?")  # ${NAME:?...}, a password or key: the `greenhouse-env` Secret


def test_helm_values_match_compose_environment_and_use_the_k8s_launcher_and_step_jobs():
    compose = yaml.safe_load((settings.PROJECT_ROOT / "docker-compose.yml").read_text())
    values = yaml.safe_load((settings.PROJECT_ROOT / "deploy" / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    platform = {
        name: COMPOSE_DEFAULT.sub(r"\2", value)
        for name, value in compose["x-platform-env"].items()
        if not COMPOSE_REQUIRED.search(value)
    }
    assert platform == {k: v for k, v in env.items() if k != "GREENHOUSE_EXECUTOR"}
    assert not {item["name"] for item in deployment["env"]} & {"DATABASE_URL", "AWS_SECRET_ACCESS_KEY"}
    assert env["GREENHOUSE_EXECUTOR"] == "k8s"
    assert deployment["envSecrets"] == [{"name": "greenhouse-env"}]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "greenhouse_assets.definitions"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["postgresqlUsername"] == settings.ROLES["dagster"]
    assert {m["mountPath"] for m in deployment["volumeMounts"]} == {"/data"}
