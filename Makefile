# Every habit in one place: `make demo`, `make test`, `make lint`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= demo.db

.PHONY: demo test lint bench clean install

# A venv with rbacmap installed as users get it (a plain `pip install .`), plus test tools.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q '.[test,fast]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	RBACMAP_DB=$(DEMO_DB) sh scripts/demo.sh $(BIN)/rbacmap

# pytest exits 5 when it collects no test; an empty collection is not a failure.
test: $(VENV)/.installed
	$(BIN)/pytest -q || [ $$? -eq 5 ]

lint: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[lint]'  # editable: lint never swaps a developer's live checkout for a copy
	$(BIN)/ruff check rbacmap importers tui tests bench scripts
	MYPY=$(abspath $(BIN))/mypy sh scripts/typecheck.sh

bench: $(VENV)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
