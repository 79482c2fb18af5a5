# The platform's code image for docker compose / Kubernetes: same code, configuration from env vars.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH DAGSTER_HOME=/app
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client nginx-light openssl && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# The runtime package only: greenhouse_dev/ (local cluster, sample, `make run`) is developer tooling.
COPY greenhouse_assets greenhouse_assets
COPY dbt_project dbt_project
COPY migrations migrations
COPY dagster.yaml workspace.yaml ./
RUN uv sync --frozen --no-dev
# The `greenhouse` script is the dev venv's (greenhouse_dev.cli); the image runs `python -m greenhouse_assets.cli`.
