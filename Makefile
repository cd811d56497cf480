# DataInsight. Two commands do everything on a fresh Debian machine:
#   make run    set up and serve on http://127.0.0.1:8050
#   make test   set up (including Debian's chromium, PostgreSQL, MariaDB and Redis for the tests) and run every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run dev test bench system-deps test-system-deps lock clean

$(PY):
	./scripts/install-system-deps.sh python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.lock | $(PY)
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

$(DEV_STAMP): requirements-dev.lock requirements.lock | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.lock
	touch $(RUNTIME_STAMP) $@

system-deps:
	./scripts/install-system-deps.sh run

test-system-deps:
	./scripts/install-system-deps.sh test

run: $(RUNTIME_STAMP) system-deps
	$(PY) app.py serve

dev: $(RUNTIME_STAMP)
	$(PY) app.py serve --dev

# Beside throwaway PostgreSQL, MariaDB and Redis servers on 127.0.0.1 (scripts/with-postgres.sh,
# scripts/with-mariadb.sh and scripts/with-redis.sh start them and remove them after): every
# test with the metadata on SQLite (tests/connections read from both database servers), then
# the storage, HTTP and integration tests again with the metadata on PostgreSQL, and the
# cluster tests (Celery workers, Redis, two web processes: tests/cluster) once, on
# PostgreSQL and Redis as a cluster runs.
test: $(DEV_STAMP) test-system-deps
	./scripts/with-redis.sh ./scripts/with-mariadb.sh ./scripts/with-postgres.sh sh -c '\
	  env -u DATAINSIGHT_TEST_DATABASE_URL $(PY) -m pytest --ignore=tests/cluster && \
	  $(PY) -m pytest -p no:cacheprovider tests/storage tests/http tests/integration tests/cluster'

bench: $(DEV_STAMP) $(BASELINE_STAMP)
	$(PY) -m bench

# ydata-profiling, the profiling benchmark's baseline, needs pandas 2: it gets a venv of
# its own that bench/profile.py runs in a child process.
BASELINE_VENV := .venv-baseline
BASELINE_STAMP := $(BASELINE_VENV)/.installed
$(BASELINE_STAMP): bench/requirements-baseline.txt
	$(PYTHON) -m venv $(BASELINE_VENV)
	$(BASELINE_VENV)/bin/python -m pip install --quiet -r bench/requirements-baseline.txt
	touch $@

$(BASELINE_VENV): $(BASELINE_STAMP)

# Re-pin after changing a dependency on purpose: installs the ranges in pyproject.toml
# into a scratch venv and writes what resolved.
lock:
	rm -rf /tmp/datainsight-lock && $(PYTHON) -m venv /tmp/datainsight-lock
	/tmp/datainsight-lock/bin/pip install --quiet .
	(echo "# Runtime pins: exactly what was tested. Regenerate with 'make lock'."; \
	 /tmp/datainsight-lock/bin/pip freeze | grep -v '^datainsight') > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache
