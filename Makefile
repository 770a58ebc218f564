# Two commands for a newcomer (see README.md):
#   make demo   set up .venv, make the sample data, run every enabled job of example.ingest.yaml
#   make test   set up .venv with the test tools, run the whole test suite, the linter and mypy
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m multigate.sample --data-dir data
	$(PY) -m scripts.ingest --config example.ingest.yaml

# The suite runs on every core (pytest-xdist), one test file per worker at a time, so a
# module's fixtures are made once; `--durations` names the slowest tests to work on.
test: $(VENV)/.installed
	$(PY) -m pytest -q -n auto --dist loadfile --durations=15
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) data/ingested
