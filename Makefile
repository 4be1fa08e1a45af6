# wdbench: `make test` and `make bench` install what is missing first.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TASK ?= quadratic
BUDGET ?=
WORKERS ?= 2
OUT ?= results/$(TASK)
ARGS ?=
DATA_DIR ?=
# Local copies of the data sets, used when present (this project's CI machines have them);
# online users get the same data from the Hugging Face hub.
SHARED_DATA ?= ../shared/data
ifneq ($(wildcard $(SHARED_DATA)/wikitext-2-v1-heldout),)
export WDBENCH_DATA_WIKITEXT ?= $(abspath $(SHARED_DATA)/wikitext-2-v1-heldout)
endif
ifneq ($(wildcard $(SHARED_DATA)/cifar10-jpeg),)
export WDBENCH_DATA_CIFAR10 ?= $(abspath $(SHARED_DATA)/cifar10-jpeg)
endif

.PHONY: install test test-fast lint bench report perf gpu-check docs clean

install: $(STAMP)

# torch goes in first and pinned: an unpinned resolve pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# Every test (DDP, kill and resume, browser, SLURM): what CI runs. Three pytest-xdist workers on
# this 2-core machine, because many tests wait on subprocesses and SLURM jobs. The long kinds
# go first (tests/conftest.py); --dist loadgroup hands out one test at a time, except that a
# module's tests marked with one xdist_group (they share an expensive module fixture) go to one
# worker together, so the fixture is built once. The edit loop is CPU-bound: one worker per core,
# in pytest-xdist's default chunks, which keep a module's tests on one worker and so build its
# module fixtures once. Timings: docs/results/operations.md.
TEST_WORKERS ?= 3
FAST_WORKERS ?= 2
XDIST := --dist loadgroup --no-loadscope-reorder
# PYTHONDONTWRITEBYTECODE emptied: pytest keeps the test modules it rewrote (assertion
# introspection) in the git-ignored __pycache__, so the next run skips rewriting them (measured:
# collection 10.8 s -> 7.8 s per worker on this machine, where the environment sets it).
TEST_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=
test: install
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) $(XDIST)

# The edit loop: every test but the kinds marked (pyproject.toml declares them):
#   slow       long in-process computation (torch.compile, long training runs)
#   e2e        the CLI, a trial or a tracker in a child process, whole sweeps, kill/resume
#   ddp        several processes of one trial        slurm      needs the SLURM cluster
#   browser    headless Chromium through Playwright   gpu_check  `make gpu-check --dry-run`
# (`cuda` tests skip themselves without a GPU.) `pytest -m e2e` and so on runs one kind.
FAST_TESTS := not (slow or e2e or ddp or slurm or browser or gpu_check)
test-fast: install
	$(TEST_ENV) $(PY) -m pytest -n $(FAST_WORKERS) -m "$(FAST_TESTS)"

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) -m bench sweep --task $(TASK) --workers $(WORKERS) --out $(OUT) \
		$(if $(BUDGET),--budget $(BUDGET)) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(ARGS)
	$(PY) -m bench report $(OUT)

report: install
	$(PY) -m bench report $(OUT)

perf: install
	$(PY) -m bench.perf

# The prepared GPU check (< 8 min on one H100/H200): results/gpu-check.md and .json.
# `make gpu-check ARGS=--dry-run` runs every stage on CPU at tiny sizes (make test does too).
gpu-check: install
	$(PY) -m bench.perf gpu $(ARGS)

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on a broken link or
# anchor. MkDocs comes from the `docs` extra, installed on first use.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build site *.egg-info
