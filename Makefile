# Two entry points: `make run` (serve on the embedded SQLite default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint audit install messages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# axe-core, which the browser tests load into Chromium (package-lock.json pins it).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(BIN)/promoter serve --demo

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# Known vulnerabilities in the installed dependencies fail; an unreachable service is
# reported on one "AUDIT NOT RUN" line and fails only with PROMOTER_AUDIT_REQUIRED=1.
audit: install
	$(BIN)/python scripts/audit_dependencies.py

test: install lint audit node_modules/.installed
	bash scripts/ensure-postgres
	bash scripts/ensure-chromium
	$(BIN)/pytest -n 4 --dist loadfile -m "not serial"
	$(BIN)/pytest -n 2 --dist loadfile -m "serial and not alone"
	$(BIN)/pytest -m alone

# A developer's quick run, a few minutes: the in-process tests (no server process, no
# browser, no fuzzing) on SQLite only, four processes at a time.
test-fast: install
	PROMOTER_TEST_BACKENDS=sqlite $(BIN)/pytest -n 4 --dist loadfile -m "not serial"

# After changing the English words (src/promoter/delivery/i18n.py): regenerate
# src/promoter/locale/messages.pot and merge it into every language's messages.po.
messages: install
	$(BIN)/python scripts/update_messages.py
