# The two commands: `make run` serves qscore, `make test` passes the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
TEST_WORKERS ?= auto

.PHONY: run test install install-test translations messages bench bench-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TSTAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TSTAMP)

install: $(STAMP) translations

install-test: $(TSTAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d qscore/translations

run: install
	$(FLASK) qscore init --host $(HOST) --port $(PORT)
	$(FLASK) db upgrade
	@echo "qscore on http://$(HOST):$(PORT)"
	$(BIN)/waitress-serve --host $(HOST) --port $(PORT) --threads 8 --ident=qscore app:app

# The suite in one process per core: a file stays in one process (its module's demo street loads once) and
# files are handed out longest first (tests/conftest.py); then the browser tests alone (one xdist run with
# them included was measured faster but is not yet shown steady over five runs on two cores).
# Browser tests use Debian's Chromium when present (its headless shell first), else Playwright's own download.
# Bytecode is written even where the environment says not to: pytest then rewrites the test files' asserts once,
# not in every process of every run (some 9 s of CPU each).
test: install-test
	@if [ ! -x /usr/bin/chromium-headless-shell ] && [ ! -x /usr/bin/chromium ] && [ ! -x /usr/bin/chromium-browser ]; then $(BIN)/python -m playwright install chromium; fi
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --ignore=tests/e2e
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q tests/e2e

messages: | $(BIN)/python
	$(BIN)/pybabel extract --no-location --omit-header --width 120 -F qscore/translations/babel.cfg -k _l -k N_ -o qscore/translations/messages.pot qscore templates
	$(BIN)/pybabel update -i qscore/translations/messages.pot -d qscore/translations --no-fuzzy-matching --width 120

BSTAMP := $(VENV)/.installed-bench

$(BSTAMP): pyproject.toml $(TSTAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BSTAMP)

bench: install-test $(BSTAMP)
	$(BIN)/python -m bench --scale street --quick

bench-full: install-test $(BSTAMP)
	$(BIN)/python -m bench --scale street
	$(BIN)/python -m bench --scale district

clean:
	rm -rf $(VENV) .pytest_cache
