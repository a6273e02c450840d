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

.PHONY: run test migrate seed lint messages venv install-dev install-test clean-data

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

# --- everyday tasks ----------------------------------------------------------------------------------------

migrate: $(VENV)/.installed-dev
	$(BIN)/marketplace migrate

seed: $(VENV)/.installed-dev
	$(BIN)/marketplace seed --demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(PACKAGES) tests

# Extract message ids (N_(), _()) from the code, merge them into every language's catalogue, compile.
messages: $(VENV)/.installed-dev
	$(BIN)/pybabel extract --no-location --sort-output -k N_ -k _ -k gettext \
		-o $(LOCALE_DIR)/messages.pot $(PACKAGES)
	$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR)
	$(BIN)/pybabel compile --statistics -d $(LOCALE_DIR)

# Forget the embedded servers' data and the development keys (stop `make run` first).
clean-data:
	rm -rf .data
