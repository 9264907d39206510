"""The import graph keeps its shape (docs/architecture.md): arrows point down, no cycles.

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``):
the command line on top of the runners, the nbgrader plugins beside them, the
security core under both, the code that runs in the student's kernel importing
nothing of the course; ``tests`` and ``bench`` on top of the repository, ``utils``
(what students receive) at the bottom; and no cycle between the modules of any
package. The same checker is run on a copy with an upward import and a cycle
planted, so a contract that checks nothing would fail here.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.settings import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CHECKED = ("coursetools", "utils", "training", "zoo", "bench", "tests", "pyproject.toml")


def lint_imports(folder):
    """Run import-linter on the repository copy ``folder``; return ``(exit code, report)``."""
    proc = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=folder, capture_output=True, text=True,
                          env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(folder), "NO_COLOR": "1"})
    return proc.returncode, proc.stdout + proc.stderr


def test_the_import_contracts_are_kept():
    code, report = lint_imports(ROOT)
    assert code == 0, f"an import breaks the architecture (docs/architecture.md):\n{report}"
    assert "0 broken" in report


@pytest.fixture
def planted(tmp_path):
    """A copy of the checked packages with one upward import and one cycle planted."""
    for name in CHECKED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, tmp_path / name)
    with open(tmp_path / "coursetools" / "security" / "untrusted.py", "a") as f:
        f.write("\nfrom coursetools.grading import report  # planted: security must not know the runners\n")
    with open(tmp_path / "coursetools" / "grading" / "statuses.py", "a") as f:
        f.write("\nfrom . import submission  # planted: submission already imports statuses\n")
    with open(tmp_path / "bench" / "bench_zoo.py", "a") as f:
        f.write("\nimport tests.helpers  # planted: benchmarks must not import the tests\n")
    return tmp_path


def test_the_contracts_catch_upward_imports_and_cycles(planted):
    code, report = lint_imports(planted)
    assert code != 0, report
    assert "coursetools.security is not allowed to import coursetools.grading" in report, report
    assert "coursetools.security.untrusted -> coursetools.grading.report" in report, report
    assert ".submission -> .statuses" in report or ".statuses -> .submission" in report, report
    assert "bench is not allowed to import tests" in report, report
