# Two commands matter: `make run` (the main job on the bundled sample, or `INPUT=DIR`) and `make test`
# (`make test-unit`: the tests that need no database, in a minute and without a cluster).
# Every target installs what it needs first: Python deps, PostgreSQL, TimescaleDB, the local cluster.

VENV   ?= .venv
PYTHON ?= python3
UV_VERSION := 0.13.9
PY  := $(VENV)/bin/python
GH  := $(VENV)/bin/greenhouse
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup db db-stop db-status migrate run test test-unit lint dev bench docs clean e2e-deps auth-deps redis-deps

# Bytecode is compiled once at install: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# every process would otherwise compile dagster & co. from source again, a second or more per start.
$(VENV)/.synced: pyproject.toml uv.lock
	@if [ ! -x $(PY) ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    echo "python venv support missing: installing python3-venv"; \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	    rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }; \
	fi
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null  # a venv made by uv has no pip
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --frozen --quiet --compile-bytecode
	@touch $@

setup: $(VENV)/.synced

db: setup
	$(GH) db up

db-stop: setup
	$(GH) db stop

db-status: setup
	$(GH) db status

migrate: db
	$(GH) migrate up

# `make run INPUT=DIR`: your own files (every file under DIR) instead of the bundled sample.
run: migrate
	$(GH) run $(if $(INPUT),--input "$(INPUT)")

# The end-to-end test drives Debian's chromium with node's playwright-core (no browser download).
E2E := .local/e2e
PLAYWRIGHT_CORE := 1.65.1

$(E2E)/.installed:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	mkdir -p $(E2E)
	npm install --silent --no-audit --no-fund --prefix $(E2E) playwright-core@$(PLAYWRIGHT_CORE)
	@touch $@

e2e-deps: $(E2E)/.installed

# The UI behind authentication (`make dev AUTH=1`, and its test) needs Debian's nginx and openssl. Only
# the binary: the package's own service (a default site on port 80) is stopped and disabled where systemd runs it.
auth-deps:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light && \
	  { ! command -v systemctl >/dev/null || $(SUDO) systemctl disable --now nginx >/dev/null 2>&1 || true; }; }
	@command -v openssl >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }

# The Celery executor's broker (GREENHOUSE_EXECUTOR=celery, and its test, which starts its own redis-server on a
# free port): Debian's redis-server, binary only; the package's own service on 6379 is left as the machine has it.
redis-deps:
	@command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# Two workers (pytest-xdist) on the 2-core machines this runs on: much of the suite waits on the
# database, dbt and `dagster dev` subprocesses, so a second worker shortens the wall time. Every
# worker has its own databases and folders (tests/conftest.py). `make test TEST_WORKERS=0` runs serially.
TEST_WORKERS ?= 2

# Python (ruff) and the dbt models' SQL (sqlfluff, settings in pyproject.toml): no database needed.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint dbt_project/models

test: lint migrate e2e-deps auth-deps redis-deps
	$(PY) -m pytest --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

# The tests marked `pure` (readers, detection, registry patterns, feature maths, MOGA physics, the sample,
# the layout): no cluster, no database (tests/conftest.py makes none when only these are selected).
test-unit: setup
	$(PY) -m pytest -m pure $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS))

# `make dev AUTH=1` (or GREENHOUSE_UI_AUTH=1): behind nginx with basic auth, operators on the full UI and
# viewers on a read-only one; set GREENHOUSE_UI_OPERATOR_PASSWORD and GREENHOUSE_UI_VIEWER_PASSWORD first.
dev: migrate $(if $(AUTH)$(filter-out 0,$(GREENHOUSE_UI_AUTH)),auth-deps)
	$(GH) dev $(if $(AUTH),--auth)

bench: migrate
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

docs: migrate
	$(GH) docs

clean: db-stop
	rm -rf .local $(VENV)
