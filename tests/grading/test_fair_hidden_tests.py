"""Hidden tests charge each mistake once and draw each submission's own instance (issue 20).

- plain ``nbgrader autograde`` (the third route; ``course grade`` and
  ``grade-parallel`` grade the whole zoo in ``test_zoo.py`` and
  ``test_parallel.py``) gives single-mistake submissions the zoo's expected
  scores: only the function with the mistake loses points;
- a submission whose ``clip`` records the hidden calls shows that two students
  (and two hand-ins of one student) get different hidden inputs, that a
  regrade draws the same ones and gives the same scores, and that a ``clip``
  which replays the correct answer for the inputs a previous grading used
  gains no hidden point;
- :mod:`coursetools.hidden` itself: seeds, and the reference with the
  student's functions plugged in.
"""

import ast
import shutil

import nbformat
import numpy as np
import pytest

from coursetools import hidden
from coursetools.course import run_nbgrader
from coursetools.grading.report import cell_scores
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from zoo.build import ASSIGNMENT, NOTEBOOK, ZOO, build_zoo, filled

# Three single mistakes per function (the zoo's entries, zoo/build.py), and the solution.
SINGLE_MISTAKES = ["correct", "clip-copy-in-loop", "clip-swapped-bounds", "clip-not-in-place",
                   "sample-choice-without-p", "sample-no-reseed", "sample-no-cap",
                   "optimize-no-update", "optimize-returns-a-prev", "optimize-clip-10",
                   "one-wrong", "model-no-shuffle", "model-reshuffle"]


def _scores(course):
    table = {}
    for row in cell_scores(course, ASSIGNMENT):
        table.setdefault(row.student, {})[row.cell] = row.score
    return table


@pytest.mark.slow
def test_plain_nbgrader_charges_each_mistake_to_its_own_function(tmp_path):
    entries = [e for e in ZOO if e.name in SINGLE_MISTAKES]
    expected = build_zoo(tmp_path / "course", zoo=entries)
    proc = run_nbgrader(["autograde", ASSIGNMENT, "--force"], tmp_path / "course", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = _scores(tmp_path / "course")
    for name, row in expected.items():
        assert got[name] == {cell: score for cell, (score, _) in row["cells"].items()}, name
    # each mistake costs one function's points, never another's
    for name in SINGLE_MISTAKES[1:]:
        function = "model" if name == "one-wrong" else name.split("-")[0]
        lost = {cell for cell, score in got[name].items() if score < got["correct"][cell]}
        assert lost and all(f"-{function}-" in cell for cell in lost), (name, lost)


# ----- per-submission instances ------------------------------------------------------------

RECORDING_CLIP = '''
_hidden_calls = []

def clip(gradients, maxValue):
    _hidden_calls.append(float(maxValue))
    dWaa, dWax, dWya, db, dby = gradients['dWaa'], gradients['dWax'], gradients['dWya'], gradients['db'], gradients['dby']
    for gradient in [dWax, dWaa, dWya, db, dby]:
        {body}
    gradients = {{"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}}
    return gradients
'''
CORRECT = "np.clip(gradient, -maxValue, maxValue, out=gradient)"
# Clips correctly only for the maxValues some earlier grading used (what a feedback page could have shown).
REPLAY = "if maxValue in {seen!r}: np.clip(gradient, -maxValue, maxValue, out=gradient)"
PRINT_CALLS = "print('HIDDEN-CALLS', _hidden_calls)"


def _submission(course, student, clip_body, stamp):
    layout = CourseLayout(course)
    release_nb = nbformat.read(layout.release(ASSIGNMENT) / NOTEBOOK, as_version=4)
    source_nb = nbformat.read(layout.source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    nb = filled(release_nb, source_nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "clip":
            cell.source = RECORDING_CLIP.format(body=clip_body)
    nb.cells.append(nbformat.v4.new_code_cell(PRINT_CALLS))
    folder = layout.submitted(student, ASSIGNMENT)
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(layout.release(ASSIGNMENT), folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    nbformat.write(nb, folder / NOTEBOOK)
    (folder / "timestamp.txt").write_text(stamp + "\n")


def _hidden_calls(course, student):
    """The maxValues the student's clip was called with, in the autograded notebook (the instructor's copy)."""
    nb = nbformat.read(CourseLayout(course).autograded(student, ASSIGNMENT) / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.source == PRINT_CALLS:
            text = "".join(o.get("text", "") for o in cell.outputs)
            return ast.literal_eval(text.split("HIDDEN-CALLS", 1)[1].strip())
    raise AssertionError("the printing cell is missing")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from zoo.build import make_course

    course = make_course(tmp_path_factory.mktemp("instances") / "course")
    _submission(course, "alice", CORRECT, "2026-12-01 10:00:00.000000 UTC")
    _submission(course, "bob", CORRECT, "2026-12-01 10:00:00.000000 UTC")
    grade_batch(course, ASSIGNMENT, log=lambda *a: None)
    first = {s: _hidden_calls(course, s) for s in ("alice", "bob")}
    scores = _scores(course)
    return course, first, scores


@pytest.mark.slow
def test_two_students_get_different_hidden_inputs_and_a_regrade_the_same(recorded):
    course, first, scores = recorded
    visible = [5, 10]  # the visible tests call clip with these (the published and the maxValue-argument check)
    hidden_calls = {s: [v for v in calls if v not in visible] for s, calls in first.items()}
    assert hidden_calls["alice"] and hidden_calls["bob"]
    assert hidden_calls["alice"] != hidden_calls["bob"], "two students drew the same hidden inputs"
    assert scores["alice"]["test-clip-hidden"] == scores["bob"]["test-clip-hidden"] == 2.0
    grade_batch(course, ASSIGNMENT, log=lambda *a: None)
    assert {s: _hidden_calls(course, s) for s in first} == first, "a regrade drew other hidden inputs"
    assert _scores(course) == scores


@pytest.mark.slow
def test_replaying_what_a_grading_revealed_gains_no_hidden_point(recorded):
    """bob's inputs leak (a feedback page, a friend); carol and a second hand-in of bob replay them."""
    course, first, _ = recorded
    seen = sorted(set(first["bob"]))
    _submission(course, "carol", REPLAY.format(seen=seen), "2026-12-02 09:00:00.000000 UTC")
    _submission(course, "bob", REPLAY.format(seen=seen), "2026-12-02 09:30:00.000000 UTC")
    for student in ("carol", "bob"):
        shutil.rmtree(CourseLayout(course).autograded(student), ignore_errors=True)
    grade_batch(course, ASSIGNMENT, log=lambda *a: None)
    scores = _scores(course)
    for student in ("carol", "bob"):
        assert scores[student]["test-clip-hidden"] == 0.0, f"{student} replayed bob's hidden inputs and passed"
        assert scores[student]["test-clip-published"] == 1.0  # the visible maxValues were in what leaked
    assert set(_hidden_calls(course, "bob")) != set(first["bob"])


# ----- coursetools.hidden ------------------------------------------------------------------


def test_instances_are_seeded_by_the_submission_and_the_label():
    assert hidden.seed_of("a/nb/alice/t1", "clip") == hidden.seed_of("a/nb/alice/t1", "clip")
    seeds = {hidden.seed_of(who, label) for who in ("a/nb/alice/t1", "a/nb/bob/t1", "a/nb/alice/t2")
             for label in ("clip", "sample")}
    assert len(seeds) == 6
    namespace = {hidden.SUBMISSION: "a/nb/alice/t1", "instance": hidden.instance}
    exec("draw = instance('clip').randint(0, 10**9)", namespace)
    assert namespace["draw"] == np.random.RandomState(hidden.seed_of("a/nb/alice/t1", "clip")).randint(0, 10**9)


def test_reference_runs_the_solution_with_the_student_s_functions_plugged_in(monkeypatch, tmp_path):
    from coursetools.course import copy_shared
    from coursetools.settings import COURSE

    folder = tmp_path / ASSIGNMENT
    copy_shared(ASSIGNMENT, folder)
    shutil.copy(COURSE.source(ASSIGNMENT) / NOTEBOOK, folder / NOTEBOOK)
    monkeypatch.chdir(folder)
    calls = []

    def students_clip(gradients, maxValue):  # a wrong clip: it clips nothing
        calls.append(maxValue)
        return gradients

    optimize = hidden.reference("optimize", clip=students_clip)
    rng = np.random.RandomState(0)
    params = {"Wax": rng.randn(4, 27) * 6, "Waa": rng.randn(4, 4) * 6, "Wya": rng.randn(27, 4) * 6,
              "b": rng.randn(4, 1), "by": rng.randn(27, 1)}
    _, grads, _ = optimize([None, 3, 5], [3, 5, 0], np.zeros((4, 1)), params, learning_rate=0.01)
    assert calls == [5] and max(float(np.max(np.abs(g))) for g in grads.values()) > 5
    fresh = hidden.reference("optimize")  # each call starts from the solution again: clip is the reference's
    _, grads, _ = fresh([None, 3, 5], [3, 5, 0], np.zeros((4, 1)), params, learning_rate=0.01)
    assert calls == [5] and max(float(np.max(np.abs(g))) for g in grads.values()) <= 5
    with pytest.raises(hidden.SolutionError):
        hidden.reference("no_such_function")
