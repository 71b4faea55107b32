# The README's commands. `make report` and `make test` each set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.obskit-installed

.PHONY: install system-deps report test lint typecheck bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

## The health report of the bundled sample day -> reports/<date>/health.html
report: $(STAMP)
	$(BIN)/obskit report --config data/samples/obskit.toml

## Lint, type-check, unit + integration tests, doctests, and every notebook (nbmake)
test: $(STAMP) system-deps
	$(BIN)/ruff check obskit tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest --doctest-modules obskit tests --nbmake obskit/notebooks --durations=30

lint: $(STAMP)
	$(BIN)/ruff check obskit tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

## Regenerate the committed sample day (deterministic: same bytes)
sample: $(STAMP)
	$(BIN)/obskit sample --out data/samples --seed 42

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf reports test-artifacts .pytest_cache .mypy_cache .ruff_cache
