# Sésame — the two commands of the README, and a few helpers.
#   make run    create the virtualenv, migrate the SQLite database under var/, load the demo, serve on :8000
#   make test   install what the tests need (Debian: postgresql, redis-server, chromium) and run everything
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test install install-dev system-deps lint typecheck unit docs bench bench-oidc clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed-run $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

run: install
	@scripts/run.sh

test: install-dev
	@scripts/test.sh $(ARGS)

system-deps:
	@scripts/system-deps.sh

lint: install-dev
	$(BIN)/ruff check sesame sesame_demo_partner tests bench
	$(BIN)/ruff format --check sesame sesame_demo_partner tests bench

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -q -m "not browser"

docs: install
	$(BIN)/sesame config docs

# Benchmarks (not part of make test): figures in docs/performance.md.
bench: install-dev
	$(BIN)/python bench/password_blocklist.py

bench-oidc: install-dev
	@command -v wrk >/dev/null || { echo "bench-oidc needs wrk: apt-get install wrk" >&2; exit 1; }
	$(BIN)/python bench/oidc.py $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
