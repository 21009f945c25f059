# The two commands of the README's quick start: `make demo` and `make test`.
# Everything they need is installed here, from the package registries only.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8888
DEMO ?= datasets/parens
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test venv install-dev chromium serve lint bench clean

# --- environment -----------------------------------------------------------
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(PY) setup.py
	$(PY) -m pip install --quiet -e '.[extract]'
	touch $@

$(VENV)/.dev-installed: $(PY) setup.py
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.demo-installed

venv: $(VENV)/.demo-installed
install-dev: $(VENV)/.dev-installed

# Debian's chromium drives the browser tests (never `playwright install`).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# --- the two commands ------------------------------------------------------
# `hiddenscope demo` runs `hiddenscope build $(DEMO)` when its data.h5 is missing, then serves
# datasets/; without the extractor it serves a generated data set instead and says so.
demo: $(VENV)/.demo-installed
	$(VENV)/bin/hiddenscope demo $(DEMO) --host $(HOST) --port $(PORT)

test: $(VENV)/.dev-installed chromium
	$(PY) -m pytest

# --- everyday --------------------------------------------------------------
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check server extract client tests bench setup.py

bench: $(VENV)/.dev-installed chromium
	$(PY) bench/bench_engine.py --small
	$(PY) bench/bench_client.py --runs 5

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
