# ispbill: `make run` starts it with demo data; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/ispbill
# Test processes (pytest-xdist): one per core by default; `make test PYTEST_WORKERS=0` runs
# in one process.
PYTEST_WORKERS ?= auto

.PHONY: install assets run test lint typecheck test-sqlite test-postgres services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Front-end assets (htmx, Chart.js) from the npm registry through package-lock.json, copied
# into the web app's static folder (git-ignored; never committed).
VENDOR := ispbill/web/static/web/vendor
ASSETS_STAMP := node_modules/.assets-stamp

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	touch $(ASSETS_STAMP)

assets: $(ASSETS_STAMP)

run: install assets
	$(BIN)/ispbill migrate
	$(BIN)/ispbill demo
	$(BIN)/ispbill serve

services:
	bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy ispbill

test-sqlite: install assets
	env -u DATABASE_URL $(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS)

test-postgres: install assets services
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS)

test: install assets services lint typecheck test-sqlite test-postgres

bench: install services
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var node_modules $(VENDOR)
