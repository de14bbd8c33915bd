# Everything a fresh machine needs: `make demo` and `make test` install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export POLEX_CHROMIUM ?= /usr/bin/chromium

.PHONY: install demo test lint bench browser clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

browser:
	@test -x $(POLEX_CHROMIUM) || { \
	  (apt-get update -qq || sudo apt-get update -qq) && \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-core fonts-noto-cjk \
	   || sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-core fonts-noto-cjk); }

demo: install
	$(BIN)/polex demo --size small

lint: install
	$(BIN)/ruff check src
	$(BIN)/mypy src

test: install browser lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
