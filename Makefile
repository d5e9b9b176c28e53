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

.PHONY: run test bench load messages clean-db test-packages

$(VENV)/bin/python:
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || $(NEED) python3-venv
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
	@$(NEED) $(RUN_PACKAGES)
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py load_demo
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# System packages in one place (.ci/system-packages): installed when this user may (root, or sudo
# without a password), otherwise the one command to run is printed and make stops.
NEED := .ci/system-packages
BROWSER_PACKAGES := chromium=$(CHROMIUM)
# The circular and printable sheets are rendered to PDF and pictures in tests.
DOCUMENT_PACKAGES := libreoffice-calc-nogui libreoffice-writer-nogui fonts-noto-cjk fonts-crosextra-carlito poppler-utils
TEST_PACKAGES = $(if $(WALKFLOW_SKIP_BROWSER),,$(BROWSER_PACKAGES)) $(DOCUMENT_PACKAGES)
# The running app prints documents through LibreOffice as the tests do.
RUN_PACKAGES := $(DOCUMENT_PACKAGES)
BENCH_PACKAGES := wrk=wrk

test-packages:
	@$(NEED) $(TEST_PACKAGES)

test: $(VENV)/.dev-deps messages test-packages | var
	@if [ -n "$$WALKFLOW_SKIP_BROWSER" ]; then echo "make test: browser tests left out (WALKFLOW_SKIP_BROWSER is set)"; fi
	$(PY) -m pytest $(if $(WALKFLOW_SKIP_BROWSER),-m "not browser",) $(PYTEST_ARGS)

$(VENV)/.bench-deps: requirements.txt requirements-dev.txt requirements-bench.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-bench.txt
	touch $(VENV)/.run-deps $(VENV)/.dev-deps $@

# Benchmark on DATABASE_URL (PostgreSQL when set), else on its own SQLite file, never the demo's.
BENCH_DB = $${DATABASE_URL:-sqlite:///$(CURDIR)/var/bench.sqlite3}
# The throughput phase of the bench drives gunicorn with wrk (Debian's package).
bench: $(VENV)/.bench-deps messages | var
	@$(NEED) $(BENCH_PACKAGES)
	DATABASE_URL=$(BENCH_DB) $(DEV_ENV) $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DB) $(DEV_ENV) $(PY) manage.py bench $(BENCH_ARGS)

# 60 users for 2 minutes against gunicorn + PostgreSQL on loopback (loadtest/run.sh); not part of test.
load: $(VENV)/.bench-deps messages | var
	loadtest/run.sh

clean-db:
	rm -f var/walkflow.sqlite3 var/walkflow.sqlite3-wal var/walkflow.sqlite3-shm
