# Two commands: `make run` (the whole stack, embedded default) and `make test` (every check, real services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit migrate bench clean services

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/stack.py

migrate: $(STAMP)
	$(BIN)/python -m cli migrate

services:
	@bash scripts/ensure-services.sh
	@test -f tools/firestore-emulator/node_modules/@firestore-emulator/server/package.json || \
		npm install --prefix tools/firestore-emulator --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

# Test processes (pytest-xdist): most tests wait on Temporal timers, workers and subprocesses, so more processes than
# cores finish sooner; each process starts its own Temporal dev server, Firestore emulator and databases.
# `make test TEST_PROCESSES=0` runs everything in this one process.
TEST_PROCESSES ?= 4

test: $(STAMP) services lint typecheck
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist worksteal

bench: $(STAMP) services
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
