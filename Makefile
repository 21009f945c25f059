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
	$(PY) -c 'from hiddenscope.server.engine import warm_up; warm_up()'  # fill numba's cache
	touch $@

$(VENV)/.dev-installed: $(PY) setup.py
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c 'from hiddenscope.server.engine import warm_up; warm_up()'  # fill numba's cache
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
# A busy port is named: `make demo PORT=N` stops there; the default 8888 moves to a free port.
demo: $(VENV)/.demo-installed
	@port=$$($(PY) -c "$$PICK_PORT" $(HOST) $(PORT) "$(origin PORT)") && \
	$(VENV)/bin/hiddenscope demo $(DEMO) --host $(HOST) --port $$port

define PICK_PORT
import socket, sys
host, port, origin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def bind(p):
    s = socket.socket()
    try:
        s.bind((host, p))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
if bind(port) is not None:
    print(port)
elif origin == "command line":
    sys.exit(f"port {port} on {host} is in use (another server?); choose another: make demo PORT={port + 1}")
else:
    free = bind(0)
    print(f"port {port} on {host} is in use (another server?); serving on {free} instead "
          "(choose one with: make demo PORT=N)", file=sys.stderr)
    print(free)
endef
export PICK_PORT

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
