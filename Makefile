# Hotline: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
STAMP  := $(VENV)/.installed

.PHONY: run test test-postgres lint translations install clean-instance

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	@if ls hotline/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -d hotline/translations; fi

## Start the app on SQLite in instance/ at http://127.0.0.1:5000
run: $(STAMP) translations
	$(FLASK) db upgrade
	$(FLASK) users ensure-admin
	@echo "Hotline is starting on http://127.0.0.1:5000 (sign in at /login; Ctrl-C stops it)"
	$(FLASK) run --host 127.0.0.1 --port 5000

## The whole test suite on SQLite
test: $(STAMP) translations
	$(BIN)/pytest -q -p no:cacheprovider

## The whole suite against PostgreSQL (DATABASE base URL in HOTLINE_TEST_DATABASE_URL)
test-postgres: $(STAMP) translations
	HOTLINE_TEST_DATABASE_URL=$${HOTLINE_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
