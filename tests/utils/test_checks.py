"""utils/checks.py: each check passes the reference solution and fails a mistake with its full hint.

The checks are what the notebook's visible test cells call. ``tests/course/test_student_mistakes.py`` runs
every mistake of docs/student_mistakes.md through the notebook's cells; here the module is called
directly, with the reference (:func:`coursetools.solution.load_solution`) and with a few mistakes, some
of them not in that list. The module never imports TensorFlow and its messages show plain values only.
"""

import contextlib
import io
import re
import subprocess
import sys

import nbformat
import pytest

from coursetools.course import copy_shared
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT, ROOT
from coursetools.solution import load_solution, solution_cells
from utils import checks

NUMPY_REPR = re.compile(r"np\.(int|float|bool|str)\w*\(|array\(")
PASSED = "\033[92mAll tests passed!"
NOTEBOOK = COURSE.source(DEFAULT_ASSIGNMENT) / ASSIGNMENTS[DEFAULT_ASSIGNMENT].notebooks[0]
SOLUTION_CELLS = {cell.metadata["nbgrader"]["grade_id"]: cell.source
                  for cell in solution_cells(nbformat.read(NOTEBOOK, as_version=4))}


@pytest.fixture(scope="module")
def course_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assignment")
    copy_shared(DEFAULT_ASSIGNMENT, folder)
    return folder


@pytest.fixture
def reference(course_folder, monkeypatch):
    """The reference solution, its data and vocabulary (what the notebook's locked cells define)."""
    monkeypatch.chdir(course_folder)
    ns = load_solution()
    ns.data = open("data/dinos.txt").read().lower()
    ns.char_to_ix = {ch: i for i, ch in enumerate(sorted(set(ns.data)))}
    ns.ix_to_char = {i: ch for ch, i in ns.char_to_ix.items()}
    return ns


def with_edit(reference, function, old, new):
    """The reference's ``function`` rewritten as a student would (a text edit of its source), in a copy of
    the reference's namespace (so the student's optimize calls the student's clip)."""
    source = SOLUTION_CELLS[function]
    assert old in source, f"{old!r} is not in the reference {function}"
    exec(compile(source.replace(old, new, 1), f"student {function}", "exec"), reference.__dict__)
    return getattr(reference, function)


def run(check, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check(*args)
    return out.getvalue()


def fails(check, *args):
    """The message a failing check raises (it must be an AssertionError with plain values)."""
    with pytest.raises(AssertionError) as failure, contextlib.redirect_stdout(io.StringIO()):
        check(*args)
    message = str(failure.value)
    assert not NUMPY_REPR.search(message), message
    return message


# ----- the reference passes ---------------------------------------------------------------------


def test_check_clip_passes_the_reference_one_line_per_behaviour(reference):
    printed = run(checks.check_clip, reference.clip)
    assert printed.endswith(PASSED + "\n")
    assert 'gradients["dWaa"][1][2] = 10.0\n' in printed
    assert printed.count(": ok\n") == 5


def test_check_sample_passes_the_reference(reference):
    printed = run(checks.check_sample, reference.sample, reference.char_to_ix)
    assert printed.startswith("Sampling:\n") and printed.endswith(PASSED + "\n")
    assert "sample feeds the drawn character back as the next input: ok" in printed


def test_check_optimize_passes_the_reference(reference):
    printed = run(checks.check_optimize, reference.optimize, reference.clip)
    assert printed.startswith("Loss = 126.503975722\n") and printed.endswith(PASSED + "\n")


@pytest.mark.slow
def test_check_model_passes_the_reference(reference):
    printed = run(checks.check_model, reference.model, reference.data, reference.ix_to_char, reference.char_to_ix,
                  reference.optimize, reference.clip)
    assert "Iteration: 2000, Loss: 27.884160" in printed and printed.endswith(PASSED + "\n")
    assert printed.index("model carries the hidden state over: ok") < printed.index("Iteration: 0")


# ----- mistakes fail with their hint (some of them are not in docs/student_mistakes.md) --------


def test_a_clip_that_forgets_to_return(reference):
    clip = with_edit(reference, "clip", "    return gradients", "    pass")
    assert fails(checks.check_clip, clip) == "clip should return the gradients dictionary, got NoneType"


def test_a_clip_with_swapped_bounds(reference):
    clip = with_edit(reference, "clip", "np.clip(gradient, -maxValue, maxValue, out=gradient)",
                     "np.clip(gradient, maxValue, -maxValue, out=gradient)")
    assert "the bounds are swapped" in fails(checks.check_clip, clip)


def test_an_equivalent_clip_passes(reference):
    clip = with_edit(reference, "clip", "np.clip(gradient, -maxValue, maxValue, out=gradient)",
                     "gradient[:] = np.minimum(np.maximum(gradient, -maxValue), maxValue)")
    assert run(checks.check_clip, clip).endswith(PASSED + "\n")


def test_a_sample_that_returns_an_array(reference):
    sample = with_edit(reference, "sample", "    return indices", "    return np.array(indices)")
    assert fails(checks.check_sample, sample, reference.char_to_ix) == (
        "sample should return a list of indices, got ndarray")


def test_a_sample_that_starts_from_a_hidden_state_of_ones(reference):
    sample = with_edit(reference, "sample", "a_prev = np.zeros((n_a, 1))", "a_prev = np.ones((n_a, 1))")
    message = fails(checks.check_sample, sample, reference.char_to_ix)
    assert message.startswith("the characters should alternate 'abab...', got 'baba")
    assert "a = tanh(Wax x + Waa a_prev + b)" in message


def test_a_sample_that_ignores_p(reference):
    sample = with_edit(reference, "sample", "p=y.ravel())", ")")
    assert "the draws ignore the model's probabilities" in fails(checks.check_sample, sample, reference.char_to_ix)


def test_an_optimize_that_takes_a_double_step(reference):
    optimize = with_edit(reference, "optimize", "update_parameters(parameters, gradients, learning_rate)",
                         "update_parameters(parameters, gradients, 2 * learning_rate)")
    message = fails(checks.check_optimize, optimize, reference.clip)
    assert "moved by 2 * learning_rate * dWax" in message and "pass learning_rate itself" in message


def test_an_optimize_without_update_parameters(reference):
    optimize = with_edit(reference, "optimize", "    parameters = update_parameters(parameters, gradients, learning_rate)\n", "")
    assert "the parameters did not change" in fails(checks.check_optimize, optimize, reference.clip)


def test_optimize_is_checked_with_a_wrong_clip_and_says_fix_clip_first(reference):
    with_edit(reference, "clip", "np.clip(gradient, -maxValue, maxValue, out=gradient)",
              "gradient = np.clip(gradient, -maxValue, maxValue)")
    printed = run(checks.check_optimize, reference.optimize, reference.clip)
    assert "fix clip first" in printed and PASSED not in printed
    assert printed.endswith("its published values are checked once your clip works.\n")


def test_a_model_that_starts_from_a_hidden_state_of_ones(reference):
    """model's own work is checked with stand-ins first: a failure there needs no training (fast)."""
    model = with_edit(reference, "model", "a_prev = np.zeros((n_a, 1))", "a_prev = np.ones((n_a, 1))")
    message = fails(checks.check_model, model, reference.data, reference.ix_to_char, reference.char_to_ix,
                    reference.optimize, reference.clip)
    assert message == "start from a hidden state of zeros of shape (n_a, 1): a_prev = np.zeros((n_a, 1))"


def test_a_model_that_trains_with_learning_rate_0_02(reference):
    model = with_edit(reference, "model", "learning_rate=0.01)", "learning_rate=0.02)")
    assert fails(checks.check_model, model, reference.data, reference.ix_to_char, reference.char_to_ix,
                 reference.optimize, reference.clip) == "model trained with learning_rate [0.02]: use learning_rate=0.01"


def test_an_unwritten_function_stays_not_implemented(reference):
    def unwritten(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError), contextlib.redirect_stdout(io.StringIO()):
        checks.check_clip(unwritten)
    with pytest.raises(NotImplementedError), contextlib.redirect_stdout(io.StringIO()):
        checks.check_sample(unwritten, reference.char_to_ix)


# ----- the module itself ----------------------------------------------------------------------


def test_the_module_never_imports_tensorflow_or_the_course_tools():
    code = ("import sys; import utils.checks; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'coursetools')]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout


def test_one_public_check_per_exercise_each_documented():
    assert checks.__all__ == ["check_clip", "check_sample", "check_optimize", "check_model"]
    assert checks.__doc__
    for name in checks.__all__:
        assert getattr(checks, name).__doc__, name
