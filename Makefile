# Mission Control — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install run test test-sqlite check lint format typecheck imports bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed ## Install Mission Control and its dev tools into .venv (from uv.lock)

run: install ## Migrate and serve Mission Control on SQLite at http://127.0.0.1:8000
	$(VENV)/bin/missionctl up

# The PostgreSQL half runs against MISSIONCTL_TEST_POSTGRES_URL, or the local server when one answers.
LOCAL_PG := postgresql://postgres@127.0.0.1:5432/postgres
test: install ## Run the whole suite: SQLite, and PostgreSQL when one answers on 127.0.0.1:5432
	@if [ -z "$${MISSIONCTL_TEST_POSTGRES_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		export MISSIONCTL_TEST_POSTGRES_URL=$(LOCAL_PG); fi; \
	$(VENV)/bin/pytest -n 2 --dist loadfile

test-sqlite: install ## Run the suite on SQLite only
	MISSIONCTL_TEST_POSTGRES_URL= $(VENV)/bin/pytest -n 2 --dist loadfile

lint: install ## ruff lint + format check
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: install ## Format and autofix
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

typecheck: install ## mypy --strict
	$(VENV)/bin/mypy

imports: install ## Check the layering contracts
	$(VENV)/bin/lint-imports

check: lint typecheck imports test ## Everything CI cares about

bench: install ## Benchmarks (see bench/RESULTS.md): board list, engine (with DBOS), model layer (with litellm)
	$(VENV)/bin/python bench/board_list.py
	$(VENV)/bin/python bench/engine.py
	$(VENV)/bin/python bench/models.py
	$(VENV)/bin/python bench/agents.py

clean: ## Remove local environments and caches (not your data in .missionctl/)
	rm -rf $(VENV) $(TOOLS) .bench-venvs .pytest_cache .mypy_cache .ruff_cache .hypothesis
