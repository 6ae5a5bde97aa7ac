# Storefront: the commands a developer and CI use. `make help` lists them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app storefront
RUN_HOST ?= 127.0.0.1
RUN_PORT ?= 5000
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS='-x -k cart'`.
PYTEST_ARGS ?=
# Extra arguments for `flask seed`, e.g. `make seed SEED_ARGS='--generate 10000'`.
SEED_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv install install-dev run test lint fmt migrate seed docker-up docker-scaled docker-mail clean screenshots translations bench bench-smoke soak

# help: list the targets.
help:
	@echo "make run        serve the shop on http://$(RUN_HOST):$(RUN_PORT)/ (SQLite under instance/)"
	@echo "make test       run the tests (starts a throwaway PostgreSQL unless TEST_DATABASE_URL is set)"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make fmt        format and autofix with ruff"
	@echo "make migrate    apply database migrations"
	@echo "make seed       load the demo catalog (SEED_ARGS='FILE.json' or '--generate N')"
	@echo "make screenshots  desktop and phone screenshots of the pages to docs/screenshots/ (needs chromium)"
	@echo "make translations extract the interface text and update and compile the translations"
	@echo "make bench      the benchmark: 1M products, app vs bare baseline vs raw PostgreSQL (~15 min)"
	@echo "make bench-smoke  the same harness on 10 000 products (~3 min; CI)"
	@echo "make soak       10 minutes of mixed load at half the measured capacity (SOAK_SECONDS)"
	@echo "make docker-up  docker compose up -d (PostgreSQL + gunicorn on :8000)"
	@echo "make docker-scaled  compose's scaled profile: nginx on :8080 before REPLICAS=3 instances"
	@echo "make docker-mail  the stack with Mailpit catching every mail (http://127.0.0.1:8025)"
	@echo "make clean      remove .venv, instance/ and caches"

# venv: create the virtualenv once.
venv: $(BIN)/python
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# install / install-dev: (re)install the project into the venv when pyproject.toml changed.
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

# Local commands default to development settings; an explicit STOREFRONT_ENV wins.
run migrate seed: export STOREFRONT_ENV ?= development

# run: migrate, seed the demo catalog into an empty database, serve with the Flask dev server.
# The mail worker runs beside the server and stops with it (a bad MAIL_URL stops `make run`
# before either starts).
run: install
	$(FLASK) db upgrade
	$(FLASK) seed --if-empty
	@echo
	@echo "Shop:  http://$(RUN_HOST):$(RUN_PORT)/"
	@echo "API:   http://$(RUN_HOST):$(RUN_PORT)/api/products/"
	@echo "Docs:  http://$(RUN_HOST):$(RUN_PORT)/api/docs"
	@$(FLASK) mail where
	@if [ -n "$$STOREFRONT_ADMIN_TOKEN" ]; then \
		echo "Admin writes: enabled (Authorization: Bearer \$$STOREFRONT_ADMIN_TOKEN)"; \
	else \
		echo "Admin writes are off. To enable them:"; \
		echo "  export STOREFRONT_ADMIN_TOKEN=\$$(python3 -c 'import secrets;print(secrets.token_urlsafe(32))')"; \
		echo "  make run"; \
	fi
	@echo
	$(FLASK) mail worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(FLASK) run --host $(RUN_HOST) --port $(RUN_PORT)

# test: the whole suite; every database test runs on PostgreSQL and SQLite.
test: install-dev
	scripts/run-tests $(PYTEST_ARGS)

# lint: what CI checks.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# fmt: format, then fix what ruff can fix.
fmt: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# migrate: apply migrations to DATABASE_URL (default: SQLite under instance/).
migrate: install
	$(FLASK) db upgrade

# seed: load the demo catalog (twice adds nothing).
seed: install
	$(FLASK) seed $(SEED_ARGS)

# screenshots: the catalog, product and cart pages at desktop and phone sizes, through Debian's
# chromium (apt-get install chromium; never `playwright install`), over a throwaway SQLite.
screenshots: install-dev
	$(BIN)/python scripts/screenshots.py

# translations: collect the marked interface text, merge it into each language's .po, compile.
# Russian is the source language; add one with `$(BIN)/pybabel init -i
# storefront/translations/messages.pot -d storefront/translations -l LANG`.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project=storefront -o storefront/translations/messages.pot .
	$(BIN)/pybabel update -i storefront/translations/messages.pot -d storefront/translations \
		--ignore-obsolete --width=100
	$(BIN)/pybabel compile -d storefront/translations

# bench: issue 5's benchmark on a throwaway PostgreSQL with 1M products; adds the run to
# BENCHMARKS.md (and bench/results/). Knobs: BENCH_DURATION, BENCH_SCENARIOS, ... (bench/README.md).
bench: install
	bench/run

# bench-smoke: the same harness on 10 000 products, a few seconds per run; fails only when the
# harness breaks (errors, 5xx), never on a missed target.
bench-smoke: install
	bench/run --smoke

# soak: 10 minutes (SOAK_SECONDS) of mixed load (browse 68 %, search 20 %, cart 10 %, checkout
# 2 %) at half the measured capacity on 100 000 products (SOAK_PRODUCTS); fails on any error, a
# replaced worker, or worker RSS growing over 10 % from minute 2. A full-length run adds itself
# to BENCHMARKS.md ("Soak") and bench/results/. Knobs: bench/README.md.
soak: install
	bench/run --soak

# docker-up: the compose stack of the original (needs a Docker engine and a .env).
docker-up:
	@test -f .env || { echo "No .env: cp .env.example .env, then set SECRET_KEY and POSTGRES_PASSWORD." >&2; exit 1; }
	docker compose up -d

# docker-scaled: the `scaled` profile: migrations once, REPLICAS instances of the backend, nginx
# in front of them on :8080 (deploy/nginx/storefront.conf). The plain `backend` is not started.
REPLICAS ?= 3
docker-scaled:
	@test -f .env || { echo "No .env: cp .env.example .env, then set SECRET_KEY and POSTGRES_PASSWORD." >&2; exit 1; }
	docker compose --profile scaled up -d --scale backend-scaled=$(REPLICAS) nginx

# docker-mail: the stack plus Mailpit (compose's `mail` profile), with the mailer sending to it:
# every mail lands in Mailpit's web UI on http://127.0.0.1:8025 (SMTP on 127.0.0.1:1025).
docker-mail:
	@test -f .env || { echo "No .env: cp .env.example .env, then set SECRET_KEY and POSTGRES_PASSWORD." >&2; exit 1; }
	MAIL_URL=smtp://mailpit:1025 docker compose --profile mail up -d

# clean: remove the venv, the local database and caches.
clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
