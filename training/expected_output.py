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

from coursetools.settings import ASSIGNMENTS, DATA_DIR, SOURCE_DIR
from coursetools.solution import load_solution

ASSIGNMENT = "dinosaurus_island"
CELL_ID = "train-expected"
NUM_ITERATIONS = 35000
FENCE = re.compile(r"(<details><summary>[^\n]*</summary>\n\n```\n)(.*?)(\n```\n</details>)", re.S)


def notebook_path():
    return SOURCE_DIR / ASSIGNMENT / ASSIGNMENTS[ASSIGNMENT].notebooks[0]


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
    """The expected-output text currently in the notebook."""
    nb = nbformat.read(path or notebook_path(), as_version=4)
    match = FENCE.search(_cell(nb).source)
    if not match:
        raise ValueError(f"cell {CELL_ID!r} has no <details> block with a fenced expected output")
    return match.group(2)


def update_notebook(path=None, log=print):
    path = path or notebook_path()
    text = reference_training_output()
    nb = nbformat.read(path, as_version=4)
    cell = _cell(nb)
    new, n = FENCE.subn(lambda m: m.group(1) + text + m.group(3), cell.source)
    if n != 1:
        raise ValueError(f"cell {CELL_ID!r} has no <details> block with a fenced expected output")
    cell.source = new
    nbformat.write(nb, path)
    log(f"updated the expected training output in {path}")


CHECKPOINT = re.compile(r"^Iteration: (\d+), Loss: ([0-9.]+)$", re.M)


def checkpoints(text):
    """``{iteration: (loss, [names...])}`` parsed from printed training output."""
    out = {}
    matches = list(CHECKPOINT.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        names = [line for line in text[m.end():end].splitlines() if line.strip()]
        out[int(m.group(1))] = (float(m.group(2)), names)
    return out


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(prog="python -m training.expected_output", description=__doc__.split("\n\n")[0]).parse_args()
    update_notebook()
