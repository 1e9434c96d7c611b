# Doorstep: `make run` for a demo server, `make test` for the whole suite. Needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PERSONS ?= 20000
PG_URL ?= postgres://postgres@127.0.0.1:5432/doorstep

.PHONY: install run test test-sqlite test-postgres lint format messages bench audit clean \
	production-demo test-replica typecheck

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --no-input -v0
	@if [ "$$($(BIN)/python manage.py shell -v0 -c 'from doorstep.registry.models import Person; print(Person.objects.exists())')" = "True" ]; then \
		$(BIN)/python manage.py demo_logins; \
	else \
		$(BIN)/python manage.py demo --persons $(DEMO_PERSONS); \
	fi
	@echo "Doorstep: http://127.0.0.1:8000  (Ctrl-C stops the server and the background worker)"
	@$(BIN)/python manage.py db_worker --queue-name default -v0 & WORKER=$$!; \
		trap "kill $$WORKER 2>/dev/null" EXIT INT TERM; \
		$(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run -v0
	$(MAKE) --no-print-directory typecheck
	@./scripts/ensure-browser
	@./scripts/ensure-postgres
	@# The two engines' runs at once, each in its own var/ (files, SQLite test database); each
	@# run's output is printed whole when it ends.
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install
	@./scripts/ensure-browser
	DOORSTEP_VAR_DIR=$(CURDIR)/var/test-sqlite DOORSTEP_REQUIRE_BROWSER=1 $(BIN)/pytest -q

test-postgres: install
	@./scripts/ensure-postgres
	DOORSTEP_VAR_DIR=$(CURDIR)/var/test-postgres DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -m "not browser"

# The production profile on this machine: gunicorn over TLS, the task workers, PostgreSQL and Redis
# (scripts/production-demo says which database, Redis database and port).
production-demo: install
	./scripts/production-demo

# A streaming replica of the local PostgreSQL (scripts/replica, port REPLICA_PORT), the read-replica
# tests against it (router choices, pinning, lag and stop fall-backs), then the replica removed.
# Runs as root (or postgres): it may have to let replication connections into the primary.
REPLICA_PORT ?= 5433
test-replica: install
	REPLICA_PORT=$(REPLICA_PORT) ./scripts/replica up
	DATABASE_URL=$(PG_URL) \
	DOORSTEP_REPLICA_URL=postgres://postgres@127.0.0.1:$(REPLICA_PORT)/postgres \
		$(BIN)/pytest -q -m replica; \
		status=$$?; REPLICA_PORT=$(REPLICA_PORT) ./scripts/replica down; exit $$status

# mypy with the Django plugin (pyproject.toml [tool.mypy]): strict for doorstep.followup, the
# rest as typed as it is.
typecheck: install
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

audit: install
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements.txt -r requirements-dev.txt

# The Chinese catalog: one file for every app, without source locations (they moved with every
# edit and made two branches' catalogs collide); translate the new empty msgstr, then compile.
messages: install
	cd doorstep && ../$(BIN)/django-admin makemessages -l zh_Hans --no-location --no-obsolete -v0
	cd doorstep && ../$(BIN)/django-admin compilemessages -l zh_Hans -v0

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var/*.sqlite3* staticfiles
