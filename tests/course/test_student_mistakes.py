"""Each mistake a student makes fails the visible test of the function where it was made, naming the cause.

``docs/student_mistakes.md`` describes the mistakes; :data:`MISTAKES` is the same list as code. Every case
takes the reference solution (:func:`coursetools.solution.load_solution`), rewrites one graded function the
way a student would (a text edit of its solution cell), runs the notebook's data cells, then runs the
*visible* test cell of that function from the source notebook, in the same namespace, as a kernel would.
The test cell must raise an AssertionError whose message names the cause (a regular expression per case).
A few cases check that a mistake in one function costs the test of a later function nothing: that test
passes and says which function to fix first (``clip`` seen from ``optimize``'s test, ``optimize`` seen from
``model``'s test). Each function is judged on its own (issue 20).
"""

import contextlib
import io
import re
from dataclasses import dataclass

import nbformat
import pytest

from coursetools.course import copy_shared
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT, ROOT
from coursetools.solution import load_solution

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = COURSE.source(ASSIGNMENT) / ASSIGNMENTS[ASSIGNMENT].notebooks[0]
RELEASE = COURSE.release(ASSIGNMENT) / ASSIGNMENTS[ASSIGNMENT].notebooks[0]
DOC = ROOT / "docs" / "student_mistakes.md"
DATA_CELLS = ("load-data", "vocab")
NUMPY_REPR = re.compile(r"np\.(int|float|bool|str)\w*\(|array\(")  # np.int64(16), array([...]): not for students
VISIBLE_TEST = {"clip": "test-clip-published", "sample": "test-sample-published",
                "optimize": "test-optimize-published", "model": "test-model-published"}


@dataclass(frozen=True)
class Mistake:
    id: str
    function: str  # the graded function the student edits
    edits: tuple  # (old, new) text replacements in that function's solution cell
    cause: str  # regular expression the failure message must match
    tested_by: str = ""  # a later function whose visible test must pass and name the cause (default: none)


MISTAKES = [
    # ----- clip
    Mistake("clip-copy-in-loop", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)", "gradient = np.clip(gradient, -maxValue, maxValue)"),),
            r"rebuild the dictionary from the original arrays.*in place.*out="),
    Mistake("clip-swapped-bounds", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, maxValue, -maxValue, out=gradient)"),),
            r"bounds are swapped"),
    Mistake("clip-upper-bound-only", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.minimum(gradient, maxValue, out=gradient)"),),
            r"below -maxValue.*lower bound is -maxValue"),
    Mistake("clip-lower-bound-zero", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, 0, maxValue, out=gradient)"),),
            r"lower bound is -maxValue, not 0"),
    Mistake("clip-fixed-bound", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, -10, 10, out=gradient)"),),
            r"use the argument maxValue, not a fixed number"),
    Mistake("clip-three-of-five", "clip",
            (("for gradient in [dWax, dWaa, dWya, db, dby]:", "for gradient in [dWax, dWaa, dWya]:"),),
            r"db was not clipped: clip all five gradients"),
    Mistake("clip-by-norm", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)",
              "gradient *= min(1.0, maxValue / np.linalg.norm(gradient))"),),
            r"clip element by element.*not a rescaling"),
    Mistake("clip-copy-seen-from-optimize", "clip",
            (("np.clip(gradient, -maxValue, maxValue, out=gradient)", "gradient = np.clip(gradient, -maxValue, maxValue)"),),
            r"optimize calls your clip.*fix clip first", tested_by="optimize"),
    # ----- sample
    Mistake("sample-seed-once", "sample",
            (("        np.random.seed(counter + seed)\n", ""),
             ("    while (idx != newline_character and counter != 50):",
              "    np.random.seed(seed)\n    while (idx != newline_character and counter != 50):")),
            r"seeds numpy only once.*inside the loop, right before every draw"),
    Mistake("sample-no-reseed", "sample", (("        np.random.seed(counter + seed)\n", ""),),
            r"global random state.*np\.random\.seed\(counter \+ seed\).*delete"),
    Mistake("sample-choice-without-p", "sample",
            (("idx = np.random.choice(range(vocab_size), p=y.ravel())", "idx = np.random.choice(range(vocab_size))"),),
            r"ignore the model's probabilities.*without p"),
    Mistake("sample-no-seed-increment", "sample", (("        seed += 1\n", ""),),
            r"keep both `seed \+= 1` and `counter \+= 1`"),
    Mistake("sample-argmax", "sample",
            (("idx = np.random.choice(range(vocab_size), p=y.ravel())", "idx = int(np.argmax(y))"),),
            r"always picks the most likely character"),
    Mistake("sample-reseed-without-counter", "sample",
            (("        np.random.seed(counter + seed)\n", "        np.random.seed(seed)\n"),),
            r"reseed with np\.random\.seed\(counter \+ seed\)"),
    Mistake("sample-swapped-weights", "sample",
            (("a = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)", "a = np.tanh(np.dot(Waa, x) + np.dot(Wax, a_prev) + b)"),),
            r"ValueError.*a = tanh\(Wax x \+ Waa a_prev \+ b\)"),
    Mistake("sample-x-not-fed-back", "sample",
            (("        x = np.zeros((vocab_size, 1))\n        x[idx] = 1\n", ""),),
            r"the input x never changes.*one-hot vector of idx"),
    Mistake("sample-x-not-reset", "sample",
            (("        x = np.zeros((vocab_size, 1))\n        x[idx] = 1\n", "        x[idx] = 1\n"),),
            r"one-hot vector of the last drawn character only.*zeros"),
    Mistake("sample-y-from-a-prev", "sample",
            (("z = np.dot(Wya, a) + by", "z = np.dot(Wya, a_prev) + by"),),
            r"y must come from the new hidden state a"),
    Mistake("sample-no-softmax", "sample", (("y = softmax(z)", "y = z"),),
            r"ValueError.*y = softmax\(z\)"),
    Mistake("sample-no-by", "sample", (("z = np.dot(Wya, a) + by", "z = np.dot(Wya, a)"),),
            r"uniform distribution.*do not forget by"),
    Mistake("sample-no-b", "sample",
            (("a = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)", "a = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev))"),),
            r"a = tanh\(Wax x \+ Waa a_prev \+ b\)"),
    Mistake("sample-a-prev-not-updated", "sample", (("        a_prev = a\n", ""),),
            r"hidden state never changes.*a_prev = a"),
    Mistake("sample-x-flat", "sample", (("    x = np.zeros((vocab_size, 1))\n", "    x = np.zeros(vocab_size)\n"),),
            r"ValueError.*x must be \(vocab_size, 1\)"),
    Mistake("sample-no-stop-at-newline", "sample",
            (("while (idx != newline_character and counter != 50):", "while (counter != 50):"),),
            r"kept drawing after the newline"),
    Mistake("sample-no-cap", "sample",
            (("while (idx != newline_character and counter != 50):", "while (idx != newline_character):"),),
            r"stop after 50 draws"),
    Mistake("sample-cap-49", "sample",
            (("while (idx != newline_character and counter != 50):", "while (idx != newline_character and counter != 49):"),),
            r"did not end with the newline index: draw up to 50 characters"),
    Mistake("sample-newline-not-appended", "sample", (("    if (counter == 50):\n        indices.append(char_to_ix['\\n'])\n", ""),),
            r"did not end with the newline index.*append the newline index"),
    Mistake("sample-newline-always-appended", "sample", (("    if (counter == 50):\n", "    if True:\n"),),
            r"append the newline index yourself only when 50 characters were drawn"),
    # ----- optimize
    Mistake("optimize-no-update", "optimize", (("    parameters = update_parameters(parameters, gradients, learning_rate)\n", ""),),
            r"parameters did not change.*update_parameters"),
    Mistake("optimize-no-clip", "optimize", (("    gradients = clip(gradients, 5)\n", ""),),
            r"not clipped: call clip\(gradients, 5\)"),
    Mistake("optimize-clip-10", "optimize", (("clip(gradients, 5)", "clip(gradients, 10)"),),
            r"clipped at 10, optimize clips at maxValue = 5"),
    Mistake("optimize-update-before-clip", "optimize",
            (("    gradients = clip(gradients, 5)\n    parameters = update_parameters(parameters, gradients, learning_rate)\n",
              "    parameters = update_parameters(parameters, gradients, learning_rate)\n    gradients = clip(gradients, 5)\n"),),
            r"clip the gradients before update_parameters"),
    Mistake("optimize-fixed-learning-rate", "optimize",
            (("update_parameters(parameters, gradients, learning_rate)", "update_parameters(parameters, gradients, 0.01)"),),
            r"pass the learning_rate argument"),
    Mistake("optimize-gradient-ascent", "optimize",
            (("update_parameters(parameters, gradients, learning_rate)", "update_parameters(parameters, gradients, -learning_rate)"),),
            r"moved up the gradient"),
    Mistake("optimize-zero-hidden-state", "optimize",
            (("rnn_forward(X, Y, a_prev, parameters)", "rnn_forward(X, Y, np.zeros_like(a_prev), parameters)"),),
            r"zero hidden state: pass it a_prev"),
    Mistake("optimize-returns-a-prev", "optimize",
            (("return loss, gradients, a[len(X)-1]", "return loss, gradients, a_prev"),),
            r"returned the hidden state it was given: return a\[len\(X\) - 1\]"),
    Mistake("optimize-returns-all-states", "optimize",
            (("return loss, gradients, a[len(X)-1]", "return loss, gradients, a"),),
            r"return a\[len\(X\) - 1\], the hidden state of the last time step"),
    Mistake("optimize-returns-first-state", "optimize",
            (("return loss, gradients, a[len(X)-1]", "return loss, gradients, a[0]"),),
            r"return a\[len\(X\) - 1\], the last hidden state"),
    # ----- model
    Mistake("model-idx-without-modulo", "model", (("idx = j % len(examples)", "idx = j"),),
            r"ran out of names after 1536 iterations.*idx = j % len\(examples\)"),
    Mistake("model-idx-off-by-one", "model", (("idx = j % len(examples)", "idx = (j + 1) % len(examples)"),),
            r"one after the other: examples\[idx\] with idx = j % len\(examples\)"),
    Mistake("model-reset-hidden-state", "model",
            (("curr_loss, gradients, a_prev = optimize(", "curr_loss, gradients, _ = optimize("),),
            r"carry the hidden state over"),
    Mistake("model-x-without-none", "model", (("X = [None] + single_example_ix", "X = single_example_ix"),),
            r"X must start with None"),
    Mistake("model-y-without-newline", "model", (("Y = X[1:] + [ix_newline]", "Y = X[1:]"),),
            r"Y must be X shifted left by one, with the newline index appended"),
    Mistake("model-learning-rate", "model", (("learning_rate=0.01)", "learning_rate=0.02)"),),
            r"use learning_rate=0\.01"),
    Mistake("model-no-shuffle", "model", (("    np.random.shuffle(examples)\n", ""),),
            r"order of the file.*np\.random\.shuffle\(examples\)"),
    Mistake("model-reshuffle-every-epoch", "model",
            (("        idx = j % len(examples)\n",
              "        idx = j % len(examples)\n        if j > 0 and idx == 0:\n"
              "            np.random.seed(0)\n            np.random.shuffle(examples)\n"),),
            r"start again with the first one.*shuffle only once"),
    Mistake("optimize-no-update-seen-from-model", "optimize",
            (("    parameters = update_parameters(parameters, gradients, learning_rate)\n", ""),),
            r"model itself works.*your optimize, which does not pass its test yet.*Fix it first", tested_by="model"),
]


def _strip_markers(source):
    return "\n".join(ln for ln in source.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


@pytest.fixture(scope="module")
def cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {cell.get("id"): cell.source for cell in nb.cells}


def run_cell(namespace, source, name):
    """Run a notebook cell in ``namespace``; return what it printed (raises what the cell raises)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, name, "exec"), namespace.__dict__)
    return out.getvalue()


@pytest.fixture(scope="module")
def assignment_folder(tmp_path_factory):
    """What the notebook finds beside it in a course (``data/``, ``utils/``), built from the top-level copies.

    ``source/<assignment>/data`` is generated and not in git, so a fresh clone does not have it.
    """
    folder = tmp_path_factory.mktemp(ASSIGNMENT)
    copy_shared(ASSIGNMENT, folder)
    return folder


def notebook_namespace(cells, monkeypatch, folder):
    """The reference solution with the notebook's data cells run, in a folder laid out like the assignment's."""
    monkeypatch.chdir(folder)
    namespace = load_solution()
    for cell_id in DATA_CELLS:
        run_cell(namespace, cells[cell_id], cell_id)
    return namespace


def student_version(cells, mistake):
    source = _strip_markers(cells[mistake.function])
    for old, new in mistake.edits:
        assert old in source, f"{mistake.id}: {old!r} is not in the solution of {mistake.function}; update the case"
        source = source.replace(old, new, 1)
    return source


def _slow_if_model(case, function):
    """The model's visible test trains for 2001 iterations (a few seconds): those cases run in the slow lane."""
    return pytest.param(case, marks=pytest.mark.slow) if function == "model" else case


@pytest.mark.parametrize("function", [_slow_if_model(f, f) for f in sorted(VISIBLE_TEST)])
def test_the_reference_solution_passes_every_visible_test(cells, monkeypatch, assignment_folder, function):
    namespace = notebook_namespace(cells, monkeypatch, assignment_folder)
    printed = run_cell(namespace, cells[VISIBLE_TEST[function]], VISIBLE_TEST[function])
    assert "All tests passed!" in printed


@pytest.mark.parametrize("mistake", [_slow_if_model(m, m.tested_by or m.function) for m in MISTAKES],
                         ids=[m.id for m in MISTAKES])
def test_a_mistake_fails_the_visible_test_and_names_its_cause(cells, monkeypatch, assignment_folder, mistake):
    namespace = notebook_namespace(cells, monkeypatch, assignment_folder)
    run_cell(namespace, student_version(cells, mistake), f"{mistake.function} ({mistake.id})")
    if mistake.tested_by:  # a later function's test: it passes (judged on its own) and says what to fix first
        test_cell = VISIBLE_TEST[mistake.tested_by]
        printed = run_cell(namespace, cells[test_cell], test_cell)
        assert re.search(mistake.cause, printed, re.S), f"{test_cell} passed without naming the cause:\n{printed}"
        return
    test_cell = VISIBLE_TEST[mistake.function]
    with pytest.raises(AssertionError) as failure:
        run_cell(namespace, cells[test_cell], test_cell)
    message = str(failure.value)
    assert re.search(mistake.cause, message, re.S), f"{test_cell} failed with a message that misses the cause:\n{message}"
    assert not NUMPY_REPR.search(message), f"the message shows numpy reprs, not plain values:\n{message}"


@pytest.mark.parametrize("function", [_slow_if_model(f, f) for f in sorted(VISIBLE_TEST)])
def test_an_unwritten_function_stays_not_implemented(cells, monkeypatch, assignment_folder, function):
    """The release's answer cells raise NotImplementedError; the visible tests let it through (graded "not
    implemented", not "failed")."""
    namespace = notebook_namespace(cells, monkeypatch, assignment_folder)
    release = nbformat.read(RELEASE, as_version=4)
    released = {cell.get("id"): cell.source for cell in release.cells}
    run_cell(namespace, released[function], f"{function} (release)")
    with pytest.raises(NotImplementedError):
        run_cell(namespace, cells[VISIBLE_TEST[function]], VISIBLE_TEST[function])


@pytest.mark.slow
def test_model_is_judged_alone_when_sample_is_not_written(cells, monkeypatch, assignment_folder):
    """model's own work is checked with stand-ins: an unwritten sample stops the real training run, which the
    test reports without failing (sample's own tests charge it)."""
    namespace = notebook_namespace(cells, monkeypatch, assignment_folder)
    released = {cell.get("id"): cell.source for cell in nbformat.read(RELEASE, as_version=4).cells}
    run_cell(namespace, released["sample"], "sample (release)")
    printed = run_cell(namespace, cells[VISIBLE_TEST["model"]], VISIBLE_TEST["model"])
    assert re.search(r"model itself works.*training stopped with NotImplementedError", printed, re.S), printed


def test_every_mistake_is_documented():
    doc = DOC.read_text()
    missing = [m.id for m in MISTAKES if f"`{m.id}`" not in doc]
    assert not missing, f"docs/student_mistakes.md does not describe {missing}"
    assert len({m.id for m in MISTAKES}) == len(MISTAKES), "two cases share an id"
