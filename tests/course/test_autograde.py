"""The real nbgrader pipeline: generate_assignment, then autograde the solution and the blank release."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from coursetools.course import ignore_caches, make_course, run_nbgrader
from coursetools.layout import CourseLayout
from zoo.build import ASSIGNMENT, NOTEBOOK
from zoo.build import CELLS as GRADED_CELLS  # the graded cells and their points, in one place

pytestmark = pytest.mark.slow  # a real nbgrader autograde


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("autograde") / "course", [ASSIGNMENT])
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    layout = CourseLayout(course)
    shutil.copytree(layout.source(ASSIGNMENT), layout.submitted("solution", ASSIGNMENT), ignore=ignore_caches)
    shutil.copytree(layout.release(ASSIGNMENT), layout.submitted("blank", ASSIGNMENT), ignore=ignore_caches)
    proc = run_nbgrader(["autograde", ASSIGNMENT, "--force"], course, check=False)
    assert proc.returncode == 0, f"autograde crashed:\n{proc.stderr[-3000:]}"
    scores = {}
    with Gradebook(layout.gradebook_url) as gb:
        for student in ("solution", "blank"):
            nb = gb.find_submission_notebook(Path(NOTEBOOK).stem, ASSIGNMENT, student)
            scores[student] = {g.cell.name: (g.score, g.max_score) for g in nb.grades}
    scores["course"] = course
    return scores


def test_graded_cells_and_points_are_as_designed(graded_course):
    assert {k: v[1] for k, v in graded_course["solution"].items()} == GRADED_CELLS


def test_solution_earns_full_marks_on_every_graded_cell(graded_course):
    for cell, (score, max_score) in graded_course["solution"].items():
        assert score == max_score, f"the reference solution lost points on {cell}: {score}/{max_score}"


def test_untouched_release_earns_zero_on_every_graded_cell(graded_course):
    for cell, (score, max_score) in graded_course["blank"].items():
        assert score == 0, f"the blank release earned {score}/{max_score} on {cell}"


def test_the_graded_training_run_says_it_is_short(graded_course):
    """While grading, the training cell trains 200 iterations and says so, instead of printing checkpoints whose
    names the text below it calls plausible (and no progress bar stuck at 0)."""
    graded = CourseLayout(graded_course["course"]).autograded("solution", ASSIGNMENT) / NOTEBOOK
    cells = [c for c in nbformat.read(graded, 4).cells if c.cell_type == "code" and "loss_history = []" in c.source]
    assert len(cells) == 1, "the notebook should have one training cell"
    outputs = cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Graded run: 200 iterations only" in text and "run this cell yourself" in text, text
    assert "Iteration:" not in text, text
    assert all(o.output_type == "stream" for o in outputs), [o.output_type for o in outputs]  # no widget, no error
