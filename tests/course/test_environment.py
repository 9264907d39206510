"""The course environment is exactly requirements.lock, on any Python 3.11.

``requirements.txt`` / ``requirements-dev.txt`` name what the course uses;
``python3 dev.py lock`` (uv pip compile, for Python 3.11 on Linux x86_64)
resolves them into ``requirements.lock``, which pins every distribution with
its hashes; ``dev.py`` installs ``.venv`` from the lock and nothing else, and
``environment.yml`` installs the same lock for conda users.
"""

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from coursetools.settings import ROOT

LOCK = ROOT / "requirements.lock"
# Every Python 3.11 the course must run on: Debian 12's own is 3.11.2.
OLDEST_PYTHON_311 = "3.11.0"


def pins(path):
    """``{name: version}`` of the ``name==version`` lines of a requirements-format file."""
    found = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{Path(path).name}: pin an exact version for {line!r}"
        found[canonicalize_name(name)] = version.split(";")[0].strip()
    return found


def installed():
    """``{name: version}`` of what ``pip freeze --all`` lists in this environment (editables aside)."""
    out = subprocess.run([sys.executable, "-m", "pip", "list", "--format=json", "--exclude-editable",
                          "--disable-pip-version-check"], check=True, capture_output=True, text=True).stdout
    return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out)}


def test_lock_covers_the_requirements_files():
    locked = pins(LOCK)
    for name in ("requirements.txt", "requirements-dev.txt"):
        for dist, version in pins(ROOT / name).items():
            assert locked.get(dist) == version, (
                f"{name} pins {dist}=={version} but requirements.lock has {locked.get(dist)}: "
                "run `python3 dev.py lock`")


def test_every_locked_distribution_has_hashes():
    text = LOCK.read_text()
    entries = re.findall(r"^([A-Za-z0-9_.\-]+==\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", text, re.M)
    assert len(entries) == len(pins(LOCK)), "every pin in requirements.lock carries its --hash lines"


def test_environment_is_exactly_the_lock():
    """``pip freeze`` of .venv equals the lock: nothing missing, nothing extra, no other version."""
    have = installed()
    have.pop("pip", None)  # the installer itself is not part of the lock
    want = pins(LOCK)
    assert {d: v for d, v in have.items() if want.get(d) != v} == {}, "installed but not as locked"
    assert sorted(set(want) - set(have)) == [], "locked but not installed: run `python3 dev.py test`"


def test_environment_yml_installs_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps, "environment.yml must pin python=3.11"
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_lists == [["-r requirements.lock"]], "environment.yml's pip section is the lock, nothing else"


def test_requirements_cover_the_course_stack():
    reqs = pins(ROOT / "requirements.txt")
    for name in ("jupyterlab", "numpy", "nbgrader", "matplotlib", "tensorflow"):
        assert name in reqs, f"requirements.txt lacks {name}"
    assert "numba" not in pins(LOCK), "the course ships plain numpy: numba is not part of it"


def test_every_locked_distribution_supports_every_python_311():
    """No locked release may require a newer 3.11 than the oldest one the course supports.

    Root cause of the hub's broken "Generate feedback": soupsieve 3.0+ declares
    Requires-Python >=3.11.5 because it relies on possessive regex quantifiers, which
    CPython's ``re`` gets wrong before 3.11.5. A lock resolved on a newer 3.11 picked
    soupsieve 4.1.3, and nbconvert's ``soup.select("img:not([alt])")`` then raised
    SelectorSyntaxError on Debian's Python 3.11.2.
    """
    wrong = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        requires = dist.metadata.get("Requires-Python")
        if name in pins(LOCK) and requires and not SpecifierSet(requires).contains(OLDEST_PYTHON_311):
            wrong[name] = requires
    assert wrong == {}, f"these locked releases need a newer Python 3.11: {wrong}"


def _pythons_311():
    found = {Path(sys.executable).resolve()}
    for candidate in ("/usr/bin/python3.11", shutil.which("python3.11")):
        if candidate and Path(candidate).exists():
            found.add(Path(candidate).resolve())
    return sorted(found)


@pytest.mark.parametrize("python", _pythons_311(), ids=str)
def test_nbconvert_image_selector_works_on_each_python_311_here(python):
    """The selector nbconvert's HTML export runs, with the locked soupsieve, on every 3.11 of this machine."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    code = ("from bs4 import BeautifulSoup\n"
            "soup = BeautifulSoup('<p><img src=\"a.png\"><img src=\"b.png\" alt=\"b\"></p>', 'html.parser')\n"
            "print(len(soup.select('img:not([alt])')))\n")
    env = {"PYTHONPATH": ":".join(site), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(python), "-s", "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr[-2000:]
