# `make run` and `make test` set everything up themselves on a machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# USER is also the shell's login name: only a USER given on the command line names the mailbox.
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),alice@example.com)
TENANT ?= demo
SCOPE ?= mfa:settings
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/mfa_core/python

.PHONY: run test token code lint clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m infra.local

test: $(STAMP)
	$(BIN)/python -m pytest

token: $(STAMP)
	@$(BIN)/python -m infra.token --user "$(TOKEN_USER)" --tenant "$(TENANT)" --scope "$(SCOPE)"

code: $(STAMP)
	@$(BIN)/python -m infra.code "$(SECRET)" $(if $(NEXT),--next)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache dist
