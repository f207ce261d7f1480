# Two commands do all set-up on a fresh machine: `make crawl` and `make test`.
# Every install comes from the lock files in requirements/ (made by `make lock`), so a fresh
# machine gets exactly the versions the suite passed with; upgrading is `make lock`, then the
# suite (`make test-latest` tries the newest versions pyproject.toml allows, without the lock).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# uv installs in parallel from the lock (pip takes minutes for the same set); --require-hashes:
# a file whose hash is not in the lock is refused. --compile-bytecode (UV_COMPILE), as pip does:
# without it, where PYTHONDONTWRITEBYTECODE is set (CI), every crawl the suite starts compiled
# Scrapy, Twisted and botocore again (~1-2 s CPU each, 7 of the suite's 18 CPU-minutes).
UV_COMPILE ?= --compile-bytecode
UV_INSTALL = $(UV) pip install --quiet $(UV_COMPILE) --python
ARCHIVE ?= archive
# 3 on 2 cores: the suite's tests wait on servers and subprocesses a third of the time
PYTEST_WORKERS ?= 3

.PHONY: crawl test lint install install-test research lock test-latest clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# uv itself is pinned and hash-checked like everything else, and installed by the venv's pip.
$(UV): requirements/uv.txt | $(VENV)/bin/python
	$(PY) -m pip --disable-pip-version-check -q install --no-deps --require-hashes -r requirements/uv.txt
	touch $@

# The project itself: editable, no dependencies of its own (the lock gave them), built by the
# locked setuptools (--no-build-isolation) so the build is as pinned as the run.
define install_project
	$(UV_INSTALL) $(1)/bin/python --no-deps --no-build-isolation -e .
	$(1)/bin/python -m crawler.net.warcio_hook --install  # warcio's own CLI decodes Brotli (#13)
endef

# Stamp files: reinstall only when a lock file (or the .pth hook the install writes) changes.
$(VENV)/.installed: requirements/runtime.txt $(UV) crawler/net/warcio_hook.py
	$(UV_INSTALL) $(PY) --require-hashes -r requirements/runtime.txt
	$(call install_project,$(VENV))
	touch $@

$(VENV)/.installed-test: requirements/test.txt $(VENV)/.installed
	$(UV_INSTALL) $(PY) --require-hashes -r requirements/test.txt
	touch $@

# The researcher's extra (DuckDB, pandas, pyarrow) for the README's session: `make research`.
$(VENV)/.installed-research: requirements/research.txt $(VENV)/.installed
	$(UV_INSTALL) $(PY) --require-hashes -r requirements/research.txt
	touch $@

# pywb pins redis 2.x and an old fakeredis, which clash with the project's own stack: it
# lives in a virtualenv of its own, and the tests drive wb-manager/wayback as subprocesses.
PYWB_VENV ?= .venv-pywb
$(PYWB_VENV)/.installed: requirements/pywb.txt $(UV)
	test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(UV_INSTALL) $(PYWB_VENV)/bin/python --require-hashes -r requirements/pywb.txt
	touch $@

install: $(VENV)/.installed
research: $(VENV)/.installed-research
# tests/test_report.py renders the run report in a real headless Chromium: Debian's, as
# Playwright's own browser download cannot be used here. Installed only when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

install-test: $(VENV)/.installed-test $(PYWB_VENV)/.installed $(CHROMIUM)

## Serve the bundled demo news site on 127.0.0.1:$(DEMO_PORT), crawl it into $(ARCHIVE)/, stop
## the server. The port is fixed so a second `make crawl` is incremental (same URLs).
DEMO_PORT ?= 8642
crawl: install
	$(PY) -m crawler.demo.run --archive $(ARCHIVE) --port $(DEMO_PORT)

## Install the test extras, lint, run the whole suite (in $(PYTEST_WORKERS) processes).
# compileall: the project's own modules as bytecode too (only files changed since), for the
# same reason as --compile-bytecode above.
test: install-test lint
	$(PY) -m compileall -q -j 0 crawler pipelines corpus bench settings.py
	$(PY) -m pytest -n $(PYTEST_WORKERS)

lint: install-test
	$(VENV)/bin/ruff check .

## Regenerate the lock files from pyproject.toml and requirements/*.in: the newest versions the
## ranges allow, for Python 3.11 on every platform, with hashes. Then run `make test`.
LOCK = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --universal \
	--custom-compile-command 'make lock'
lock: $(UV)
	$(LOCK) --upgrade pyproject.toml requirements/build.in --extra test -o requirements/test.txt
	$(LOCK) pyproject.toml requirements/build.in -c requirements/test.txt -o requirements/runtime.txt
	$(LOCK) pyproject.toml requirements/build.in --extra research -c requirements/test.txt \
		-o requirements/research.txt
	$(LOCK) --upgrade requirements/pywb.in -o requirements/pywb.txt
	$(LOCK) --upgrade requirements/uv.in -o requirements/uv.txt

## The suite against the newest releases pyproject.toml allows, in a throw-away virtualenv
## (the lock is not used, and its own check is left out): what `make lock` would bring in.
LATEST_VENV ?= .venv-latest
test-latest: $(UV) $(PYWB_VENV)/.installed $(CHROMIUM)
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(UV_INSTALL) $(LATEST_VENV)/bin/python --upgrade --refresh -e '.[test]'
	$(LATEST_VENV)/bin/python -m crawler.net.warcio_hook --install
	$(UV) pip freeze --python $(LATEST_VENV)/bin/python > $(LATEST_VENV)/versions.txt
	$(LATEST_VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider \
		--deselect tests/test_lock.py::test_installed_versions_are_the_locked_ones

clean:
	rm -rf $(VENV) $(PYWB_VENV) $(LATEST_VENV) build *.egg-info .pytest_cache .ruff_cache
