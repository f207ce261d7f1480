"""The lock files are the truth of what runs (#20): what is installed equals the lock, the
locks agree with each other and with pyproject.toml's ranges.

`make lock` writes requirements/*.txt; `make crawl` / `make test` install only from them. A
drift (a package upgraded by hand, pyproject.toml edited without `make lock`) fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import PROJECT_ROOT

REQUIREMENTS = PROJECT_ROOT / "requirements"
PYWB_PYTHON = PROJECT_ROOT / ".venv-pywb" / "bin" / "python"
# `name==version ; marker` at the start of a line, as uv and pip-compile write them
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def locked(name: str, environment: dict[str, str] | None = None) -> dict[str, str]:
    """Normalised name -> version of every pin in requirements/NAME.txt that applies here."""
    pins = {}
    for line in (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if match := PINNED.match(line):
            package, pinned, marker = match.groups()
            if marker is None or Marker(marker).evaluate(environment):
                pins[canonicalize_name(package)] = pinned
    return pins


def test_every_lock_pins_with_hashes() -> None:
    for name in ("runtime", "test", "research", "pywb", "uv"):
        lines = (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        entries = [i for i, line in enumerate(lines) if line and not line[0].isspace()
                   and not line.startswith("#")]  # fmt: skip
        assert entries, name
        for i in entries:  # each an exact pin, followed by its hashes (a file not listed: refused)
            assert PINNED.match(lines[i]), (name, lines[i])
            assert lines[i + 1].strip().startswith("--hash=sha256:"), (name, lines[i])


def test_installed_versions_are_the_locked_ones() -> None:
    """The virtualenv running the suite holds exactly requirements/test.txt."""
    drift = {}
    for package, pinned in locked("test").items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            drift[package] = (pinned, installed)
    assert not drift, f"installed differs from requirements/test.txt (run `make test`): {drift}"


def test_pywb_virtualenv_holds_its_lock() -> None:
    assert PYWB_PYTHON.exists(), "`make install-test` makes .venv-pywb"
    script = (
        "import json, sys\nfrom importlib.metadata import distributions\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in distributions()}))"
    )
    found = subprocess.run([PYWB_PYTHON, "-c", script], capture_output=True, text=True,
                           check=True, timeout=60).stdout  # fmt: skip
    installed = {canonicalize_name(n): v for n, v in json.loads(found).items()}
    drift = {p: (v, installed.get(p)) for p, v in locked("pywb").items() if installed.get(p) != v}
    assert not drift, f".venv-pywb differs from requirements/pywb.txt: {drift}"


@pytest.mark.parametrize("name", ["runtime", "research"])
def test_smaller_locks_are_the_tested_versions(name: str) -> None:
    """What `make crawl` and `make research` install is what `make test` tested."""
    tested = locked("test")
    differs = {p: (v, tested.get(p)) for p, v in locked(name).items() if tested.get(p) != v}
    assert not differs, f"requirements/{name}.txt is not a subset of test.txt: {differs}"


def test_locks_satisfy_pyproject_ranges() -> None:
    """pyproject.toml edited without `make lock` shows up here, not on a user's machine."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {
        "runtime": project["project"]["dependencies"],
        "research": project["project"]["optional-dependencies"]["research"],
        "test": project["project"]["optional-dependencies"]["test"],
    }
    for name, requirements in wanted.items():
        pins = locked(name)
        for line in requirements:
            requirement = Requirement(line)
            package = canonicalize_name(requirement.name)
            if package == "newsarchiver":
                continue  # the project's own extras, checked through their own lock
            assert package in pins, f"{line!r} is not in requirements/{name}.txt: `make lock`"
            assert requirement.specifier.contains(pins[package], prereleases=True), (
                f"requirements/{name}.txt pins {package}=={pins[package]}, outside {line!r}"
            )
