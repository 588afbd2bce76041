# Two commands on a fresh clone: `make demo` and `make test`. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1

.PHONY: install test lint demo bench package debug clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: install
	$(BIN)/python -m tools.demo $(DEMO_ARGS)

bench: install
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

package: install
	$(BIN)/python -m tools.package

debug: install
	$(BIN)/python -m tools.debug_real

clean:
	rm -rf $(VENV) build dist files crash-reports .mypy_cache .pytest_cache .ruff_cache *.egg-info
