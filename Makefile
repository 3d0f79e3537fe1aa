# DT Exchange — two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12+: $(PYTHON) if given, else the first of python3.13, python3.12,
# python3 that really runs and is >= 3.12, else pyenv's installed 3.13/3.12.
# (pyenv shims exist on PATH but fail when the version is not active.)
PYTHON ?= $(shell ./scripts/find-python.sh)
VENV := .venv
VPY := $(VENV)/bin/python
# `make run` needs only the runtime packages (about 40% less to install on a
# fresh clone); `make test` adds the dev/test ones. Each stamp names the hash
# of its requirement files, so editing one reinstalls.
RUN_STAMP := $(VENV)/.installed-run-$(shell cat requirements.txt | md5sum | cut -c1-12)
STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | md5sum | cut -c1-12)

# axe-core (npm, pinned in package-lock.json): the browser tests' accessibility audit.
AXE := node_modules/axe-core/axe.min.js

.PHONY: help venv run test lint format clean bench

help:
	@echo "make run   - set up and start DT Exchange on http://127.0.0.1:8000 (embedded default)"
	@echo "make test  - set up and run ruff and the whole test suite (PostgreSQL + Redis on localhost, else embedded)"

$(VPY):
	@test -n "$(PYTHON)" || { echo "Python 3.12+ is required: install python3.12 or newer (e.g. apt-get install python3.12, or pyenv install 3.13) or pass PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): $(VPY) requirements.txt
	$(VPY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-run-*
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-*
	touch $(STAMP)

venv: $(STAMP)

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the browser tests' axe-core audit (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --silent
	touch $(AXE)


# scripts/run_all.py owns the embedded servers: it starts them, migrates,
# loads the demo data and starts the app processes.
run: $(RUN_STAMP)
	$(VPY) scripts/run_all.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# PostgreSQL and Redis: DATABASE_URL / REDIS_URL if set, else the ones on
# localhost when they answer, else private embedded ones for the run
# (scripts/with_servers.py).
test: venv $(AXE)
	$(VENV)/bin/ruff check .
	$(VPY) scripts/with_servers.py bash -c 'DJANGO_SETTINGS_MODULE=tests.settings \
		$(VPY) manage.py makemigrations --check --dry-run && $(VPY) -m pytest $(PYTEST_ARGS)'

clean:
	rm -rf $(VENV) var
