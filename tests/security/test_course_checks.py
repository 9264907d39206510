"""The visible tests' checks (``utils/checks.py``) are the course's own when graded, never the submission's.

A visible test cell is a docstring and one call, ``check_clip(clip)``; the imports cell (locked) gets the
checks with ``from utils.checks import ...``. In the grader that import loads the course's
``source/<assignment>/utils`` (:class:`coursetools.security.trusted_tests.TrustedNamespace`), so a
submission that ships its own ``utils/checks.py``, or defines a function named like a check in an answer
cell, cannot make a check pass. These tests run the real notebook's cells in a trusted namespace built
the way :class:`~coursetools.security.trusted_tests.TrustedRun` builds it (proxies for the answer cells'
functions first, then the locked cells), with the student's functions stood in for by
:class:`tests.security.test_proxy.FakeLink`. The end-to-end version (a real kernel, ``nbgrader
autograde``) is the ``forged-checks`` attack of ``tests/security/forging/build.py``.
"""

import nbformat
import numpy as np
import pytest

from coursetools.course import copy_shared
from coursetools.security.proxy import FunctionProxy
from coursetools.security.trusted_tests import Plan, TrustedCell, TrustedNamespace, run_test
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT
from coursetools.solution import load_solution
from tests.security.test_proxy import FakeLink

NOTEBOOK = COURSE.source(DEFAULT_ASSIGNMENT) / ASSIGNMENTS[DEFAULT_ASSIGNMENT].notebooks[0]

# What a hostile submission ships as utils/checks.py: every check passes.
FORGED_CHECKS = '''
def _passes(*args, **kwargs):
    print("\\033[92mAll tests passed!")

check_clip = check_sample = check_optimize = check_model = _passes
'''


def swapped_clip(gradients, maxValue):
    """A wrong clip (the bounds swapped: every value becomes -maxValue)."""
    for g in gradients.values():
        np.clip(g, maxValue, -maxValue, out=g)
    return gradients


@pytest.fixture
def course(tmp_path, monkeypatch):
    """The course's source folder (its real utils and data) and, as the working folder, a submission whose
    utils/checks.py makes every check pass."""
    source = tmp_path / "source"
    copy_shared(DEFAULT_ASSIGNMENT, source)
    hostile = tmp_path / "submission"
    copy_shared(DEFAULT_ASSIGNMENT, hostile)
    (hostile / "utils" / "checks.py").write_text(FORGED_CHECKS)
    monkeypatch.chdir(hostile)
    monkeypatch.syspath_prepend(str(hostile))
    return source


def notebook_cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id") or c.get("id"): c for c in nb.cells}


def trusted_space(source, **functions):
    """The grader's namespace for the notebook: the student's functions proxied, then the locked cells run."""
    space = TrustedNamespace(source)
    for name, fn in functions.items():  # TrustedRun installs the proxies before it runs the locked cells
        space.ns[name] = FunctionProxy(name, FakeLink(fn))
    cells = notebook_cells()
    for name in ("imports", "load-data", "vocab"):
        assert cells[name].metadata["nbgrader"]["locked"], name
        space.run_prelude(TrustedCell(name, "prelude", cells[name].source))
    return space


def visible_test(name):
    return TrustedCell(name, "test", notebook_cells()[name].source)


def test_the_checks_come_from_the_courses_utils_not_the_submissions(course):
    space = trusted_space(course)
    for name in ("check_clip", "check_sample", "check_optimize", "check_model"):
        module = space.ns[name].__module__
        assert module.startswith("_course_trusted_") and module.endswith("utils.checks"), (name, module)
        assert space.module_name(__import__(module, fromlist=["x"])) == "utils.checks"
        assert space.ns[name].__code__.co_filename.startswith(str(course)), space.ns[name].__code__.co_filename


def test_a_forged_checks_module_and_a_check_defined_in_an_answer_cell_do_not_pass_a_wrong_clip(course):
    """The submission's utils/checks.py passes everything, and its clip cell also defines check_clip (so the
    plan proxies that name too): the course's check still runs, and fails with its full hint."""
    answer_cell = "def clip(gradients, maxValue):\n    pass\n\ndef check_clip(clip):\n    print('All tests passed!')\n"
    plan = Plan.from_cells([("clip", "code", False, answer_cell)], graded=set(), solution={"clip"})
    assert plan.functions == ["clip", "check_clip"]
    space = trusted_space(course, clip=swapped_clip, check_clip=lambda clip: print("All tests passed!"))
    cell = visible_test("test-clip-published")
    outputs, error = run_test(space, cell, 100000)
    assert isinstance(error, AssertionError), outputs
    err = outputs[-1]
    assert err.output_type == "error" and err.ename == "AssertionError"
    assert "bounds are swapped" in err.evalue and err.evalue == str(error)
    # The visible cell's failing line is the call; the course's module stays out of the feedback.
    assert err.traceback[0] == "Cell test-clip-published, line 3:\n    check_clip(clip)"
    assert not any("checks.py" in line or "_course_trusted_" in line for line in err.traceback)
    printed = "".join(o.text for o in outputs if o.output_type == "stream")
    assert "All tests passed!" not in printed
    assert 'gradients["dWaa"][1][2] = -10.0' in printed  # the published values, printed before the checks


def test_the_courses_checks_pass_the_reference_through_the_proxy(course):
    """The same path with the reference clip and optimize (plain data both ways): both visible tests pass."""
    reference = load_solution()
    space = trusted_space(course, clip=reference.clip, optimize=reference.optimize)
    for name in ("test-clip-published", "test-optimize-published"):
        outputs, error = run_test(space, visible_test(name), 100000)
        assert error is None, outputs
        assert "All tests passed!" in "".join(o.text for o in outputs if o.output_type == "stream")


def test_optimize_is_judged_alone_through_the_proxy(course):
    """A wrong clip does not fail optimize's visible test in the grader either: it says to fix clip first."""
    reference = load_solution()
    reference.clip = swapped_clip  # the student's optimize calls the student's clip

    def optimize(X, Y, a_prev, parameters, learning_rate=0.01):
        return reference.optimize(X, Y, a_prev, parameters, learning_rate)

    space = trusted_space(course, clip=swapped_clip, optimize=optimize)
    outputs, error = run_test(space, visible_test("test-optimize-published"), 100000)
    assert error is None, outputs
    printed = "".join(o.text for o in outputs if o.output_type == "stream")
    assert "fix clip first" in printed and "All tests passed!" not in printed
