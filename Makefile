# The two commands: `make run` (install, migrate, serve) and `make test` (install, lint, test);
# `make dev` is `make run` reloading on every change under backend/src.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

# `make dev` (the story's command) and the compose file's checker.
.PHONY: dev compose-tool
.PHONY: run worker test test-fast install install-test lock lint chromium coturn sdk-page redis test-sqlite test-postgres migrate models bench drills clean

# Every install is the lock files' exact packages, each checked against its hashes (pip-tools;
# `make lock` refreshes them from backend/pyproject.toml). The runtime's for run and worker, the
# runtime's and the tests' for test.
LOCK := backend/requirements.lock
TEST_LOCK := backend/requirements-test.lock
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.6.2

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'pip==$(PIP_VERSION)'

# The project itself goes in without build isolation (built by the locked setuptools, so nothing
# unlocked is fetched) and without dependencies; `pip check` then fails if the lock lacks one.
define install_locked
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(1)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e ./backend
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; \
		echo "backend/pyproject.toml and $(1) differ: run make lock" >&2; exit 1; }
endef

$(VENV)/.installed: $(LOCK) backend/pyproject.toml | $(BIN)/python
	$(call install_locked,$(LOCK))
	touch $@

$(VENV)/.installed-test: $(TEST_LOCK) backend/pyproject.toml | $(BIN)/python
	$(call install_locked,$(TEST_LOCK))
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# After a change to backend/pyproject.toml's dependencies: the locks follow it, keeping every
# other pin (LOCK_ARGS=--upgrade moves everything to the newest; --upgrade-package NAME one).
LOCK_TOOLS := $(VENV)/lock-tools
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --build-deps-for=editable \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock:
	@test -x $(LOCK_TOOLS)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/pip install --quiet 'pip-tools==$(PIP_TOOLS_VERSION)'; }
	$(LOCK_TOOLS)/bin/pip-compile $(LOCK_FLAGS) --output-file=$(LOCK) backend/pyproject.toml
	$(LOCK_TOOLS)/bin/pip-compile $(LOCK_FLAGS) --extra=test --output-file=$(TEST_LOCK) \
		backend/pyproject.toml

migrate: install
	cd backend && ../$(BIN)/alembic upgrade head

# Moonshine's one-time conversion (~20 s, ~1 GB of memory) into MODEL_CACHE_DIR, so that neither
# the first start nor the first question waits for it; a no-op once done.
models: install
	cd backend && ../$(BIN)/python -m src.voice_pipeline.moonshine_convert

# With REDIS_URL set, the worker supervisor runs beside the API (WORKERS=0: the API alone).
run: migrate models
	scripts/serve

# The same server, restarted on every change under backend/src (installs only when pyproject.toml
# changed, as `make run`). In the worker mode the workers it starts do not reload.
dev: migrate models
	scripts/serve --reload --reload-dir src

# Worker processes only (another machine of the worker mode): needs REDIS_URL and DATABASE_URL.
worker: migrate models
	cd backend && ../$(BIN)/python -m src.worker

lint: install-test
	cd backend && ../$(BIN)/ruff check --config pyproject.toml src tests alembic ../bench
	cd backend && ../$(BIN)/ruff format --config pyproject.toml --check src tests ../bench
	cd backend && ../$(BIN)/mypy
	cd backend && ../$(BIN)/mypy ../bench

# The browser test drives Debian's chromium (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The client-SDK browser test's page, bundled from pipecat's npm packages (npm ci, esbuild);
# without node and npm that test is skipped loudly (and fails in CI).
SDK_PAGE := backend/tests/voice/sdk_page
sdk-page:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) -s $(SDK_PAGE)/dist/bundle.js; \
	else echo "WARNING: node and npm are missing: the client-SDK browser test will be skipped" >&2; fi

$(SDK_PAGE)/node_modules/.package-lock.json: $(SDK_PAGE)/package-lock.json
	cd $(SDK_PAGE) && npm ci --no-audit --no-fund --loglevel=error >/dev/null

$(SDK_PAGE)/dist/bundle.js: $(SDK_PAGE)/index.js $(SDK_PAGE)/node_modules/.package-lock.json
	cd $(SDK_PAGE) && npm run --silent build

# The TURN tests run Debian's coturn (turnserver) on loopback; its service stays disabled.
coturn:
	@command -v turnserver >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn >/dev/null; }

# docker-compose.yml is checked with Debian's docker-compose (`config` needs no container daemon).
compose-tool:
	@command -v docker-compose >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		docker-compose >/dev/null; }

# The worker-mode tests need Redis (and redis-server, for a private one they can stop).
redis: install-test
	@status=0; PY=$(BIN)/python scripts/ensure-redis || status=$$?; \
	if [ $$status -eq 1 ]; then exit 1; fi

# The tests that run no bot in two processes (pytest-xdist, each with its own database), then
# the voice tests in two, a test file to each: they wait on speech said in real time (123 CPU-s
# in 314 s on 2 cores), so two take 5:10 instead of 9:43 (2026-12-06; with a busy loop holding
# one core 5:21, with three processes 3:40, every test passing).
TEST_PROCESSES ?= 2
VOICE_TEST_PROCESSES ?= 2
# The voice and PostgreSQL passes print their slowest tests (the suite's budget is 20 minutes).
test-sqlite: install-test models chromium coturn sdk-page compose-tool
	cd backend && TEST_DB=sqlite ../$(BIN)/python -m pytest -m "not voice" -n $(TEST_PROCESSES)
	cd backend && TEST_DB=sqlite ../$(BIN)/python -m pytest -m voice -n $(VOICE_TEST_PROCESSES) \
		--dist loadfile --durations=15

# The PostgreSQL pass is mostly waiting (worker processes starting, heartbeats, leases running
# out; under half a core in one process): its tests run in two processes, each with its own
# database (6:53 -> 3:27 on 2 cores).
PG_TEST_PROCESSES ?= 2
test-postgres: install-test models redis coturn
	@status=0; PY=$(BIN)/python scripts/ensure-postgres || status=$$?; \
	if [ $$status -eq 2 ]; then exit 0; elif [ $$status -ne 0 ]; then exit $$status; fi; \
	cd backend && TEST_DB=postgresql ../$(BIN)/python -m pytest -n $(PG_TEST_PROCESSES) --durations=10

test: lint test-sqlite test-postgres

# The inner loop: lint, then every test but the voice, browser and worker-process ones (SQLite).
test-fast: lint
	cd backend && TEST_DB=sqlite ../$(BIN)/python -m pytest -m "not voice" -q -n $(TEST_PROCESSES)

# Benchmarks (not tests): a table on stdout and JSON in bench/results/. See bench/README.md.
bench: install-test models
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Fault drills against the app as its own process on PostgreSQL (started if it is not running).
drills: install-test models
	@PY=$(BIN)/python scripts/ensure-postgres
	$(BIN)/python -m bench.drills $(DRILLS_ARGS)

clean:
	rm -rf $(VENV) backend/data
