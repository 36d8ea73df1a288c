# Hotline: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed
# make run PORT=5050: where the local server listens (simulate follows it, see config.py).
PORT   ?= 5000
# The browser the suite drives; scripts/system-packages.sh installs Debian's when missing.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

.PHONY: run test test-postgres lint translations install system-packages clean-instance

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	@if ls hotline/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -d hotline/translations; fi

## Start the app on SQLite in instance/ at http://127.0.0.1:$(PORT) (default 5000)
run: $(STAMP) translations
	$(FLASK) db upgrade
	$(FLASK) users ensure-admin
	@mkdir -p instance && echo $(PORT) > instance/run-port
	@echo ""
	@echo "Hotline is starting. Open  http://127.0.0.1:$(PORT)/login  (staff)  or  http://127.0.0.1:$(PORT)/  (public page); Ctrl-C stops it."
	@echo ""
	PORT=$(PORT) $(FLASK) run --host 127.0.0.1 --port $(PORT)

## Debian packages the suite needs (Chromium, nginx): installed when missing
system-packages:
	@bash scripts/system-packages.sh

## The whole test suite on SQLite
test: system-packages $(STAMP) translations
	$(BIN)/pytest -q -p no:cacheprovider

## The whole suite against PostgreSQL (DATABASE base URL in HOTLINE_TEST_DATABASE_URL)
test-postgres: system-packages $(STAMP) translations
	HOTLINE_TEST_DATABASE_URL=$${HOTLINE_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/pytest -q -p no:cacheprovider

## ruff, mypy (hotline/, config.py, settings.py) and vulture (dead code); CI runs the same
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/vulture
