"""The import graph keeps its shape (docs/architecture.md): arrows point down, no cycles.

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``):
the command line on top of the runners, the nbgrader plugins beside them, the
security core under both, the code that runs in the student's kernel importing
nothing of the course; ``tests`` and ``bench`` on top of the repository, ``utils``
(what students receive) at the bottom; and no cycle between the modules of any
package. The same checker is run on a copy with an upward import and a cycle
planted, so a contract that checks nothing would fail here.

The security core (``coursetools/security/``, ``coursetools/kernel/``) is used
by the rest of the course only through the names its ``SURFACE`` lists, and
docs/security.md lists them all.
"""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools import kernel, security
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


# ----- the security core's surface -------------------------------------------------------------

CORE = {"coursetools.security": security.SURFACE, "coursetools.kernel": kernel.SURFACE}
STRING_REFERENCE = re.compile(r"\b(coursetools\.(?:security|kernel)(?:\.\w+)*)\.(\w+)\b")


def _absolute(module, node):
    """The absolute module name of an ``ImportFrom`` node in ``module`` (a dotted name)."""
    if not node.level:
        return node.module or ""
    package = module.split(".")[: -node.level]
    return ".".join(package + ([node.module] if node.module else []))


def _core_module(name):
    """``(core package, submodule name or "")`` when ``name`` is in the security core, else None."""
    for package in CORE:
        if name == package:
            return package, ""
        if name.startswith(package + "."):
            return package, name[len(package) + 1:]
    return None


def surface_uses(path, module):
    """``[(line, "coursetools.security.X.name")]``: every name of the core that the file ``path`` uses."""
    tree = ast.parse(path.read_text(), str(path))
    uses, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            core = _core_module(source)
            for alias in node.names:
                if core and core[1]:  # from coursetools.security.untrusted import safe_copy
                    uses.append((node.lineno, f"{source}.{alias.name}"))
                elif core or _core_module(f"{source}.{alias.name}"):  # from coursetools.security import untrusted
                    whole = f"{source}.{alias.name}"
                    if _core_module(whole)[1]:
                        aliases[alias.asname or alias.name] = whole
                    else:
                        uses.append((node.lineno, whole))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _core_module(alias.name):
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            uses += [(node.lineno, f"{m[1]}.{m[2]}") for m in STRING_REFERENCE.finditer(node.value)
                     if _core_module(m[1]) and _core_module(m[1])[1]]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            uses.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    return uses


def allowed(use):
    package, rest = _core_module(use.rsplit(".", 1)[0]) or (None, None)
    if package is None:
        package, rest = _core_module(use)[0], ""
    return use.rsplit(".", 1)[1] in CORE[package].get(rest, ())


def outside_the_core():
    """``(path, dotted module)`` of every file of the course that is not the security core itself."""
    files = [(ROOT / "nbgrader_config.py", "nbgrader_config")]
    for path in sorted((ROOT / "coursetools").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.parts[1] in ("security", "kernel"):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        files.append((path, ".".join(parts)))
    return files


def test_the_course_uses_only_the_security_cores_documented_surface():
    uses = [(path, line, use) for path, module in outside_the_core() for line, use in surface_uses(path, module)]
    assert len(uses) >= 10, "the check found almost no use of the security core: it is not looking"
    beyond = [f"{p.relative_to(ROOT)}:{line}: {use}" for p, line, use in uses if not allowed(use)]
    assert not beyond, ("code outside coursetools/security/ and coursetools/kernel/ uses names that are not in "
                        "their SURFACE (add them there and to docs/security.md, or keep the logic in the core):\n"
                        + "\n".join(beyond))


def test_the_surface_check_sees_a_name_beyond_the_surface(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from ..security import untrusted\nfrom ..security.sandbox import bwrap_command\n"
                       "untrusted.safe_copy('a', 'b')\nuntrusted._copy_bytes(0, 'x', 0, 1)\n"
                       "HOOK = 'coursetools.security.feedback_html.redact_leaks'\n")
    uses = surface_uses(planted, "coursetools.grading.planted")
    assert [u for _, u in uses if not allowed(u)] == [
        "coursetools.security.sandbox.bwrap_command", "coursetools.security.feedback_html.redact_leaks",
        "coursetools.security.untrusted._copy_bytes"], uses


def test_docs_security_lists_the_whole_surface():
    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("## 13. The security core", 1)
    assert len(section) == 2, "docs/security.md has no section '## 13. The security core'"
    body = section[1].split("\n## ", 1)[0]
    missing = []
    for package, surface in CORE.items():
        for module, names in surface.items():
            path = package.replace(".", "/") + (f"/{module}.py" if module else "/")
            missing += [path] if f"`{path}`" not in body else []
            missing += [f"{path}: {name}" for name in names if f"`{name}`" not in body]
    assert not missing, "docs/security.md, 'The security core', does not list: " + ", ".join(missing)
