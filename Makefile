# Two commands do all the set-up on a fresh machine: `make analysis` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= runs/example

.PHONY: analysis test test-fast test-slow lint typecheck bench data clean-venv

# Re-install when the dependencies change; the package itself is an editable install.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

analysis: $(STAMP)
	$(VENV)/bin/rechallenge analyze --out $(OUT) --overwrite

# `make test` = the linter, the type checker, then every test tier (the layer test among them).
# Two pytest processes (pytest-xdist), a test module's tests kept together so its module-scoped
# runs are made once; each process starts its own session cluster (tests/conftest.py).
PYTEST_PARALLEL ?= -n 2 --dist loadfile
test: lint typecheck
	$(PY) -m pytest -q $(PYTEST_PARALLEL)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# mypy sees the folders under the names the package gives them (rechallenge.models = models/,
# ...) through a tree of symbolic links under build/, made here.
TYPECHECK_TREE := build/typecheck/rechallenge
typecheck: $(STAMP)
	mkdir -p $(TYPECHECK_TREE)
	for folder in analysis models data; do ln -sfn ../../../$$folder $(TYPECHECK_TREE)/$$folder; done
	MYPYPATH=build/typecheck $(VENV)/bin/mypy -p rechallenge.models -p rechallenge.data -p rechallenge.analysis

test-fast: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_PARALLEL) -m "not integration and not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_PARALLEL) -m slow

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) benchmarks/run.py --numpyro-python $(PY)

data: $(STAMP)
	$(PY) -m rechallenge.data.generate --check

clean-venv:
	rm -rf $(VENV)
