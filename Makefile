# The README's two commands are `make run` and `make test`; both set up everything
# they need (virtualenv, packages, local Kafka and search engine) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VIGIE := $(BIN)/vigie

.PHONY: run test check wheel-check constraints services-up services-down

# Versions pinned by constraints.txt (reproducible). The machine's own pip, not
# upgraded: the one a user has, which wheel-check tests too.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[dev]'
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

# Vigie installed as a user installs it: a wheel, in a fresh virtualenv made with this
# machine's own pip, run from outside the checkout (.ci/wheel-check says more).
wheel-check:
	PYTHON=$(PYTHON) .ci/wheel-check

test: services-up check wheel-check
	$(BIN)/pytest

# After changing dependencies in pyproject.toml: pin what a fresh install resolves
# today (README, Upgrades), then review the diff.
constraints:
	rm -rf build/constraints-venv
	$(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/pip install --quiet '.[dev]'
	{ sed -n '/^#/p' constraints.txt; build/constraints-venv/bin/pip freeze --exclude vigie; } \
		> constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf build/constraints-venv
