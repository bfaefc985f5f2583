# voicewatch — everything a newcomer or CI needs, from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test test-fast bench bench-large lint format messages compile-messages clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Chromium + ChromeDriver (browser tests) and PostgreSQL (the suite starts its own server).
system-deps:
	bash scripts/system-deps.sh

run: install
	$(BIN)/voicewatch up

test: install system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q --durations=20

test-fast: install
	$(BIN)/pytest -q -m "not postgres and not browser and not slow"

bench: install
	$(BIN)/python -m bench

bench-large: install
	$(BIN)/python -m bench --large

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Translations: collect the marked strings, merge them into the Chinese catalog (then translate
# the new entries in ingest/locale/zh_CN/LC_MESSAGES/voicewatch.po), compile for speed.
LOCALE := ingest/locale
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --sort-by-file --no-wrap --omit-header -o $(LOCALE)/voicewatch.pot ingest dashboard
	$(BIN)/pybabel update -i $(LOCALE)/voicewatch.pot -d $(LOCALE) -D voicewatch -l zh_CN --no-wrap --no-fuzzy-matching

compile-messages: install
	$(BIN)/pybabel compile -d $(LOCALE) -D voicewatch

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
