# aupsite: `make run` serves the dashboard, `make test` runs the whole suite.
# Both create .venv and install what they need on a fresh Debian machine with Python 3.11.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# run-production: where gunicorn listens (behind a TLS proxy) and how many processes.
BIND ?= 127.0.0.1:8000
WORKERS ?= 3
# Threads per process, and how long (seconds) an idle client connection is kept open:
# gunicorn's gthread workers keep connections alive (its default sync workers close each
# one after a request), so an executor's RestConnector sends every call on one connection.
THREADS ?= 4
KEEP_ALIVE ?= 60

.PHONY: run run-production test bench install install-dev migrate check clean browser

# aup_bootstrap first checks that HOST:PORT is free (else it stops with one line saying
# which PORT to use), then makes sure someone can log in.
# While the database holds no experiment but the demo's, simulated searches
# (tracking/demo.py) write through DjangoConnector beside the server, one after another,
# so the dashboard is live whenever you look. The demo runs in the background of this
# one shell and ends with it: the trap stops it when the server stops (Ctrl-C), and the
# demo also stops itself once this shell is gone.
run: install migrate
	$(BIN)/python manage.py aup_bootstrap --check-port --url http://$(HOST):$(PORT)/
	$(BIN)/python manage.py aup_demo --if-empty --url http://$(HOST):$(PORT)/ --parent $$$$ & \
	trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The production variant: settings from the environment (README, "Running in
# production"), static files collected, gunicorn on BIND behind a TLS proxy.
run-production: export AUPSITE_ENV = production
run-production: install
	$(BIN)/python manage.py check --deploy
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py migrate --noinput
	exec $(BIN)/gunicorn aupsite.wsgi --bind $(BIND) --workers $(WORKERS) \
	  --worker-class gthread --threads $(THREADS) --keep-alive $(KEEP_ALIVE) --access-logfile - --error-logfile -

# The suite runs on TEST_WORKERS processes (pytest-xdist; 2 for a 2-core machine: much
# of a browser test is waiting on Chromium or a live server). Each worker has its own test
# database (pytest-django adds _gw0, _gw1 to its name), live server and browser.
# --dist worksteal: each worker starts on its half of the suite in file order (so a
# module's browser or server starts once per worker) and takes over the other's tail.
# TEST_WORKERS=0 runs in one process; PYTEST_ARGS adds pytest options (e.g. -x, -k).
TEST_WORKERS ?= 2
test: install-dev browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
# Missing, it is installed as root; otherwise this stops with what to do: the browser
# tests never skip silently.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "make test: /usr/bin/chromium is missing and only root can install it:" >&2; \
	    echo "  sudo apt-get install chromium   (then run make test again)" >&2; \
	    exit 1; \
	  fi; \
	fi

# The benchmarks (README, "Performance"): one table, also written to bench/results/bench.json.
# PostgreSQL rows run on a throwaway server with PostgreSQL's durable defaults.
bench: $(VENV)/.installed-bench browser
	WITH_POSTGRES_DURABLE=1 WITH_POSTGRES_KEEP_DATABASE_URL=1 scripts/with-postgres \
	  $(BIN)/python -m bench.run $(BENCH_ARGS)

$(VENV)/.installed-bench: $(VENV)/.installed-dev bench/requirements.txt
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

check: install-dev
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Debian's python3 ships without venv until python3-venv is installed; as root we add it.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { \
	  [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q python3-venv && \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-postgres.txt pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-postgres.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-auptimizer.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) staticfiles
