# pdfq: `make` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every install takes the tested versions: requirements.txt names requirements.lock.
$(VENV)/.local: requirements.txt requirements-local.txt requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-local.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-local.txt requirements-dev.txt requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.local $@

.PHONY: install
install: $(VENV)/.dev ## install everything (service, local S3, tests, honcho, supervisor) into .venv; runs nothing

.PHONY: run
run: $(VENV)/.local ## run the service locally: S3, web on 127.0.0.1:8000, worker (PORT=8011, HOST=0.0.0.0 change it)
	@bash tools/install_ocr.sh
	$(BIN)/python -m infra.dev $(if $(HOST),--host $(HOST))

# make exits 2 whatever a recipe exited with: the CLI's own code is printed, and scripts
# that branch on it run `.venv/bin/python -m infra.dev cli ...`, which exits with it.
.PHONY: cli
cli: $(VENV)/.local ## the CLI with make run's settings: make cli ARGS="submit samples" (docs/cli.md)
	@$(BIN)/python -m infra.dev cli $(ARGS) || { code=$$?; echo "make cli: exit code $$code \
	(docs/cli.md); make reports every failure as 2, .venv/bin/python -m infra.dev cli \
	$(ARGS) exits with the code itself" >&2; exit $$code; }

.PHONY: lock
lock: | $(BIN)/python ## rewrite requirements.lock from the requirements files (commit both)
	$(BIN)/python tools/lock.py

.PHONY: test
test: $(VENV)/.dev ## install the dev requirements and run every test, on every core
	$(BIN)/python -m pytest -n auto

.PHONY: test-fast
test-fast: $(VENV)/.dev ## the unit tests only (no server process), on every core: the loop while coding
	$(BIN)/python -m pytest -m unit -q -n auto

.PHONY: lint
lint: $(VENV)/.dev ## ruff check and format check, and the house rules (tools/architecture.py)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/architecture.py

.PHONY: format
format: $(VENV)/.dev ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: bench
bench: $(VENV)/.dev ## benchmarks with ratios (quick, a few minutes); `make bench FULL=1` for all
	$(BIN)/python -m bench $(if $(FULL),--full)

.PHONY: fuzz
fuzz: $(VENV)/.dev ## mutation fuzzing through the real stack: thousands of mutants (MUTANTS=, SEED=)
	PDFQ_FUZZ_MUTANTS=$(or $(MUTANTS),2000) $(if $(SEED),PDFQ_FUZZ_SEED=$(SEED)) \
		$(BIN)/python -m pytest tests/test_fuzz.py -q -s

.PHONY: clean
clean: ## remove the virtualenv and the local data folder
	rm -rf $(VENV) .pdfq-data
