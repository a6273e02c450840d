# Mercado Abierto: `make run` serves the app, `make test` runs the tests. Nothing but Python 3.11 and a C
# compiler is needed: with no DATABASE_URL / REDIS_URL, PostgreSQL and Redis run embedded (see README).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
LOCALE_DIR := marketplace/core/locale
PACKAGES := marketplace suppliers tenders search
export HOST PORT

.PHONY: run test test-stress migrate seed lint messages messages-extract messages-update messages-compile venv install-dev install-test clean-data screenshots

# --- environment -------------------------------------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall when pyproject.toml changes; otherwise skip pip entirely (keeps `make run` quick).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-test

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

venv install-dev: $(VENV)/.installed-dev
install-test: $(VENV)/.installed-test

# --- the two commands --------------------------------------------------------------------------------------

run: $(VENV)/.installed-dev  ## serve on http://$(HOST):$(PORT); migrates, seeds an empty database
	$(BIN)/marketplace serve

test: $(VENV)/.installed-test  ## every test, on real PostgreSQL and Redis (the machine's, or embedded)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The concurrency-heavy folders while every core is kept busy by a background load (tests/stress.py starts one
# busy loop per core and stops them on every way out). STRESS_TESTS=tests runs the whole suite that way;
# PYTEST_ARGS="--count 20 -k name" repeats tests (pytest-repeat).
STRESS_TESTS ?= tests/tenders tests/core tests/drills tests/search tests/payments tests/contracts
test-stress: $(VENV)/.installed-test  ## STRESS_TESTS with both cores busy: a test that needs an idle machine fails
	$(BIN)/python -m tests.stress -q -p no:cacheprovider $(STRESS_TESTS) $(PYTEST_ARGS)

# The portal's key pages (home, a tender, awards, open data) at desktop and phone sizes, in es, en and qu, as
# PNGs in screenshots/ (git-ignored), on the demo data and a live server; needs Debian's Chromium
# (apt-get install chromium) and the test extras (playwright, never `playwright install`).
screenshots: $(VENV)/.installed-test  ## PNGs of the portal's key pages into screenshots/
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/portal/test_screenshots.py $(PYTEST_ARGS)

# --- everyday tasks ----------------------------------------------------------------------------------------

migrate: $(VENV)/.installed-dev
	$(BIN)/marketplace migrate

seed: $(VENV)/.installed-dev
	$(BIN)/marketplace seed --demo

lint: $(VENV)/.installed-dev  ## ruff, the import contract (pyproject [tool.importlinter]) and mypy
	$(BIN)/ruff check $(PACKAGES) tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# Message catalogues. babel.cfg maps the sources: Python (N_(), N_plural(), _(), gettext(), ngettext()) and the
# portal's Jinja templates. `make messages` extracts every id into messages.pot, merges it into each language's
# messages.po (new ids come in untranslated; ids no longer used are dropped) and compiles the .mo files, which
# only checks them: the application reads the .po files (marketplace/core/i18n.py), so a fresh clone needs no
# build step. Running it twice changes nothing (the .pot's date is fixed, the .po headers keep theirs).
# tests/portal/test_catalogues.py fails on any message without its es, en and qu translation, and names them.
messages: messages-extract messages-update messages-compile

messages-extract: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k N_plural:1,2 --no-location --sort-output --no-wrap \
		--project mercado-abierto --version 0.1 -o $(LOCALE_DIR)/messages.pot .
	@# Placeholders are str.format fields ({name}); a "10% of" is not a %-format, so drop babel's guess; the
	@# creation date would change the file at every run.
	sed -i -e 's/^#, python-brace-format, python-format$$/#, python-brace-format/' \
		-e '/^#, python-format$$/d' \
		-e 's/^"POT-Creation-Date: .*"$$/"POT-Creation-Date: 2026-01-01 00:00+0000\\n"/' \
		-e 's/^\(# Copyright (C) \|# FIRST AUTHOR <EMAIL@ADDRESS>, \)[0-9]\{4\}/\12026/' $(LOCALE_DIR)/messages.pot

messages-update: $(VENV)/.installed-dev
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --no-wrap \
		-i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR)

messages-compile: $(VENV)/.installed-dev
	$(BIN)/pybabel compile --statistics -d $(LOCALE_DIR)

# Forget the embedded servers' data and the development keys (stop `make run` first).
clean-data:
	rm -rf .data

# --- benchmarks and drills (bench/README.md) ---------------------------------------------------------------
SCALE ?= 1

bench-data: $(VENV)/.installed-test  ## the bench data set into BENCH_DATABASE_URL (default database ma_bench)
	$(BIN)/python -m bench generate --scale $(SCALE)

bench: $(VENV)/.installed-test  ## every scenario in one run (needs `wrk`); writes bench/RESULTS.md
	@command -v wrk >/dev/null || { echo "make bench needs wrk (the HTTP load generator), which is not installed: apt-get install wrk" >&2; exit 1; }
	$(BIN)/python -m bench all

drills: $(VENV)/.installed-test  ## the reliability drills and the schemathesis pass alone (also in `make test`)
	$(BIN)/python -m pytest -q tests/drills tests/api $(PYTEST_ARGS)
