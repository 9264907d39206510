"""The reference solution, taken from the instructor's source notebook.

The graded functions (``clip``, ``sample``, ``optimize``, ``model``) exist in
one place only: the solution cells of
``source/dinosaurus_island/Dinosaurus_Island.ipynb``. Instructor-side code
(tests, benchmarks, evaluation scripts) that needs them calls
:func:`load_solution`, which runs the notebook's import cell and its solution
cells in a fresh namespace, without a kernel. ``utils`` never contains them,
because ``utils`` is shipped to students.
"""

import sys
import types

import nbformat

from .settings import ASSIGNMENTS, DEFAULT_ASSIGNMENT, ROOT, SOURCE_DIR

IMPORT_CELL_ID = "imports"


class SolutionError(RuntimeError):
    """The source notebook could not be turned into a solution namespace."""


def _python_lines(source):
    """Drop IPython-only lines (``%magic``, ``!shell``) so the code runs in plain Python."""
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )


def solution_cells(nb):
    """The code cells of ``nb`` marked as nbgrader solution cells, in order."""
    return [
        cell
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    ]


def load_solution(assignment=DEFAULT_ASSIGNMENT, notebook=None):
    """Execute the import cell and the solution cells of a source notebook.

    Returns a module-like namespace; for the dinosaur assignment it has
    ``clip``, ``sample``, ``optimize`` and ``model`` (plus ``np`` and the
    ``utils`` helpers the notebook imports).
    """
    try:
        spec = ASSIGNMENTS[assignment]
    except KeyError:
        raise SolutionError(
            f"unknown assignment {assignment!r}; known: {', '.join(sorted(ASSIGNMENTS))}"
        ) from None
    path = SOURCE_DIR / assignment / (notebook or spec.notebooks[0])
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise SolutionError(f"source notebook not found: {path}") from None
    except Exception as exc:  # invalid JSON or notebook format
        raise SolutionError(f"cannot read source notebook {path}: {exc}") from None

    # The notebook does `from utils import *`: the repository's utils/. The course's one sys.path
    # bootstrap (utils is what students receive, so it is no installed package).
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    namespace = types.ModuleType(f"{assignment}_solution")
    namespace.__file__ = str(path)
    for code in solution_code(nb, path.name):
        exec(code, namespace.__dict__)
    return namespace


def solution_code(nb, label):
    """The import cell and the solution cells of notebook ``nb``, compiled, in order (``label``: its file name)."""
    imports = [c for c in nb.cells if c.get("id") == IMPORT_CELL_ID]
    if not solution_cells(nb):
        raise SolutionError(f"{label} has no nbgrader solution cells")
    return [compile(_python_lines(cell.source), f"{label}[{cell.get('id')}]", "exec")
            for cell in imports + solution_cells(nb)]
