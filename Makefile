# Two commands do all set-up on a fresh machine: `make crawl` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# setuptools' "Editable installation ... same name as your package" note is information only
PIP := PYTHONWARNINGS="ignore:Editable installation:UserWarning" $(PY) -m pip --disable-pip-version-check -q
ARCHIVE ?= archive

.PHONY: crawl test lint install install-test clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when the project's dependencies change.
# pip >= 23.3 compares extras by their normalised names (PEP 685): Python 3.11's bundled pip
# warns "lxml does not provide the extra 'html_clean'" for jusText's lxml[html_clean].
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install 'pip>=23.3'
	$(PIP) install -e .
	$(PY) -m crawler.warcio_hook --install  # warcio's own CLI reads Brotli records (#13)
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

# pywb pins redis 2.x and an old fakeredis, which clash with the project's own stack: it
# lives in a virtualenv of its own, and the tests drive wb-manager/wayback as subprocesses.
PYWB_VENV ?= .venv-pywb
$(PYWB_VENV)/.installed:
	$(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip --disable-pip-version-check -q install 'pywb==2.10.0'
	touch $@

install: $(VENV)/.installed
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

## Install the test extras, lint, run the whole suite.
test: install-test lint
	$(PY) -m pytest

lint: install-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(PYWB_VENV) build *.egg-info .pytest_cache .ruff_cache
