# walkflow: two commands on a fresh machine.
#   make run   venv, install, migrate, demo data, serve http://127.0.0.1:8000 (SQLite, tasks in-process)
#   make test  venv, install, the whole suite (SQLite unless DATABASE_URL is set)
#   make bench speed figures against django-import-export and the admin (BENCH_PROBLEMS=100000)
#   make load  a bounded load run on loopback (DATABASE_URL must be PostgreSQL)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CHROMIUM ?= /usr/bin/chromium
DEV_ENV := DEBUG=1

.PHONY: run test bench load messages clean-db check-browser check-wrk

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.run-deps $@

# django-filter ships only zh_CN, which Django ignores under zh-hans: our catalogue covers it.
messages: $(VENV)/.run-deps
	cd locale && $(DEV_ENV) ../$(PY) ../manage.py compilemessages --ignore=.venv >/dev/null

var:
	mkdir -p var

run: $(VENV)/.run-deps messages | var
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py load_demo
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

check-browser:
	@if [ -z "$$WALKFLOW_SKIP_BROWSER" ] && [ ! -x "$(CHROMIUM)" ]; then \
	  echo ""; \
	  echo "make test: Chromium is not installed at $(CHROMIUM); the browser tests need it."; \
	  echo "  Install it with:  sudo apt-get install -y chromium"; \
	  echo "  (or run WALKFLOW_SKIP_BROWSER=1 make test to leave the browser tests out, knowingly)"; \
	  echo ""; \
	  exit 1; \
	fi

test: $(VENV)/.dev-deps messages check-browser | var
	@if [ -n "$$WALKFLOW_SKIP_BROWSER" ]; then echo "make test: browser tests left out (WALKFLOW_SKIP_BROWSER is set)"; fi
	$(PY) -m pytest $(if $(WALKFLOW_SKIP_BROWSER),-m "not browser",) $(PYTEST_ARGS)

$(VENV)/.bench-deps: requirements.txt requirements-dev.txt requirements-bench.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-bench.txt
	touch $(VENV)/.run-deps $(VENV)/.dev-deps $@

# Benchmark on DATABASE_URL (PostgreSQL when set), else on its own SQLite file, never the demo's.
BENCH_DB = $${DATABASE_URL:-sqlite:///$(CURDIR)/var/bench.sqlite3}
# The throughput phase of the bench drives gunicorn with wrk (Debian's package): installed here
# when make runs as root with apt-get, else the phase is skipped with the command to install it.
check-wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get install -y -qq wrk >/dev/null 2>&1; } || true
	@command -v wrk >/dev/null || echo "make bench: wrk is not installed; the throughput phase will be skipped. Install it with:  sudo apt-get install -y wrk"

bench: $(VENV)/.bench-deps messages check-wrk | var
	DATABASE_URL=$(BENCH_DB) $(DEV_ENV) $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DB) $(DEV_ENV) $(PY) manage.py bench $(BENCH_ARGS)

# 60 users for 2 minutes against gunicorn + PostgreSQL on loopback (loadtest/run.sh); not part of test.
load: $(VENV)/.bench-deps messages | var
	loadtest/run.sh

clean-db:
	rm -f var/walkflow.sqlite3 var/walkflow.sqlite3-wal var/walkflow.sqlite3-shm
