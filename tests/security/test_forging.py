"""Verdicts no submission can forge: attacks from inside the kernel score what the blank release scores.

One ``nbgrader autograde`` batch grades every attack of
:data:`tests.security.forging.build.ATTACKS` with the course's own config
(graded tests run in the grader; see docs/grading.md, "Trusted verdicts").
"""

import re

import nbformat
import pytest
from nbgrader.api import Gradebook

from coursetools.course import run_nbgrader
from coursetools.layout import CourseLayout
from coursetools.security.hidden_tests import hidden_lines
from tests.security.forging.build import ATTACKS, build, expected_scores
from zoo.build import ASSIGNMENT, NOTEBOOK

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = build(tmp_path_factory.mktemp("forging") / "course")
    proc = run_nbgrader(["autograde", ASSIGNMENT], course, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        scores = {}
        for attack in ATTACKS:
            sub = gb.find_submission_notebook(NOTEBOOK[:-6], ASSIGNMENT, attack.name)
            scores[attack.name] = {g.cell.name: float(g.score) for g in sub.grades}
    return course, scores


def autograded(course, student):
    return nbformat.read(CourseLayout(course).autograded(student, ASSIGNMENT) / NOTEBOOK, as_version=4)


def output_text(cell):
    parts = []
    for out in cell.get("outputs", []):
        parts += [str(out.get("text", "")), str(out.get("evalue", ""))] + [str(t) for t in out.get("traceback", [])]
        parts += [str(v) for v in out.get("data", {}).values()]
    return "\n".join(parts)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_each_attack_scores_what_it_solved(graded, attack):
    _, scores = graded
    assert scores[attack.name] == expected_scores(attack), attack.what
    if attack.scores == "0" * len(attack.scores):
        assert scores[attack.name] == scores["blank"], "an attack that solves nothing scores what the blank release scores"


def test_no_hidden_test_reaches_the_kernel_or_the_outputs(graded):
    course, _ = graded
    source = nbformat.read(CourseLayout(course).source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    public = (CourseLayout(course).release(ASSIGNMENT) / NOTEBOOK).read_text()
    secrets = [line for cell in source.cells if cell.cell_type == "code" for line in hidden_lines(cell.source, public)]
    assert len(secrets) > 20
    hunted = autograded(course, "read-hidden")
    assert "searched" in "\n".join(output_text(c) for c in hunted.cells), "the hunt ran"
    for attack in ATTACKS:
        for cell in autograded(course, attack.name).cells:
            text = output_text(cell)
            leaked = [s for s in secrets if re.search(r"(?<![\w.])" + re.escape(s) + r"(?!\w)", text)]
            assert not leaked, f"{attack.name}: a hidden test line in an output: {leaked[:2]}"


def draw_after_the_visible_clip_test():
    """What ``np.random.randint(10**9)`` gives right after the visible clip test under Validate."""
    import contextlib
    import io

    import numpy as np

    from coursetools.solution import load_solution
    from utils.checks import check_clip

    with contextlib.redirect_stdout(io.StringIO()):
        check_clip(load_solution().clip)
    return np.random.randint(10**9)


def test_a_student_cell_sees_what_a_visible_test_left_and_nothing_of_a_hidden_one(graded):
    course, _ = graded
    texts = [" ".join(output_text(c).split()) for c in autograded(course, "state-reader").cells if c.cell_type == "code"]
    assert any("visible-test names: []" in t for t in texts), texts  # the check keeps its variables, as under Validate
    assert any(f"random draw after the test: {draw_after_the_visible_clip_test()}" in t for t in texts), texts
    assert any("hidden-test names: []" in t for t in texts)
    texts = [" ".join(output_text(c).split()) for c in autograded(course, "name-reader").cells if c.cell_type == "code"]
    assert any("the published values: ok" in t and "All tests passed!" in t for t in texts), texts


def test_a_call_that_kills_or_hangs_the_kernel_fails_only_its_own_cell(graded):
    course, _ = graded
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded(course, "killer").cells}
    assert "KernelStopped" in output_text(cells["test-clip-hidden"])
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded(course, "hanger").cells}
    assert "CellTimeoutError" in output_text(cells["test-sample-hidden"])
