"""The "Expected output" of the notebook's 35,000-iteration training cell.

The notebook shows what the course's own reference solution prints on this
stack. ``python -m training.expected_output`` (or ``course expected-output``) reruns that training and
writes the text into the markdown cell ``train-expected`` of the source
notebook; ``tests/course/test_expected_output.py`` checks the committed text.
"""

import contextlib
import io
import re

import nbformat

from coursetools.settings import ASSIGNMENTS, COURSE, DATA_DIR, DEFAULT_ASSIGNMENT
from coursetools.solution import load_solution

ASSIGNMENT = DEFAULT_ASSIGNMENT
CELL_ID = "train-expected"
NUM_ITERATIONS = 35000
# Training is chaotic: a last-bit difference in a BLAS kernel's summation order grows until the
# printed loss and names differ between machines. `python bench/bench_blas_spread.py` measured it
# on 2026-12-01 over six OpenBLAS kernels (Katmai, Nehalem, Sandybridge, Haswell, and Haswell for
# ZEN/default on an AMD EPYC): every checkpoint up to 14000 was identical on all of them (the
# published values of the assignment stop at 12000); from 16000 on the losses spread by up to 0.19
# and the names differ. Another machine of this kind printed 23.10565 where this one prints 22.93 at
# 20000 (0.18). The tests accept 0.5 there: 2.5 times the largest spread measured, still well
# below the fall of the loss over training.
EXACT_UNTIL = 12000  # checkpoints 0..12000: the same digits and names on every machine
LATE_LOSS_TOLERANCE = 0.5  # later checkpoints: |your loss - shown loss| stays below this
MARKER = "# ---- from here on, your numbers and names depend on your machine (see above) ----"
HEADER = (
    "**Expected output** of the course's reference solution. Up to `Iteration: {exact}` every digit and\n"
    "every name is the same on every computer. The lines after the marker `# ---- from here on ...`\n"
    "depend on your machine: training is chaotic, and the BLAS library that numpy uses for the matrix\n"
    "products rounds the last bit differently on different processors. That tiny difference grows\n"
    "until the sampled names differ and the loss differs by a few tenths. Your curve still falls the\n"
    "same way: from about 23.3 at iteration 12000 to about 22.5 at the end.\n"
    "\n"
    "<details><summary>Show the full expected output</summary>\n"
    "\n"
    "```\n{text}\n```\n"
    "</details>"
)
FENCE = re.compile(r"<details><summary>[^\n]*</summary>\n\n```\n(.*?)\n```\n</details>", re.S)


def notebook_path():
    return COURSE.source(ASSIGNMENT) / ASSIGNMENTS[ASSIGNMENT].notebooks[0]


def load_names_data():
    """The dataset and vocabulary exactly as the notebook builds them."""
    data = (DATA_DIR / "dinos.txt").read_text().lower()
    chars = sorted(set(data))
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    ix_to_char = {i: ch for i, ch in enumerate(chars)}
    return data, char_to_ix, ix_to_char


def reference_training_output(num_iterations=NUM_ITERATIONS):
    """What ``model(...)`` of the reference solution prints (verbose, no progress bar)."""
    sol = load_solution(ASSIGNMENT)
    data, char_to_ix, ix_to_char = load_names_data()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        sol.model(data, ix_to_char, char_to_ix, num_iterations=num_iterations)
    return out.getvalue().strip("\n")


def _cell(nb):
    for cell in nb.cells:
        if cell.get("id") == CELL_ID:
            return cell
    raise KeyError(f"the notebook has no cell with id {CELL_ID!r}")


def notebook_expected_output(path=None):
    """The expected-output text currently in the notebook (with its marker line)."""
    nb = nbformat.read(path or notebook_path(), as_version=4)
    match = FENCE.search(_cell(nb).source)
    if not match:
        raise ValueError(f"cell {CELL_ID!r} has no <details> block with a fenced expected output")
    return match.group(1)


def with_marker(text):
    """``text`` with :data:`MARKER` on its own line before the first machine-dependent checkpoint."""
    for m in CHECKPOINT.finditer(text):
        if int(m.group(1)) > EXACT_UNTIL:
            return text[:m.start()] + MARKER + "\n\n" + text[m.start():]
    return text


def expected_cell_source(text):
    """The whole markdown of the expected-output cell for the printed training ``text``."""
    return HEADER.format(exact=EXACT_UNTIL, text=with_marker(text))


def split_late(text):
    """``(machine-independent part, machine-dependent part)`` of printed training ``text`` (marker dropped)."""
    text = text.replace(MARKER + "\n\n", "")
    for m in CHECKPOINT.finditer(text):
        if int(m.group(1)) > EXACT_UNTIL:
            return text[:m.start()], text[m.start():]
    return text, ""


def machine_neutral(new, committed):
    """What to commit for a rerun that printed ``new``, when ``committed`` is in the notebook.

    The part every machine prints alike is always ``new``'s. The machine-dependent
    part stays as committed when ``new``'s differs from it only as machines do (the
    same checkpoints, each loss within :data:`LATE_LOSS_TOLERANCE`): so a rerun on
    another machine leaves the notebook unchanged, and a real change is still written.
    """
    new_exact, new_late = split_late(new)
    old_exact, old_late = split_late(committed)
    new_points, old_points = checkpoints(new_late), checkpoints(old_late)
    if old_late and set(new_points) == set(old_points) and all(
            abs(new_points[i][0] - old_points[i][0]) <= LATE_LOSS_TOLERANCE for i in new_points):
        return new_exact + old_late
    return new


def update_notebook(path=None, log=print):
    """Rerun the reference training and write its output, marked, into the notebook (only if it changed)."""
    path = path or notebook_path()
    text = reference_training_output()
    with contextlib.suppress(ValueError):  # no expected output yet: write the new one
        text = machine_neutral(text, notebook_expected_output(path))
    nb = nbformat.read(path, as_version=4)
    source = expected_cell_source(text)
    if _cell(nb).source == source:
        log(f"the expected training output in {path} is unchanged")
        return False
    _cell(nb).source = source
    nbformat.write(nb, path)
    log(f"updated the expected training output in {path}")
    return True


CHECKPOINT = re.compile(r"^Iteration: (\d+), Loss: ([0-9.]+)$", re.M)


def checkpoints(text):
    """``{iteration: (loss, [names...])}`` parsed from printed training output."""
    out = {}
    matches = list(CHECKPOINT.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        names = [line for line in text[m.end():end].splitlines() if line.strip() and line != MARKER]
        out[int(m.group(1))] = (float(m.group(2)), names)
    return out


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(prog="python -m training.expected_output", description=__doc__.split("\n\n")[0]).parse_args()
    update_notebook()
