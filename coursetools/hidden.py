"""What an instructor's hidden tests use: this submission's own instance, and the reference solution.

A hidden test block of a source notebook (docs/grading.md, "Writing hidden tests")::

    ### BEGIN HIDDEN TESTS
    from coursetools.hidden import instance, reference
    rng = instance("optimize")                       # numpy RandomState, seeded for this submission
    reference_optimize = reference("optimize", clip=clip)
    ...                                              # draw inputs with rng, compare optimize with reference_optimize
    ### END HIDDEN TESTS

- :func:`instance` gives a random generator seeded from the submission
  (student, assignment, notebook and the submission's time, which the grader
  puts in the tests' namespace as :data:`SUBMISSION`): a regrade draws the
  same inputs, two students (or two hand-ins) draw different ones, so what a
  feedback page shows is of no use to the next submission.
- :func:`reference` gives the instructor's function from the solution cells
  of the source notebook in the current folder (graded tests run in
  ``source/<assignment>/``), executed afresh in the grader, with the names
  given replaced: ``reference("optimize", clip=clip)`` is the reference
  ``optimize`` calling the *student's* ``clip``, so a mistake in ``clip``
  costs ``clip``'s points only.

Both run in the grader's process; nothing of them enters the student's
kernel (hidden tests never do). Outside grading (an instructor running the
source notebook) the submission is ``"instructor"``.
"""

import builtins
import hashlib
import sys
from pathlib import Path

import nbformat
import numpy as np

from .solution import SolutionError, solution_cells, solution_code

SUBMISSION = "__submission__"  # the name of the submission's identity in the graded tests' namespace
OUTSIDE_GRADING = "instructor"
_compiled = {}  # notebook path -> (modification time, compiled import and solution cells)


def _caller_globals():
    return sys._getframe(2).f_globals


def seed_of(submission, label):
    """The 32-bit seed of ``submission``'s instance of ``label``."""
    return int.from_bytes(hashlib.sha256(f"{submission}\0{label}".encode()).digest()[:4], "little")


def instance(label):
    """A ``numpy.random.RandomState`` for this submission's hidden instance of ``label`` (any text)."""
    return np.random.RandomState(seed_of(_caller_globals().get(SUBMISSION, OUTSIDE_GRADING), label))


def _reference_code(folder):
    """The compiled import and solution cells of the one source notebook in ``folder`` that has solution cells."""
    found = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        mtime = path.stat().st_mtime_ns
        if path in _compiled and _compiled[path][0] == mtime:
            found.append(_compiled[path][1])
            continue
        nb = nbformat.read(path, as_version=4)
        if solution_cells(nb):
            _compiled[path] = (mtime, solution_code(nb, path.name))
            found.append(_compiled[path][1])
    if len(found) != 1:
        raise SolutionError(f"reference(): expected one source notebook with solution cells in {folder}, "
                            f"found {len(found)}")
    return found[0]


def reference(name, **plugged):
    """The instructor's function ``name``, run from the source notebook's solution cells, with ``plugged`` names.

    Each call executes the solution afresh in its own namespace (imports
    resolved as in the caller's namespace: the grader's trusted ``utils``),
    then sets ``plugged`` there, so ``reference("model", optimize=...)``
    trains with the ``optimize`` given.
    """
    caller = _caller_globals()
    namespace = {"__name__": "reference", "__builtins__": caller.get("__builtins__", builtins)}
    for code in _reference_code(Path.cwd()):
        exec(code, namespace)
    if name not in namespace or not callable(namespace[name]):
        raise SolutionError(f"reference(): the solution cells define no function {name!r}")
    namespace.update(plugged)
    return namespace[name]
