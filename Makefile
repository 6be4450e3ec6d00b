# Two commands do all the set-up on a fresh machine: `make analysis` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= runs/example

.PHONY: analysis test test-fast test-slow bench data clean-venv

# Re-install when the dependencies change; the package itself is an editable install.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

analysis: $(STAMP)
	$(VENV)/bin/rechallenge analyze --out $(OUT) --overwrite

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/run.py

data: $(STAMP)
	$(PY) -m rechallenge.data.generate --check

clean-venv:
	rm -rf $(VENV)
