"""Every "Expected output" block of the graded notebook is what the reference prints, line for line.

Each block follows the code cell whose output it shows (the data cell, and the visible test cell
of each function). The reference solution (:func:`coursetools.solution.load_solution`) runs the
notebook's data cells and then that cell, as a student's kernel would; what it prints (terminal
colours aside) must equal the block. The lines the notebook itself marks as depending on the
machine's BLAS (the sampled indices and characters after the first 43) are compared on their
machine-independent part. The full training run's block is checked by ``test_expected_output.py``.
"""

import contextlib
import io
import re

import nbformat
import pytest

from coursetools.course import copy_shared
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT
from coursetools.solution import load_solution

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = COURSE.source(ASSIGNMENT) / ASSIGNMENTS[ASSIGNMENT].notebooks[0]
BLOCK = re.compile(r"^\*\*Expected output\*\*\s*\n+```\n(.*?)\n```", re.S)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DATA_CELLS = ("load-data", "vocab")
MACHINE_PREFIX = 43  # the sampled indices that are the same on every machine (docs/reference.md)
SLOW = {"test-model-published"}  # trains 2001 iterations


def blocks():
    """``[(id of the code cell before the block, expected text)]`` in notebook order."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    out = []
    for before, cell in zip(nb.cells, nb.cells[1:]):
        m = BLOCK.match(cell.source) if cell.cell_type == "markdown" else None
        if m and before.cell_type == "code":
            out.append((before.metadata.get("nbgrader", {}).get("grade_id") or before.get("id"), m.group(1)))
    return out


def cells_by_id():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id") or c.get("id"): c.source for c in nb.cells}


def run(namespace, source, name):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, name, "exec"), namespace.__dict__)
    return ANSI.sub("", out.getvalue())


def _machine_independent(line):
    """A list line of sampled indices or characters, cut to the entries that every machine draws alike."""
    m = re.match(r"^ \[(.*)\]$", line)
    if not m:
        return line
    items = [x.strip() for x in m.group(1).split(",")]
    return items[:MACHINE_PREFIX]


def test_every_visible_test_has_its_block():
    cells = [cell for cell, _ in blocks()]
    for cell in ("load-data", "test-clip-published", "test-sample-published", "test-optimize-published",
                 "test-model-published"):
        assert cell in cells, f"no Expected output block after {cell}"


@pytest.mark.parametrize("cell, expected", [pytest.param(c, e, marks=pytest.mark.slow) if c in SLOW else (c, e)
                                             for c, e in blocks()], ids=[c for c, _ in blocks()])
def test_the_block_is_what_the_reference_prints(cell, expected, tmp_path, monkeypatch):
    copy_shared(ASSIGNMENT, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace = load_solution()
    sources = cells_by_id()
    printed = {data_cell: run(namespace, sources[data_cell], data_cell) for data_cell in DATA_CELLS}
    printed = printed[cell] if cell in printed else run(namespace, sources[cell], cell)
    got = [ln.rstrip() for ln in printed.rstrip("\n").split("\n")]
    want = [ln.rstrip() for ln in expected.split("\n")]
    if cell == "test-sample-published":  # the notebook marks the tails of the two lists as machine-dependent
        got, want = [_machine_independent(x) for x in got], [_machine_independent(x) for x in want]
    assert got == want, f"the Expected output after {cell} is not what the reference prints:\n" + "\n".join(
        ["expected:", *map(str, want), "printed:", *map(str, got)])
