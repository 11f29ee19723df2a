# The two commands: `make run` starts the app on devhost, `make test` runs the whole suite.
# Both create .venv/ from the pinned files first (reinstalling only when those files change).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHECKOV_VENV := .venv-tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`. The suite mostly waits (devhost and Azurite child processes, kill -9
# restarts, timers, sleeps), so 4 workers on the 2-core machine cut its wall time (~165 s -> ~100 s);
# --dist worksteal rebalances when a worker gets the long tests. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 4

CHROMIUM := /usr/bin/chromium

.PHONY: run test lint drill venv node chromium clean check-python check-npm checkov

check-python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: python3 not found: install Python 3.11 (e.g. apt-get install python3 python3-venv)"; exit 1; }

check-npm:
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found: install Node.js 20+ with npm (e.g. apt-get install nodejs npm)"; exit 1; }

$(STAMP): requirements.txt requirements-dev.txt constraints.txt | check-python
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json | check-npm
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# checkov has many pins of its own: it gets its own venv (git-ignored), never .venv.
$(CHECKOV_STAMP): requirements-checkov.txt | check-python
	@test -x $(CHECKOV_VENV)/bin/python || $(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

# Scan infra/ offline (no policy download, no version check); skips are justified inline in the templates.
checkov: $(CHECKOV_STAMP)
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --directory infra --framework bicep secrets \
		--skip-download --compact --quiet

venv: $(STAMP)
node: $(NODE_STAMP)

# The browser tests drive Debian's chromium through Playwright (never `playwright install`): install the
# apt package when it is missing (CI runs as root; elsewhere say how).
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "error: $(CHROMIUM) not found: install Debian's chromium (sudo apt-get install chromium)"; exit 1; fi; }

local.settings.json: | local.settings.sample.json
	cp local.settings.sample.json $@
	@echo "created local.settings.json from local.settings.sample.json (edit secrets there; it is git-ignored)"

run: $(STAMP) $(NODE_STAMP) local.settings.json
	$(VENV)/bin/python -m devhost start --app-dir . --demo

test: $(STAMP) $(NODE_STAMP) chromium checkov
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The recovery drill (bench/drill.py): 50 cases, 5 kill -9 of devhost, Azurite down 60 s; DRILL_ARGS to vary.
drill: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/python bench/drill.py $(DRILL_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy devhost shared tools

clean:
	rm -rf $(VENV) .venv-tools node_modules .devhost .pytest_cache
