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

.PHONY: run test test-postgres lint translations translations-update install system-packages clean-instance

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Compile both catalogue domains (messages: the pages; callers: what a caller is sent or
# hears) into the .mo files the app reads (not in git).
translations: $(STAMP)
	@if ls hotline/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -D "messages callers" -d hotline/translations; fi

## After changing a text marked for translation: extract both domains and merge them into
## every language's catalogues (then translate the new entries; README "Translations")
translations-update: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output \
		-o hotline/translations/messages.pot .
	$(BIN)/pybabel update -i hotline/translations/messages.pot -d hotline/translations \
		--no-fuzzy-matching
	$(BIN)/pybabel extract -F babel-callers.cfg --no-default-keywords -k C_ \
		--add-comments=Translators: --no-location --sort-output --project=Hotline \
		-o hotline/translations/callers.pot .
	$(BIN)/pybabel update -D callers -i hotline/translations/callers.pot \
		-d hotline/translations --no-fuzzy-matching

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
