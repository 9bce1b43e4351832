# ispbill: `make run` starts it with demo data; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/ispbill

.PHONY: install run test lint typecheck test-sqlite test-postgres services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ispbill migrate
	$(BIN)/ispbill demo
	$(BIN)/ispbill serve

services:
	bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy ispbill

test-sqlite: install
	env -u DATABASE_URL $(BIN)/pytest -q -p no:cacheprovider

test-postgres: install services
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider

test: install services lint typecheck test-sqlite test-postgres

bench: install services
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var
