# The README's two commands are `make run` and `make test`; both set up everything
# they need (virtualenv, packages, local Kafka and search engine) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VIGIE := $(BIN)/vigie

.PHONY: run test check services-up services-down

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

services-up: $(VENV)/.installed
	$(VIGIE) services up

services-down: $(VENV)/.installed
	$(VIGIE) services down

# The main job on the local default: ingest the sample feed, run the worker until
# the article is indexed, then search for it.
run: services-up
	$(VIGIE) ingest samples/seed-feed.xml --feed-id vigie-sample --name "Vigie sample"
	$(VIGIE) worker --exit-after 1
	$(VIGIE) search "Corée du Nord"

check: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: services-up check
	$(BIN)/pytest
