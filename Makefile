# py-auth: `make run` serves the API, `make test` runs the suite. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
BACKEND := backend
VENV := $(BACKEND)/.venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrate revision bench bench-quick image

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' -v host='$(HOST)' -v port='$(PORT)' \
		'{gsub(/\$$\(HOST\)/, host, $$2); gsub(/\$$\(PORT\)/, port, $$2); printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "py-auth needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	@echo "Creating the virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: dependencies are reinstalled only when a requirements file changes.
$(VENV)/.runtime: $(BIN)/python $(BACKEND)/requirements.txt
	@echo "Installing the dependencies ($(BACKEND)/requirements.txt)"
	@$(BIN)/pip install --quiet -r $(BACKEND)/requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime $(BACKEND)/requirements-dev.txt $(BACKEND)/requirements-otel.txt
	@echo "Installing the development tools ($(BACKEND)/requirements-dev.txt)"
	@$(BIN)/pip install --quiet -r $(BACKEND)/requirements-dev.txt
	@touch $@

# A local .env with a fresh JWT secret, written once and never overwritten.
$(BACKEND)/.env:
	@echo "Writing $@ with a new JWT secret"
	@secret=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(64))') && \
		sed "s|^JWT_SECRET=.*|JWT_SECRET=$$secret|" $(BACKEND)/.env.example > $@ && \
		chmod 600 $@

run: $(VENV)/.runtime $(BACKEND)/.env ## Serve the API on http://$(HOST):$(PORT) (SQLite unless DATABASE_URL is set)
	@echo "Migrating the database"
	@cd $(BACKEND) && .venv/bin/alembic upgrade head
	@echo "Serving http://$(HOST):$(PORT) (Ctrl-C stops it)"
	@# A development server over plain http: readable logs, and cookies without the Secure flag.
	@# --no-proxy-headers: uvicorn would believe X-Forwarded-For from 127.0.0.1 (any local
	@# proxy) before TRUSTED_PROXIES, the one place where py-auth is told whom to trust.
	@# trap '' INT TERM: uvicorn inherits the signals ignored, catches them all the same while it
	@# serves and shuts down gracefully, then re-raises them into that ignore and exits 0, so a
	@# stop is not reported by make as "*** [run] Interrupt" or "Terminated".
	@cd $(BACKEND) && trap '' INT TERM && \
		LOG_FORMAT=$${LOG_FORMAT:-console} COOKIE_SECURE=$${COOKIE_SECURE:-false} \
		exec .venv/bin/uvicorn --factory app.main:create_app \
		--host $(HOST) --port $(PORT) --no-access-log --no-proxy-headers \
		--timeout-graceful-shutdown 30

test: $(VENV)/.dev ## Run the suite (SQLite; TEST_DATABASE_URL=postgresql+asyncpg://... for PostgreSQL)
	cd $(BACKEND) && .venv/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev ## ruff check, ruff format --check, mypy --strict, hadolint on the Dockerfile
	cd $(BACKEND) && .venv/bin/ruff check . ../bench && .venv/bin/ruff format --check . ../bench && .venv/bin/mypy
	$(BIN)/hadolint Dockerfile

format: $(VENV)/.dev ## Apply ruff's fixes and formatting
	cd $(BACKEND) && .venv/bin/ruff check --fix . ../bench && .venv/bin/ruff format . ../bench

migrate: $(VENV)/.runtime $(BACKEND)/.env ## Apply the migrations to DATABASE_URL
	cd $(BACKEND) && .venv/bin/alembic upgrade head

revision: $(VENV)/.dev $(BACKEND)/.env ## New migration from the models: make revision m="add x"
	@test -n "$(m)" || { echo 'usage: make revision m="what it does"'; exit 1; }
	@# Numbered after the last migration (0006 -> 0007; alembic.ini dates and names the file),
	@# then put in ruff's style: an empty autogenerate leaves sa and op unused.
	@cd $(BACKEND) && \
		last=$$(ls alembic/versions | sed -nE 's/^[0-9]{4}_[0-9]{2}_[0-9]{2}_([0-9]{4})_.*\.py$$/\1/p' | sort | tail -n 1) && \
		rev=$$(printf '%04d' $$((10#$${last:-0} + 1))) && \
		.venv/bin/alembic revision --autogenerate -m "$(m)" --rev-id "$$rev" && \
		new=$$(ls alembic/versions/*_"$$rev"_*.py) && \
		.venv/bin/ruff check --fix --quiet "$$new" && .venv/bin/ruff format --quiet "$$new" && \
		echo "Wrote $(BACKEND)/$$new: read it before you apply it (make migrate)"

bench: $(VENV)/.runtime ## Benchmark on PostgreSQL (DATABASE_URL's server, else 127.0.0.1:5432); see BENCHMARKS.md
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: $(VENV)/.runtime ## The benchmark with a few seconds per row, for development
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

image: ## Build the Dockerfile with buildah on a Debian base (root; no daemon, no registry) and smoke-test it
	bash deploy/ci/build-image.sh
