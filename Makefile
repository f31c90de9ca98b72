# pbx — one entry point for humans and CI.
#   make run    set up .venv and run the PBX in the foreground on ./etc
#   make test   set up everything (venv, Debian and npm packages) and run checks + the whole suite
#   make check  ruff, mypy, import layers
#   make unit | adapters | integration | e2e   one tier of the suite
# PBX_SKIP_SLOW=1 skips the slowest browser tests locally (CI runs them).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive as real peers (sipp = sip-tester).
APT_PKGS := sip-tester baresip chromium sox espeak-ng libnss3-tools
APT_BINS := sipp baresip chromium sox espeak-ng certutil
NPM_DIR  := test/e2e/webrtc

.PHONY: run test check unit adapters integration e2e fmt venv sysdeps npmdeps clean bench \
	bench-register bench-calls bench-media bench-ws bench-webrtc

$(STAMP): setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/pbx -C etc -f

# Install the real SIP/browser peers the tests drive, only where missing.
sysdeps:
	@missing=""; for b in $(APT_BINS); do command -v $$b >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $(APT_PKGS)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PKGS) >/dev/null; \
	fi

npmdeps: $(NPM_DIR)/node_modules/.installed

$(NPM_DIR)/node_modules/.installed: $(NPM_DIR)/package.json
	cd $(NPM_DIR) && npm install --no-audit --no-fund --silent
	touch $@

check: $(STAMP)
	$(VENV)/bin/ruff check pbx test contrib
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(VENV)/bin/pytest -q test/unit

adapters: $(STAMP)
	$(VENV)/bin/pytest -q test/adapters

integration: $(STAMP) sysdeps
	$(VENV)/bin/pytest -q test/integration

e2e: $(STAMP) sysdeps npmdeps
	$(VENV)/bin/pytest -q test/e2e

test: $(STAMP) sysdeps npmdeps check
	$(VENV)/bin/pytest -q test

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix pbx test contrib
	$(VENV)/bin/ruff format pbx test contrib

# Benchmarks print figures and never gate CI (contrib/bench/README.md explains each).
bench: bench-register bench-calls bench-media bench-ws bench-webrtc

bench-register: $(STAMP) sysdeps
	$(PY) contrib/bench/register_rate.py

bench-calls: $(STAMP) sysdeps
	$(PY) contrib/bench/call_rate.py

bench-media: $(STAMP)
	$(PY) contrib/bench/media_relay.py --calls 100 200 350
	$(PY) contrib/bench/media_relay.py --calls 100 200 --srtp

bench-ws: $(STAMP)
	$(PY) contrib/bench/ws_register.py -n 1000

bench-webrtc: $(STAMP)
	$(PY) contrib/bench/webrtc_calls.py --calls 20 100 200

clean:
	rm -rf $(VENV) $(NPM_DIR)/node_modules .mypy_cache .pytest_cache .ruff_cache
