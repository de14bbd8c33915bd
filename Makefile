# Everything a fresh machine needs: `make demo` and `make test` install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export POLEX_CHROMIUM ?= /usr/bin/chromium
SYSTEM_PACKAGES := chromium chromium-driver fonts-noto-core fonts-noto-cjk default-jre-headless wrk

.PHONY: install demo test lint bench system clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Debian's chromium for the browser tests, a Java runtime for the Spark test of batch linkage,
# wrk for the HTTP arm of benchmarks/search_bench.py
system:
	@test -x $(POLEX_CHROMIUM) && command -v java >/dev/null && command -v wrk >/dev/null || { \
	  (apt-get update -qq || sudo apt-get update -qq) && \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) \
	   || sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)); }

demo: install
	$(BIN)/polex demo --size small

lint: install
	$(BIN)/ruff check src
	$(BIN)/mypy src

test: install system lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
