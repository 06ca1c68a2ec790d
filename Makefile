# Two commands run Skillport from a fresh clone: `make run` and `make test`.
# Both create .venv and install the pinned dependencies first, when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The MCP Inspector CLI, a client nobody here wrote, for the connector tests (npm, outside git).
INSPECTOR_VERSION := 2.12.0
INSPECTOR := .data/tools/inspector/node_modules/@modelcontextprotocol/inspector/package.json
# Claude Code's own CLI, the oracle the validator is held to (`claude plugin validate`; npm ships
# the binary in a platform package it installs as an optional dependency).
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE_CODE := .data/tools/claude-code/node_modules/@anthropic-ai/claude-code/package.json
# cisco-ai-skill-scanner, which scans every skill revision (marketplace/scanners.py): a venv of its
# own, because its ~700 MB of dependencies must stay out of the web application's.
SCANNER := .data/tools/scanner/bin/skill-scanner
export SKILLPORT_BASE_URL ?= http://localhost:$(PORT)

.PHONY: run stop test check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
	touch $@

$(INSPECTOR):
	mkdir -p .data/tools/inspector
	cd .data/tools/inspector && npm install --no-audit --no-fund --no-save --silent \
		@modelcontextprotocol/inspector@$(INSPECTOR_VERSION)

$(CLAUDE_CODE):
	mkdir -p .data/tools/claude-code
	cd .data/tools/claude-code && npm install --no-audit --no-fund --no-save --silent \
		@anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)

$(SCANNER): tools/scanner/requirements.txt
	$(PYTHON) -m venv .data/tools/scanner
	.data/tools/scanner/bin/pip install --quiet --disable-pip-version-check --require-hashes \
		-r tools/scanner/requirements.txt
	touch $@

# Start the web server, a Celery worker and beat, with the example marketplace synced; where to sign
# in is printed last, once the server answers. Only warnings are logged (make run LOG_LEVEL=INFO).
run: export LOG_LEVEL ?= WARNING
run: $(VENV)/.installed $(SCANNER)
	@$(BIN)/python manage.py migrate --noinput -v0
	@$(BIN)/python manage.py collectstatic --noinput -v0
	@PATH=$(CURDIR)/$(BIN):$$PATH PORT=$(PORT) $(BIN)/python -m skillport_site.quickstart

# Stop what `make run` started, and the embedded PostgreSQL.
stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m skillport_site.quickstart stop; fi

# The whole test suite, in a process per core (at most 4: most tests wait on a server, a browser or
# git, so one process leaves a core idle), each test file in one of them (their module fixtures
# start a server or the oracle once). Tests get a data directory of their own.
TEST_PROCESSES ?= --numprocesses=auto --maxprocesses=4 --dist=loadfile
test: $(VENV)/.installed $(INSPECTOR) $(CLAUDE_CODE) $(SCANNER)
	SKILLPORT_DATA_DIR=$(CURDIR)/.data/test $(BIN)/python -m pytest $(TEST_PROCESSES) $(PYTEST_ARGS)

check: $(VENV)/.installed
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: $(VENV)/.installed
	$(BIN)/python bench/sync.py

# Stops a running Skillport first: its PostgreSQL would go on running on deleted files.
clean: stop
	rm -rf $(VENV) .data
