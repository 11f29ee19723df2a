# The two commands: `make run` starts the app on devhost, `make test` runs the whole suite.
# Both create .venv/ from the pinned files first (reinstalling only when those files change).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

CHROMIUM := /usr/bin/chromium

.PHONY: run test lint drill venv node chromium clean check-python check-npm

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

test: $(STAMP) $(NODE_STAMP) chromium
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The recovery drill (bench/drill.py): 50 cases, 5 kill -9 of devhost, Azurite down 60 s; DRILL_ARGS to vary.
drill: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/python bench/drill.py $(DRILL_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy devhost shared

clean:
	rm -rf $(VENV) node_modules .devhost .pytest_cache
