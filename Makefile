# Two commands set everything up on a fresh machine:
#   make run    start the gRPC server on the embedded SQLite store (var/sqm.sqlite3)
#   make test   lint, type-check and run the whole test suite
#   make bench  the benchmark suite (not part of the tests; about 20 minutes, see docs/performance.md)
# Each creates .venv and installs what it needs first.

SHELL := /bin/bash
# The first interpreter that is 3.11 or 3.12 (durable-rules does not import on 3.13).
PYTHON ?= $(shell for p in python3 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BUF_VERSION := 1.61.0
BUF := .tools/node_modules/.bin/buf
# `make test` runs pytest on two cores with pytest-xdist (PYTEST_WORKERS=0: serially, in this
# process). PYTEST_ARGS come last, so they win: PYTEST_ARGS="-n 0 tests/unit/test_decide.py".
# --dist loadgroup: each test goes to whichever worker is free next, except the modules marked
# xdist_group, which one worker runs whole (one server shared by all their tests, or an
# expensive module-scoped set-up built once). worksteal ignores those marks, and
# test_hostile_grpc needs them; loadfile and loadscope hand out the modules with the fewest
# tests last (xdist sorts them by size), and here those are the slowest (the quick benchmark,
# the kill loops), which would leave one worker finishing them alone.
PYTEST_WORKERS ?= 2
PYTEST_DIST ?= loadgroup
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest bench proto docs buf chromium clean

run: $(INSTALLED)
	$(BIN)/sqm serve $(ARGS)

test: $(INSTALLED) buf lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest: $(INSTALLED)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) $(PYTEST_ARGS)

# Every figure against a ceiling measured in the same run; prints a table, writes
# bench/results/TIME.json. ARGS="--quick" is the few-second smoke run.
bench: $(INSTALLED)
	$(BIN)/python -m bench $(ARGS)

# The venv is rebuilt when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	@test -n "$(PYTHON)" || { echo "SQM needs Python 3.11 or 3.12 on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# buf (for `buf lint` on proto/) ships as an npm package; without npm the lint test is
# skipped and says so.
buf: $(BUF)
$(BUF):
	@if command -v npm >/dev/null; then \
		npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@$(BUF_VERSION); \
	else echo "npm not found: buf lint will be skipped"; fi

# Headless Chromium for the browser check of the HTML reports (tests/e2e/test_report_in_browser.py
# skips without it and says so). Debian's package, installed with apt-get, so it needs root; kept
# out of `make test`, which never calls apt.
# With CJK fonts: the reports quote the process's Chinese terms and the packs' rule titles.
chromium:
	@if [ -x /usr/bin/chromium ] && fc-list :lang=zh 2>/dev/null | grep -q .; then \
		/usr/bin/chromium --version 2>/dev/null; \
	else apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk; fi

proto: $(INSTALLED)
	$(BIN)/python proto/generate.py

# docs/lifecycle.md embeds the diagram and the rule actions' table generated from the machine
# definition; a test fails when either is stale.
docs: $(INSTALLED)
	{ cat docs/lifecycle.head.md && echo '```mermaid' && $(BIN)/sqm lifecycle && echo '```' \
		&& echo && $(BIN)/sqm lifecycle --actions; } > docs/lifecycle.md

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
