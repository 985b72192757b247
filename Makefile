# The two commands: `make run` and `make test`. Everything else is a convenience.
# Nothing needs installing by hand: the first target that needs the virtualenv builds it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV := $(PY) -m maintenance.dev.localservices
MANAGE := $(PY) manage.py
PORT ?= 8000
export PORT
# Tests use their own bucket (and pytest-django its own test_ database).
TEST_BUCKET ?= maintenance-test

.PHONY: lock run test test-fast browser-deps scale-deps gettext-deps messages client-deps lint format migrate makemigrations shell token services-start services-stop services-status bench bench-data bench-inprocess clean-state help

help:
	@echo "make run            start PostgreSQL + S3 if needed, migrate, load demo data, serve on http://127.0.0.1:$(PORT)"
	@echo "make test           the whole test suite against real services, plus ruff"
	@echo "make test-fast      everything but the live-server tiers (browser, resilience, schema fuzz): < 1 min"
	@echo "make lock           regenerate requirements/*.lock (hashes) after changing a pin in requirements/*.txt"
	@echo "make lint           ruff check + format check + import contracts (lint-imports)"
	@echo "make format         ruff format + autofix"
	@echo "make migrate        apply migrations"
	@echo "make makemigrations create migrations after model changes"
	@echo "make shell          Django shell against the local services"
	@echo "make token USER=x   issue a new API token for user x and print it (shown once)"
	@echo "make bench          the load benchmark (see bench/README.md)"
	@echo "make bench-data     the big data set of issue 24 for bench S6 (BENCH_DATA_ARGS=\"--scale 0.01\"; ~8 GB at 1)"
	@echo "make bench-inprocess  CPU per order / catalogue page / bare request in one process (BENCH_ARGS=\"orders --profile\")"
	@echo "make messages       update the Spanish catalogue (locale/es) from the code, then translate its empty msgstr"
	@echo "make services-stop  stop the local PostgreSQL and S3"

# Installed from the lock files: every package, transitive ones included, pinned with its hashes.
$(STAMP): requirements/base.lock requirements/dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.lock
	@touch $(STAMP)

# After changing a pin in requirements/*.txt: the locks again, with every dependency and its hashes.
LOCK := $(VENV)/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv==0.13.9
	$(LOCK) requirements/base.txt -o requirements/base.lock
	$(LOCK) requirements/dev.txt -o requirements/dev.lock

venv: $(STAMP)

run: $(STAMP)
	$(DEV) exec --dev -- sh -c '\
		DATABASE_STATEMENT_TIMEOUT_MS=0 $(MANAGE) migrate --noinput && \
		$(MANAGE) collectstatic --noinput -v0 && \
		$(MANAGE) load_demo_data && \
		$(MANAGE) ensure_admin && \
		exec $(VENV)/bin/gunicorn -c gunicorn.conf.py maintenance.wsgi'

# The browser tests drive Debian's Chromium (never a downloaded one); a fresh CI machine runs as root.
browser-deps:
	@test -x /usr/bin/chromium || DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The scale-out tests (tests/scale/) put Debian's nginx and PgBouncer in front of two app servers.
# RUNLEVEL=1: the packages' install scripts must not start system-wide services (port 80, 6432);
# the tests start their own on free ports.
scale-deps:
	@(test -x /usr/sbin/nginx && test -x /usr/sbin/pgbouncer) || RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends nginx pgbouncer \
		|| (apt-get update && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends nginx pgbouncer)

# GNU gettext (xgettext, msgmerge, msgfmt) for makemessages: `make messages` and the catalogue test
# (tests/test_translations.py). Serving needs none of it: the compiled .mo is committed.
gettext-deps:
	@command -v xgettext >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y gettext \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gettext)

# The Spanish catalogue: new messages of the code into locale/es/LC_MESSAGES/django.po, compiled to .mo.
# Settings need these variables to load; nothing is contacted.
messages: $(STAMP) gettext-deps
	SECRET_KEY=messages-only DATABASE_URL=postgres://messages@localhost/messages AWS_STORAGE_BUCKET_NAME=messages \
		$(MANAGE) messages

# The client tests' npm tools (tests/clients/package.json: Redocly, openapi-typescript, openapi-fetch,
# TypeScript) under .state/npm, installed with Debian's node and npm; again only when the pins change.
client-deps: $(STAMP)
	@(command -v node && command -v npm) >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm)
	@$(PY) -m tests.clients.npm

test: $(STAMP) browser-deps scale-deps gettext-deps client-deps
	AWS_STORAGE_BUCKET_NAME=$(TEST_BUCKET) $(DEV) exec -- sh -c '\
		$(MANAGE) collectstatic --noinput -v0 && \
		$(PY) -m pytest $(PYTEST_ARGS)'
	$(MAKE) --no-print-directory lint

# The edit-test loop: the same real PostgreSQL and S3, without the tests that start servers
# (pytest marker "live": browser, resilience faults, schema fuzzing, the gunicorn concurrency runs),
# spread over every core by pytest-xdist (each worker has its own test database).
test-fast: $(STAMP) gettext-deps client-deps
	AWS_STORAGE_BUCKET_NAME=$(TEST_BUCKET) $(DEV) exec -- sh -c '\
		$(MANAGE) collectstatic --noinput -v0 && \
		$(PY) -m pytest -q -m "not live" -n auto $(PYTEST_ARGS)'

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(STAMP)
	$(DEV) exec --dev -- env DATABASE_STATEMENT_TIMEOUT_MS=0 $(MANAGE) migrate

makemigrations: $(STAMP)
	$(DEV) exec --dev -- $(MANAGE) makemigrations

shell: $(STAMP)
	$(DEV) exec --dev -- $(MANAGE) shell

token: $(STAMP)
	@test -n "$(USER)" || (echo "usage: make token USER=<username>" && exit 2)
	@$(DEV) exec --dev -- $(MANAGE) issue_token "$(USER)"

services-start: $(STAMP)
	$(DEV) start

services-stop: $(STAMP)
	$(DEV) stop

services-status: $(STAMP)
	$(DEV) status

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-data: $(STAMP)
	$(PY) -m bench.bigdata $(BENCH_DATA_ARGS)

bench-inprocess: $(STAMP)
	DEV_DB_NAME=maintenance_inprocess $(DEV) exec -- $(PY) -m bench.inprocess $(BENCH_ARGS)

clean-state: services-stop
	rm -rf .state
