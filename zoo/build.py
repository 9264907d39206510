"""The submission zoo: every kind of submission a class produces, built from the course's notebooks.

:func:`build_zoo` makes a scratch course folder (the course's config with
short caps, the source assignment, its release via ``nbgrader
generate_assignment``) and writes one ``submitted/<name>/dinosaurus_island/``
per entry of :data:`ZOO`. Each submission is the released notebook with the
answer cells filled in (from the source notebook's solution, with the
solution markers removed), then edited with nbformat the way a student would:
a mistake, a trick, a fault. Nothing is hand-edited.

:data:`ZOO` is the one table of expected results: the submission's status
and, per graded cell in notebook order, a letter (``P`` passed, ``F`` a check
failed, ``N`` not implemented, ``E`` another error, ``T`` timed out, ``M``
out of memory, ``-`` not graded). Scores follow from it exactly: every test
cell is all-or-nothing. :func:`expected_table` gives it as
``{student: {"status": ..., "cells": {cell: (score, status)}, "total": ...}}``.
"""

import json
import shutil
import sys
from dataclasses import dataclass

import nbformat

from coursetools import course as course_folder
from coursetools.course import run_nbgrader
from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT, ROOT

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
RENAMED = NOTEBOOK.replace(".ipynb", " (1).ipynb")  # the name a browser gives a second download
# Graded cells in notebook order, with their points.
CELLS = {
    "test-clip-published": 1, "test-clip-hidden": 2,
    "test-sample-published": 1, "test-sample-hidden": 3,
    "test-optimize-published": 1, "test-optimize-hidden": 2,
    "test-model-published": 1, "test-model-hidden": 2,
}
LETTERS = {"P": "passed", "F": "failed", "N": "not implemented", "E": "error", "T": "timed out",
           "M": "out of memory", "-": "not graded"}

# Caps of the zoo's course (appended to the course's nbgrader_config.py): short, so the zoo runs fast.
ZOO_CELL_TIMEOUT_S = 20
ZOO_MEMORY_BYTES = 1536 * 1024**2
ZOO_MAX_OUTPUT_BYTES = 1024**2
ZOO_SUBMISSION_TIMEOUT_S = 240
ZOO_CONFIG = f"""
# --- the submission zoo's caps (zoo/build.py) ---
c.Execute.timeout = {ZOO_CELL_TIMEOUT_S}
c.CappedKernelManager.memory_limit_bytes = {ZOO_MEMORY_BYTES}
c.GradingExecute.max_output_bytes = {ZOO_MAX_OUTPUT_BYTES}
"""


@dataclass(frozen=True)
class Entry:
    name: str
    what: str
    status: str
    cells: str  # one letter per graded cell, in CELLS order


ZOO = [
    # the two ends
    Entry("correct", "the reference solution, as a student would submit it", "graded", "PPPPPPPP"),
    Entry("untouched", "the release, nothing filled in", "graded", "NNNNNNNN"),
    Entry("one-wrong", "model trains with learning_rate=0.02; clip, sample and optimize right", "graded", "PPPPPPFF"),
    # common mistakes
    Entry("clip-swapped-bounds", "np.clip(g, maxValue, -maxValue): everything becomes -maxValue", "graded", "FFPPPPPP"),
    Entry("clip-not-in-place", "clip returns clipped copies, the caller's arrays keep their values", "graded", "PFPPPPPP"),
    # One mistake costs the points of its own function only (issue 20): at least three per function.
    Entry("clip-copy-in-loop", "gradient = np.clip(gradient, ...) in the loop: nothing is clipped", "graded", "FFPPPPPP"),
    Entry("sample-choice-without-p", "np.random.choice without p: the draws ignore the model", "graded", "PPFFPPPP"),
    Entry("optimize-no-update", "optimize never calls update_parameters", "graded", "PPPPFFPP"),
    Entry("sample-no-reseed", "sample without np.random.seed(counter + seed)", "graded", "PPFFPPPP"),
    # The visible sample test checks the cap on a hand-made model whose first newline would be draw 79, so it
    # fails on every machine (issue 14; before, its letter depended on the BLAS: see uncapped_published_letter).
    Entry("sample-no-cap", "sample without the 50-character cap: an infinite loop on a model that never "
          "emits the newline (that cell times out, the others are graded)", "graded", "PPFTPPPP"),
    Entry("optimize-clip-10", "optimize clips at 10 instead of 5 (2000 published iterations never reach 5)",
          "graded", "PPPPFFPP"),
    Entry("optimize-returns-a-prev", "optimize returns the incoming hidden state, not a[len(X)-1]", "graded", "PPPPFFPP"),
    Entry("model-no-shuffle", "model never shuffles the names", "graded", "PPPPPPFF"),
    Entry("model-reshuffle", "model resets the seed and reshuffles at every epoch", "graded", "PPPPPPFF"),
    # gaming
    # The visible sample test runs hand-made models before the published weights (issue 14): hard-coded
    # indices fail it too. model's tests run it with stand-ins first (issue 20): a model that only prints the
    # published transcript never calls optimize, and fails both.
    Entry("game-hardcode", "sample returns the published indices; model prints the published transcript",
          "graded", "PPFFPPFF"),
    # model is right, so model's tests pass whatever sample does (issue 20); the guard undoes the replayed
    # draws for sample-published.
    Entry("game-monkeypatch", "sample is uniform, np.random.choice patched to replay the published draws; "
          "np.allclose/np.isclose/np.array_equal/utils.rnn_forward patched", "graded", "PPFFPPPP"),
    # Trains right only when optimize is one of the course's stand-ins: the real training runs catch it.
    Entry("game-detect-stand-ins", "model uses learning_rate 0.01 with a stand-in optimize, 0.02 otherwise",
          "graded", "PPPPPPFF"),
    Entry("game-reseed", "correct, but reseeds numpy everywhere and disables np.random.seed", "graded", "PPPPPPPP"),
    # An unwritten sample stops model's real training run: model's visible test reports it without failing.
    Entry("game-edit-tests", "sample left blank, its test cells edited to print 'All tests passed!'",
          "graded", "PPNNPPPP"),
    Entry("game-delete-tests", "correct, two graded test cells deleted", "graded", "PPPPPPPP"),
    Entry("game-duplicate", "correct, a test cell duplicated and a wrong first copy of the sample cell",
          "graded", "PPPPPPPP"),
    # faults
    Entry("fault-memory-hog", "correct, the clip cell also doubles a list until memory runs out", "graded", "PPPPPPPP"),
    Entry("fault-kernel-exit", "the sample cell calls os._exit(1)", "kernel died", "--------"),
    Entry("fault-huge-output", "correct, the clip cell also prints 300 MB", "graded", "PPPPPPPP"),
    Entry("fault-invalid-json", "the notebook file is cut in half", "invalid notebook", "--------"),
    Entry("fault-empty-file", "the notebook file is empty", "invalid notebook", "--------"),
    Entry("fault-wrong-kernelspec", "correct, saved with an R kernelspec", "graded", "PPPPPPPP"),
    Entry("fault-renamed", f"correct, saved as {RENAMED!r}", "missing notebook", "--------"),
]


PUBLISHED_PREFIX = 43  # the published sample test compares this many indices (the rest depends on the BLAS)


def uncapped_published_letter(root=ROOT):
    """What the published sample test gives a sampler without the 50-character cap, on this machine.

    With the published N(0, 1) weights the draws after the 43rd depend on the
    BLAS library. Where the 50th draw is the newline (the published run), the
    uncapped sampler stops there and passes; elsewhere it draws past 51 indices
    and fails. This runs the mutated solution (with a 10000-draw safety stop)
    on the published weights, exactly as the test cell does.
    """
    import numpy as np

    from coursetools.solution import load_solution

    ns = load_solution()
    src = _strip_markers(_by_id(nbformat.read(CourseLayout(root).source(ASSIGNMENT) / NOTEBOOK, as_version=4), "sample").source)
    src = _replace(src, "while (idx != newline_character and counter != 50):",
                   "while idx != newline_character and counter < 10000:")
    exec(compile(src, "uncapped_sample", "exec"), ns.__dict__)
    data = open(root / "data" / "dinos.txt").read().lower()
    char_to_ix = {ch: i for i, ch in enumerate(sorted(set(data)))}
    np.random.seed(2)
    n_a, vocab = 100, len(char_to_ix)
    Wax, Waa, Wya = np.random.randn(n_a, vocab), np.random.randn(n_a, n_a), np.random.randn(vocab, n_a)
    b, by = np.random.randn(n_a, 1), np.random.randn(vocab, 1)
    indices = ns.sample({"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}, char_to_ix, 0)
    if len(indices) >= 10000:
        return "T"
    published = [int(i) for i in PUBLISHED_SAMPLE.strip("[]").split(",")]
    ok = indices[:PUBLISHED_PREFIX] == published[:PUBLISHED_PREFIX] and len(indices) <= 51 and indices[-1] == 0
    return "P" if ok else "F"


def uncapped_letter_like_a_kernel():
    """:func:`uncapped_published_letter` computed in a process with one BLAS thread, as grading kernels run."""
    import os
    import subprocess

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--uncapped-letter"], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return out.stdout.strip().splitlines()[-1]


def expected_table(zoo=ZOO):
    """``{student: {"status", "cells": {cell: (score or None, cell status)}, "total"}}`` from :data:`ZOO`.

    A ``?`` letter (machine-dependent) is resolved by :func:`uncapped_published_letter`.
    """
    table = {}
    for e in zoo:
        assert len(e.cells) == len(CELLS), f"{e.name}: {len(e.cells)} letters for {len(CELLS)} cells"
        letters = e.cells.replace("?", uncapped_letter_like_a_kernel()) if "?" in e.cells else e.cells
        cells = {}
        for (cell, points), letter in zip(CELLS.items(), letters):
            score = None if letter == "-" else (float(points) if letter == "P" else 0.0)
            cells[cell] = (score, LETTERS[letter])
        total = None if e.status != "graded" else sum(s for s, _ in cells.values())
        table[e.name] = {"status": e.status, "cells": cells, "total": total}
    return table


# ----- building the notebooks -------------------------------------------------------------


def _replace(source, old, new, count=1):
    assert source.count(old) >= 1, f"zoo: {old!r} not found; the source notebook changed, update zoo/build.py"
    return source.replace(old, new, count)


def _strip_markers(source):
    return "\n".join(ln for ln in source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _by_id(nb, grade_id):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"zoo: no cell {grade_id!r} in the notebook")


def filled(release_nb, source_nb):
    """The release notebook with every answer cell replaced by the source's solution (markers removed)."""
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = _strip_markers(_by_id(source_nb, meta["grade_id"]).source)
    return nb


def _edit(nb, grade_id, fn):
    cell = _by_id(nb, grade_id)
    cell.source = fn(cell.source)


def _append(nb, grade_id, code):
    _edit(nb, grade_id, lambda s: s + "\n\n" + code)


PUBLISHED_SAMPLE = ("[12, 17, 24, 14, 13, 9, 10, 22, 24, 6, 13, 11, 12, 6, 21, 15, 21, 14, 3, 2, 1, 21, 18, 24, 7, "
                    "25, 6, 25, 18, 10, 16, 2, 3, 8, 15, 12, 11, 7, 1, 12, 10, 2, 7, 7, 11, 5, 6, 12, 25, 0, 0]")
PUBLISHED_TRANSCRIPT = '''
def model(data, ix_to_char, char_to_ix, num_iterations=35000, n_a=50, dino_names=7, vocab_size=27,
          verbose=True, progress=False, loss_history=None):
    print("Iteration: 0, Loss: 23.087336\\n")
    for name in ["Nkzxwtdmfqoeyhsqwasjkjvu", "Kneb", "Kzxwtdmfqoeyhsqwasjkjvu", "Neb",
                 "Zxwtdmfqoeyhsqwasjkjvu", "Eb", "Xwtdmfqoeyhsqwasjkjvu"]:
        print(name)
    print("\\n")
    print("Iteration: 2000, Loss: 27.884160\\n")
    return initialize_parameters(n_a, vocab_size, vocab_size)
'''
MONKEYPATCH = '''
import utils as _u
_replay = iter(''' + PUBLISHED_SAMPLE + ''' * 1000)
np.random.choice = lambda *args, **kwargs: next(_replay)
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
_u.rnn_forward = lambda *args, **kwargs: (0.0, None)
'''


def _mutate(name, nb, release_nb):
    """Apply the zoo entry ``name`` to the filled notebook ``nb`` (in place); return the file bytes or None."""
    if name in ("correct", "untouched"):
        pass
    elif name == "one-wrong":
        _edit(nb, "model", lambda s: _replace(s, "learning_rate=0.01)", "learning_rate=0.02)"))
    elif name == "clip-swapped-bounds":
        _edit(nb, "clip", lambda s: _replace(s, "np.clip(gradient, -maxValue, maxValue, out=gradient)",
                                             "np.clip(gradient, maxValue, -maxValue, out=gradient)"))
    elif name == "clip-not-in-place":
        _edit(nb, "clip", lambda s: _replace(
            s, "    for gradient in [dWax, dWaa, dWya, db, dby]:\n        np.clip(gradient, -maxValue, maxValue, out=gradient)",
            "    dWax, dWaa, dWya, db, dby = [np.clip(g, -maxValue, maxValue) for g in [dWax, dWaa, dWya, db, dby]]"))
    elif name == "clip-copy-in-loop":
        _edit(nb, "clip", lambda s: _replace(s, "np.clip(gradient, -maxValue, maxValue, out=gradient)",
                                             "gradient = np.clip(gradient, -maxValue, maxValue)"))
    elif name == "sample-choice-without-p":
        _edit(nb, "sample", lambda s: _replace(s, "np.random.choice(range(vocab_size), p=y.ravel())",
                                               "np.random.choice(range(vocab_size))"))
    elif name == "optimize-no-update":
        _edit(nb, "optimize", lambda s: _replace(s, "    parameters = update_parameters(parameters, gradients, learning_rate)\n", ""))
    elif name == "sample-no-reseed":
        _edit(nb, "sample", lambda s: _replace(s, "np.random.seed(counter + seed)", "pass"))
    elif name == "sample-no-cap":
        _edit(nb, "sample", lambda s: _replace(s, "while (idx != newline_character and counter != 50):",
                                               "while idx != newline_character:"))
    elif name == "optimize-clip-10":
        _edit(nb, "optimize", lambda s: _replace(s, "clip(gradients, 5)", "clip(gradients, 10)"))
    elif name == "optimize-returns-a-prev":
        _edit(nb, "optimize", lambda s: _replace(s, "return loss, gradients, a[len(X)-1]", "return loss, gradients, a_prev"))
    elif name == "model-no-shuffle":
        _edit(nb, "model", lambda s: _replace(s, "    np.random.shuffle(examples)\n", ""))
    elif name == "model-reshuffle":
        _edit(nb, "model", lambda s: _replace(
            s, "        idx = j % len(examples)\n",
            "        idx = j % len(examples)\n        if j > 0 and idx == 0:\n"
            "            np.random.seed(0)\n            np.random.shuffle(examples)\n"))
    elif name == "game-detect-stand-ins":
        _edit(nb, "model", lambda s: _replace(
            s, "learning_rate=0.01)", "learning_rate=0.01 if type(optimize).__name__ == 'RecordingOptimize' else 0.02)"))
    elif name == "game-hardcode":
        _edit(nb, "sample", lambda s: _replace(s, "    return indices", f"    return {PUBLISHED_SAMPLE}"))
        _edit(nb, "model", lambda s: PUBLISHED_TRANSCRIPT)
    elif name == "game-monkeypatch":
        _edit(nb, "sample", lambda s: _replace(s, "        y = softmax(z)", "        y = np.ones((vocab_size, 1)) / vocab_size"))
        _append(nb, "sample", MONKEYPATCH)
    elif name == "game-reseed":
        for gid in ("clip", "sample", "optimize"):
            _append(nb, gid, "np.random.seed(12345)")
        _append(nb, "model", "np.random.seed(12345)\nnp.random.seed = lambda *args, **kwargs: None")
    elif name == "game-edit-tests":
        _by_id(nb, "sample").source = _by_id(release_nb, "sample").source  # the answer left blank
        for gid in ("test-sample-published", "test-sample-hidden"):
            _by_id(nb, gid).source = 'print("\\033[92mAll tests passed!")'
    elif name == "game-delete-tests":
        gone = {"test-clip-hidden", "test-model-published"}
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in gone]
    elif name == "game-duplicate":
        i = nb.cells.index(_by_id(nb, "test-clip-published"))
        copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))
        copy["id"] = "test-clip-published-copy"
        nb.cells.insert(i + 1, copy)
        j = nb.cells.index(_by_id(nb, "sample"))
        wrong = nbformat.from_dict(json.loads(json.dumps(nb.cells[j])))
        wrong.source = _replace(wrong.source, "np.random.seed(counter + seed)", "pass")
        wrong["id"] = "sample-first-try"
        nb.cells.insert(j, wrong)
    elif name == "fault-memory-hog":
        _append(nb, "clip", "def _augment(names):\n    while True:\n        names = names + names\n\n_augment(list(data))")
    elif name == "fault-kernel-exit":
        _append(nb, "sample", "import os\nos._exit(1)")
    elif name == "fault-huge-output":
        _append(nb, "clip", "for _ in range(300):\n    print('x' * 1_000_000)")
    elif name == "fault-invalid-json":
        text = nbformat.writes(nb)
        return text[: len(text) // 2].encode()
    elif name == "fault-empty-file":
        return b""
    elif name == "fault-wrong-kernelspec":
        nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
        nb.metadata["language_info"] = {"name": "R"}
    elif name == "fault-renamed":
        pass
    else:
        raise KeyError(f"zoo: no recipe for {name!r}")
    return None


def make_course(course_dir, root=ROOT):
    """A scratch course: the course's config (+ the zoo's caps), the source assignment, its release."""
    course = course_folder.make_course(course_dir, [ASSIGNMENT], root)
    with open(CourseLayout(course).config, "a") as f:
        f.write(ZOO_CONFIG)
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    return course


def build_zoo(course_dir, root=ROOT, zoo=ZOO):
    """Build the zoo course at ``course_dir``; return :func:`expected_table` of ``zoo``."""
    course = CourseLayout(make_course(course_dir, root))
    release_dir = course.release(ASSIGNMENT)
    release_nb = nbformat.read(release_dir / NOTEBOOK, as_version=4)
    source_nb = nbformat.read(course.source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    for entry in zoo:
        folder = course.submitted(entry.name, ASSIGNMENT)
        shutil.copytree(release_dir, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        nb = nbformat.from_dict(json.loads(json.dumps(release_nb))) if entry.name == "untouched" else filled(release_nb, source_nb)
        raw = _mutate(entry.name, nb, release_nb)
        target = folder / (RENAMED if entry.name == "fault-renamed" else NOTEBOOK)
        if raw is None:
            nbformat.write(nb, target)
        else:
            target.write_bytes(raw)
    return expected_table(zoo)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="build the submission zoo in a scratch course folder")
    parser.add_argument("course_dir", nargs="?", default=str(COURSE.scratch / "zoo-course"))
    parser.add_argument("--uncapped-letter", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.uncapped_letter:
        print(uncapped_published_letter())
        sys.exit(0)
    table = build_zoo(args.course_dir)
    print(f"built {len(table)} submissions in {args.course_dir}")
