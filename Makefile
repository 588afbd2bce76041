# Two commands on a fresh clone: `make demo` and `make test`. Everything installs into .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DBT_VENV := .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed
export DO_NOT_TRACK := 1

.PHONY: install models-env test lint demo models bench package debug clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m tools.pipreqs_hints
	touch $(STAMP)

# dbt and dbt-duckdb in an environment of their own: their pins are not the connector's.
models-env: $(DBT_STAMP)

$(DBT_STAMP): dbt/requirements.txt
	test -x $(DBT_VENV)/bin/python || $(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r dbt/requirements.txt
	touch $(DBT_STAMP)

# On every core, a module's tests on one worker, so a module fixture (one dbt build, one shared first sync) runs once.
test: install models-env
	$(BIN)/python -m pytest -n auto --dist loadscope

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: install models-env
	$(BIN)/python -m tools.demo $(DEMO_ARGS)

models: install models-env
	$(BIN)/python -m tools.models $(MODELS_ARGS)

bench: install
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

package: install
	$(BIN)/python -m tools.package

debug: install
	$(BIN)/python -m tools.debug_real

clean:
	rm -rf $(VENV) $(DBT_VENV) build dist files crash-reports .mypy_cache .pytest_cache .ruff_cache *.egg-info
