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
UI_BUILT := src/missionctl/web/ui_dist/index.html
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts

.PHONY: help install run test test-sqlite check lint format typecheck imports bench clean \
	ui ui-test ui-check chromium

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed $(UI_BUILT) ## Install Mission Control and its dev tools into .venv (from uv.lock), build the dashboard

# The dashboard (ui/): npm ci from package-lock.json, then vite build into the Python package.
ui/node_modules/.installed: ui/package.json ui/package-lock.json
	@command -v npm >/dev/null || { echo "make: the dashboard needs Node 20+ and npm (https://nodejs.org)" >&2; exit 1; }
	cd ui && npm ci --no-audit --no-fund
	@touch $@

$(UI_BUILT): ui/node_modules/.installed $(UI_SOURCES)
	cd ui && npx vite build
	@touch $@

ui: $(UI_BUILT) ## Build the dashboard into src/missionctl/web/ui_dist/

ui-test: ui/node_modules/.installed ## The dashboard's component tests (Vitest)
	cd ui && npx vitest run

ui-check: ui/node_modules/.installed ## Type-check and lint the dashboard
	cd ui && npx tsc --noEmit -p tsconfig.json && npx oxlint src

# The browser tests drive the system Chromium (never a downloaded one); installed when missing.
CHROMIUM ?= /usr/lib/chromium/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "make: installing Chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-liberation \
			|| { echo "make: could not install Chromium: apt-get install chromium fonts-liberation" >&2; exit 1; }; \
	fi

run: install ## Migrate and serve Mission Control on SQLite at http://127.0.0.1:8000
	$(VENV)/bin/missionctl up

# The PostgreSQL half runs against MISSIONCTL_TEST_POSTGRES_URL, or the local server when one answers.
LOCAL_PG := postgresql://postgres@127.0.0.1:5432/postgres
# The browser tests run on their own: Playwright's sync API keeps an event loop running in its
# worker's thread for the session, which asyncio.run() in any later test there would trip over.
PYTEST := $(VENV)/bin/pytest -n 2 --dist loadfile
test: install chromium ui-test ## Run the whole suite: SQLite, and PostgreSQL when one answers on 127.0.0.1:5432
	@# Byte-compiled once here: many tests start processes, each of which would compile every
	@# module it imports again wherever PYTHONDONTWRITEBYTECODE is set.
	$(VENV)/bin/python -m compileall -q src tests
	@if [ -z "$${MISSIONCTL_TEST_POSTGRES_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		export MISSIONCTL_TEST_POSTGRES_URL=$(LOCAL_PG); fi; \
	$(PYTEST) --ignore=tests/e2e && $(PYTEST) tests/e2e

test-sqlite: install chromium ## Run the suite on SQLite only
	MISSIONCTL_TEST_POSTGRES_URL= $(PYTEST) --ignore=tests/e2e && $(PYTEST) tests/e2e

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

check: lint typecheck imports ui-check test ## Everything CI cares about

bench: install chromium ## Benchmarks (see bench/RESULTS.md): board list, engine (with DBOS), model layer (with litellm), agents, workflows (with Prefect), dashboard
	$(VENV)/bin/python bench/board_list.py
	$(VENV)/bin/python bench/engine.py
	$(VENV)/bin/python bench/models.py
	$(VENV)/bin/python bench/agents.py
	$(VENV)/bin/python bench/workflows.py
	$(VENV)/bin/python bench/ui.py

clean: ## Remove local environments and caches (not your data in .missionctl/)
	rm -rf $(VENV) $(TOOLS) .bench-venvs .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf ui/node_modules src/missionctl/web/ui_dist
