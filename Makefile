# The two commands of the README: `make demo` and `make test`. Both create and reuse .venv.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= all,dev
DEMO   := demo-output

.PHONY: install demo test test-fast bench lint clean

install: $(STAMP)

# Reinstall only when the project's dependencies change; otherwise this is instant.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

demo: install
	@mkdir -p $(DEMO)
	$(BIN)/lathe check examples/data/adult.csv --target income
	$(BIN)/lathe train examples/data/adult.csv --target income --preset best --time-budget 60 --out $(DEMO)/adult --force
	$(BIN)/lathe evaluate $(DEMO)/adult examples/data/adult_holdout.csv --report $(DEMO)/adult_report.html
	$(BIN)/lathe predict $(DEMO)/adult examples/data/adult_new.csv --out $(DEMO)/adult_scored.csv --proba
	$(BIN)/lathe train examples/data/banking77.csv --target category --out $(DEMO)/banking77 --force
	$(BIN)/lathe evaluate $(DEMO)/banking77 examples/data/banking77_holdout.csv --report $(DEMO)/banking77_report.html
	@echo "demo done: models, reports and predictions are in $(DEMO)/"

# lint-imports checks the layers contract in .importlinter (imports only point down, no cycles)
test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python bench/quality.py

# pip-audit over the installed dependencies; says SKIPPED (never "ok") when offline
audit: install
	$(BIN)/python .ci/audit.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(DEMO) .pytest_cache build src/*.egg-info
