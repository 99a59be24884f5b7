# zsaudit — two commands: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Real Apache Airflow for the integration tests lives in its own venv (cached between runs).
AIRFLOW_VENV    ?= .venv-airflow
AIRFLOW_VERSION ?= 3.3.2
# ... and Airflow 2 (REST API v1, CronDataIntervalTimetable) in a second one.
AIRFLOW2_VENV    ?= .venv-airflow-2
AIRFLOW2_VERSION ?= 2.10.5

.PHONY: demo test test-fast test-airflow test-spark airflow-venvs install-all bench cli-docs clean help

help:
	@echo "make demo          set up .venv and run zsaudit end to end on synthetic data"
	@echo "make test          set up .venv and run every test (unit, property, CLI, PDF, PostgreSQL)"
	@echo "make test-airflow  run the tests that drive a real Airflow $(AIRFLOW_VERSION) and $(AIRFLOW2_VERSION) scheduler"
	@echo "make test-spark    run the tests that start a real standalone Spark cluster (needs Java 17)"
	@echo "make install-all   install everything the three test targets need, at once (what CI does first)"
	@echo "make bench         run the benchmarks in bench/ (minutes; writes docs/benchmarks.md data)"
	@echo "make cli-docs      regenerate docs/cli.md from the commands' --help (a test checks it)"

# An editable build of zsaudit rewrites zsaudit.egg-info/ in this tree: builds that may run at
# once (.venv's, the two Airflow venvs'; tests/airflow_harness.py takes the same lock) take turns
# on this lock file, where flock(1) is there.
EDITABLE_LOCKED := $(if $(shell command -v flock),flock $(CURDIR)/.editable-build.lock)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(EDITABLE_LOCKED) $(BIN)/python -m pip install --quiet -e '.[test,postgres,sign]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zsaudit demo --out zsaudit-demo

# PYTHONDONTWRITEBYTECODE emptied for the tests: where the environment sets it (this machine's
# sessions do), every `zsaudit` process a test starts would compile zsaudit's sources again
# (~0.1 CPU-s each) and pytest would rewrite every test module in each worker.
TEST_ENV := PYTHONDONTWRITEBYTECODE=

# Three pytest workers on this 2-core machine: the suite's tests wait on servers, subprocesses and
# the disk, and a third worker fills those waits (session 16, two interleaved pairs: 5m50s / 661
# CPU-s against 6m05s / 656 with two, 5m29s / 626 against 5m40s / 614; docs/benchmarks.md,
# "Test suite time").
TEST_WORKERS ?= 3

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -m "not airflow and not spark" -n $(TEST_WORKERS) --dist loadfile -q

test-fast: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -m "not airflow and not spark and not slow" -q -x

# The two Airflow venvs, installed (or found current) at once by tests/airflow_harness.py (uv):
# mostly downloads and unpacking, which overlap; the target fails if either failed.
AIRFLOW_HARNESS = ZSAUDIT_AIRFLOW_VENV=$(abspath $(1)) AIRFLOW_VERSION=$(2) $(BIN)/python tests/airflow_harness.py

airflow-venvs: $(STAMP)
	@$(call AIRFLOW_HARNESS,$(AIRFLOW_VENV),$(AIRFLOW_VERSION)) & one=$$!; \
	$(call AIRFLOW_HARNESS,$(AIRFLOW2_VENV),$(AIRFLOW2_VERSION)) & two=$$!; \
	wait $$one; rc1=$$?; wait $$two; rc2=$$?; \
	test $$rc1 -eq 0 && test $$rc2 -eq 0

# The two Airflow suites run at once: each is CPU-bound (Airflow's imports, scheduler, api-server
# and task processes) but single-threaded at any moment, so two keep both cores mostly busy; they
# share nothing (own AIRFLOW_HOME, ports, pytest temp and cache dirs). Each suite's output goes to
# test-artifacts/airflow-<version>.log and is printed whole once both are done; the target fails
# if either failed.
AIRFLOW_SUITE = $(TEST_ENV) ZSAUDIT_AIRFLOW_VENV=$(abspath $(1)) AIRFLOW_VERSION=$(2) \
	$(BIN)/python -m pytest -m airflow -q -o cache_dir=.pytest_cache/airflow-$(2) \
	> test-artifacts/airflow-$(2).log 2>&1

test-airflow: airflow-venvs
	@mkdir -p test-artifacts; \
	echo "test-airflow: Airflow $(AIRFLOW_VERSION) and $(AIRFLOW2_VERSION) at once (logs: test-artifacts/airflow-*.log)"; \
	$(call AIRFLOW_SUITE,$(AIRFLOW_VENV),$(AIRFLOW_VERSION)) & one=$$!; \
	$(call AIRFLOW_SUITE,$(AIRFLOW2_VENV),$(AIRFLOW2_VERSION)) & two=$$!; \
	wait $$one; rc1=$$?; wait $$two; rc2=$$?; \
	echo "== Airflow $(AIRFLOW_VERSION) (exit $$rc1)"; cat test-artifacts/airflow-$(AIRFLOW_VERSION).log; \
	echo "== Airflow $(AIRFLOW2_VERSION) (exit $$rc2)"; cat test-artifacts/airflow-$(AIRFLOW2_VERSION).log; \
	test $$rc1 -eq 0 && test $$rc2 -eq 0

# PySpark (the `spark` extra) goes into .venv on first use; the tests start and stop the cluster.
# The extra's requirements are read from pyproject.toml and installed alone: zsaudit itself is
# already there (editable), and no second build of it runs beside the Airflow venvs'.
SPARK_STAMP := $(VENV)/.spark-stamp
EXTRA_REQUIREMENTS = $(BIN)/python -c "import tomllib; \
	print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['$(1)'])"
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $$($(call EXTRA_REQUIREMENTS,spark))
	touch $(SPARK_STAMP)

test-spark: $(SPARK_STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -m spark -q

# Everything the three test targets need, installed at once once .venv is there: the Airflow
# venvs (uv) and the Spark extra (pip) download and unpack side by side (`make -j` runs them).
install-all: $(STAMP)
	$(MAKE) -j2 airflow-venvs $(SPARK_STAMP)

cli-docs: $(STAMP)
	$(BIN)/python tools/cli_docs.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest_airflow.py
	ZSAUDIT_AIRFLOW_VENV=$(abspath $(AIRFLOW_VENV)) $(BIN)/python bench/airflow_api.py
	$(BIN)/python bench/analyze.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) $(AIRFLOW2_VENV) zsaudit-demo .pytest_cache .hypothesis .editable-build.lock
