# Two entry points, each sets up what it needs first (idempotently):
#   make dev   - run Kairos on its embedded PostgreSQL with three local agents
#                (flags of `kairos dev` in ARGS: make dev ARGS="--listen 127.0.0.1:50151")
#   make test  - lint, type-check and run the whole test suite (in parallel:
#                TEST_WORKERS, below)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist workers for `make test`. The suite mostly waits (end-to-end tests
# sleep until schedule instants), so 4 workers beat one per core even on 2 cores;
# --maxschedchunk 1 hands out one test at a time, so the long ones (run first, see
# tests/conftest.py) are spread over the workers instead of queued on one.
# TEST_WORKERS=0 runs the suite in this process, serially.
TEST_WORKERS ?= 4

.PHONY: dev test lint bench stubs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

dev: $(BIN)/.installed
	$(BIN)/kairos dev $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --maxschedchunk 1

bench: $(BIN)/.installed
	$(BIN)/python -m bench.schedule_bench
	$(BIN)/python -m bench.invocation_bench
	$(BIN)/python -m bench.ticker_bench
	$(BIN)/python -m bench.status_bench
	$(BIN)/python -m bench.watch_memory_bench
	$(BIN)/python -m bench.fleet_bench --agents 1000,10000
	$(BIN)/python -m bench.rollout_bench
	$(BIN)/python -m bench.retention_bench

stubs: $(BIN)/.installed
	$(BIN)/python proto/generate_stubs.py
