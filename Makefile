# Watchkeeper developer commands. GNU make; run `make` or `make help` for the list.
#
# The two commands a newcomer needs, `make demo` and `make test`, work on a fresh clone: they create the
# virtualenv, install the Python and web dependencies and (for `make test`) the Debian packages the browser
# tests need. Stamp files make re-runs fast; they are refreshed when pyproject.toml or the web sources change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.watchkeeper-installed
NPM ?= npm
NPM_STAMP := web/node_modules/.watchkeeper-npm-ci
# The console builds into the Python package (web/vite.config.ts outDir), where the server serves it from.
WEB_STAMP := watchkeeper/api/static/index.html
# Every file of the web app except installed and built output (the stamp rebuilds when any of them changes).
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -path web/dist -prune -o -type f -print 2>/dev/null)
DEMO_CONFIG ?= examples/demo.yaml
# Debian packages the test suite needs (Chromium for the Playwright browser tests; see SERVICES.md).
SYSTEM_PACKAGES := chromium chromium-driver ffmpeg swift swift-proxy swift-object swift-container swift-account

.PHONY: help venv models web system-deps lint format typecheck imports test test-web test-py demo clean

help: ## List the targets
	@echo "Watchkeeper: make <target>"
	@echo
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Start with 'make demo' (the console with four simulated cameras) or 'make test' (everything CI runs)."

# --- Python -------------------------------------------------------------------------------------------------

venv: $(VENV_STAMP) ## Create .venv and install watchkeeper with its dev dependencies (editable)

$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "error: Watchkeeper needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
		  echo "       Run 'make PYTHON=/path/to/python3.11 ...'." >&2; exit 1; }
	@test -x $(BIN)/python || { echo "==> creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> installing watchkeeper[dev] into $(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# --- Models and test footage -------------------------------------------------------------------------------

models: venv ## Build the detector (var/models/nanodet.onnx + its INT8 build nanodet.int8.onnx) and fetch test footage (vtest.avi)
	$(BIN)/python scripts/build_models.py

# --- Web console --------------------------------------------------------------------------------------------

web: $(WEB_STAMP) ## Install the web console's npm packages (npm ci) and build it

$(NPM_STAMP): web/package.json web/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "error: npm not found; install Node.js 20 and npm." >&2; exit 1; }
	@echo "==> npm ci (web)"
	cd web && $(NPM) ci --no-audit --no-fund
	@touch $@

$(WEB_STAMP): $(NPM_STAMP) $(WEB_SOURCES)
	@echo "==> building the web console"
	cd web && $(NPM) run build
	@touch $@

# --- Debian packages ----------------------------------------------------------------------------------------

system-deps: ## Install the Debian packages the tests need (Chromium, FFmpeg, OpenStack Swift for the S3 tier) when they are missing
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ] && [ -x /usr/bin/chromium ]; then \
		echo "==> system packages present:$(foreach p,$(SYSTEM_PACKAGES), $(p))"; exit 0; \
	fi; \
	missing="$${missing:- $(SYSTEM_PACKAGES)}"; \
	echo "==> installing Debian packages:$$missing"; \
	if ! command -v apt-get >/dev/null; then \
		echo "error: apt-get not found. Install these packages yourself:$$missing" >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null; then sudo="sudo"; \
	else echo "error: not root and no sudo. As root run: apt-get install -y$$missing" >&2; exit 1; fi; \
	$$sudo apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing || \
		{ echo "error: could not install$$missing (see the apt output above)." >&2; exit 1; }

# --- Checks -------------------------------------------------------------------------------------------------

lint: venv ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv ## mypy --strict on the package
	$(BIN)/mypy

imports: venv ## Check the dependency rule (.importlinter contracts)
	$(BIN)/lint-imports --no-cache

test-web: web ## The web console's API-client check, typecheck and unit tests
	cd web && $(NPM) run check:api
	cd web && $(NPM) run typecheck
	cd web && $(NPM) test

test-py: venv models ## The Python test suite (fails when no test is collected)
	@rc=0; $(BIN)/pytest -q || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

test: system-deps venv models web lint typecheck imports test-web test-py ## Everything CI runs (installs what it needs)
	@echo "==> all checks passed"

# --- Demo ---------------------------------------------------------------------------------------------------

demo: venv models web ## Four simulated cameras and the console on http://127.0.0.1:8080
	$(BIN)/watchkeeper demo --config $(DEMO_CONFIG)

clean: ## Remove the virtualenv, node_modules, build output, caches and demo data
	rm -rf $(VENV) web/node_modules web/dist watchkeeper/api/static var/demo .demo build dist *.egg-info \
		.mypy_cache .ruff_cache .pytest_cache .import_linter_cache
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
