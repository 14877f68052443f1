# idelearn — `make demo` runs the main job, `make test` runs the test suite.
# Both set up .venv first when it is missing (a fresh machine has only Python 3.11 + pip).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast test-fuzz lint bench clean

setup: $(STAMP)

# torch==2.13.0 first: on CPU machines that is the CPU build (a plain `torch`
# requirement would pull a multi-GB CUDA build).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,launchers]'
	touch $(STAMP)

# The main job: learn the Dyson memory integral on t <= 10, extrapolate to t = 40 (rel_l2 + figure path printed).
demo: setup
	$(BIN)/idelearn train model=memory_operator
	$(BIN)/idelearn extrapolate t_final=40

# Two workers (pytest-xdist, tests handed out as workers free up), one thread each.
test: setup
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

test-fast: setup
	$(BIN)/python -m pytest -q -n 2 --dist worksteal -m "not slow"

# The property-based tests of the CLI with 50x the examples of `make test` (2400 against 48: tests/conftest.py).
test-fuzz: setup
	$(BIN)/python -m pytest -q -m fuzz tests/cli --hypothesis-profile=idelearn-slow --hypothesis-show-statistics

lint: setup
	$(BIN)/ruff check idelearn tests benchmarks

bench: setup
	$(BIN)/python benchmarks/solver_speed.py --quick

clean:
	rm -rf outputs multirun build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
