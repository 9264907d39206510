"""Grade one submission: the core that both runners loop over.

:func:`grade_submission` takes ``submitted/<student>/<assignment>/`` of a course folder and:

1. **pre-checks** it, reading only (:func:`precheck`): the expected notebook is
   there (a renamed or missing notebook is reported with the names found), the
   file is not empty, is valid JSON and a notebook (nbformat 4). A kernelspec
   that differs from the source's is noted (nbgrader runs the source's kernel
   anyway), and so is every locked cell edited and graded cell deleted or
   duplicated, compared with ``release/`` (:func:`tampering_notes`);
2. copies its plain files into a private folder (:func:`coursetools.security.untrusted.safe_copy`)
   and runs ``nbgrader autograde <assignment> --student <student> --force`` on
   that copy, in its own process group, under a wall-clock limit for the whole
   submission (:func:`run_autograde`; the per-cell limit and the kernel's caps
   live in ``nbgrader_config.py``). nbgrader is forked from a warm server that
   paid its imports once (:mod:`.warm_nbgrader`) or, failing that, started anew;
3. returns a :class:`~coursetools.grading.statuses.StudentResult`: ``graded``
   or why the submission could not be graded, with the reason and the notes. A
   submission that could not be graded leaves no half-written trace: its
   gradebook submission and its ``autograded/`` folder are removed
   (:func:`forget`). ``submitted/`` is never written to.

It never raises for a bad submission. The runners, :mod:`.sequential` and
:mod:`.parallel`, check the course first (:func:`ensure_assignment`,
:func:`check_sandbox`) and record the results (:mod:`.statuses`).
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from ..course import tool_env
from ..layout import CourseLayout
from ..security import untrusted
from ..security.sandbox import SandboxUnavailable, check_available
from ..settings import ASSIGNMENTS, SUBMISSION_TIMEOUT_S
from .statuses import (
    ERROR,
    GRADED,
    INVALID,
    KERNEL_DIED,
    MISSING,
    TIMED_OUT,
    StudentResult,
)
from .warm_nbgrader import WarmNbgraderError

DEAD_KERNEL = re.compile(r"DeadKernelError|Kernel died")


class GradingError(RuntimeError):
    """The batch cannot run at all (no such assignment or course folder); the message says why."""


def expected_notebooks(course, assignment):
    """Notebook file names of ``assignment``, taken from ``source/<assignment>/`` of the course."""
    src = CourseLayout(course).source(assignment)
    if not src.is_dir():
        raise GradingError(f"no source folder {src}: is {assignment!r} an assignment of this course?")
    names = sorted(p.name for p in src.glob("*.ipynb"))
    if not names:
        raise GradingError(f"{src} has no notebook")
    return names


def _kernel_name(nb):
    return (nb.get("metadata", {}).get("kernelspec") or {}).get("name")


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def tampering_notes(nb, release_nb, source_nb=None):
    """What nbgrader will undo in ``nb``, compared with the released notebook ``release_nb``.

    A locked cell identical to the instructor's ``source_nb`` version (hidden
    tests included: the instructor's own solution) is not an edit.

    Locked cells whose source was edited (nbgrader restores them), graded
    cells that were deleted (added back, ``add_missing_cells``), cells
    duplicated (only the last copy keeps its grade id).
    """
    notes = []
    released = {_grade_id(c): c for c in release_nb.cells if _grade_id(c)}
    original = {_grade_id(c): c.source for c in source_nb.cells if _grade_id(c)} if source_nb is not None else {}
    seen = {}
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid:
            seen[gid] = seen.get(gid, 0) + 1
    for gid, cell in released.items():
        meta = cell.metadata.get("nbgrader", {})
        mine = [c for c in nb.cells if _grade_id(c) == gid]
        if not mine:
            if meta.get("grade"):
                notes.append(f"deleted graded cell {gid}: nbgrader added it back")
            continue
        if meta.get("locked") and any(c.get("source", "") not in (cell.source, original.get(gid)) for c in mine):
            notes.append(f"edited locked cell {gid}: nbgrader restored it")
    notes += [f"duplicated cell {gid} ({n} copies): only the last one counts" for gid, n in seen.items() if n > 1]
    return notes


def precheck(folder, notebooks, source_folder=None, release_folder=None):
    """Check a submission folder without modifying it.

    Returns ``(status, reason, notes)``: ``status`` is :data:`GRADED` when
    nbgrader may run (``reason`` empty), else :data:`MISSING` or :data:`INVALID`.
    """
    folder = Path(folder)
    notes = []
    if folder.is_symlink() or folder.parent.is_symlink():
        return INVALID, f"the submission folder {folder.parent.name}/{folder.name}/ is a symbolic link", notes
    if not folder.is_dir():
        return MISSING, f"no submission folder {folder.name}/", notes
    for name in notebooks:
        problem = untrusted.notebook_problem(folder, name)  # a symlink to a classmate's notebook, a fifo...
        if problem:
            return INVALID, problem, notes
        path = folder / name
        if not path.is_file():
            found = sorted(p.name for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            if found:
                return MISSING, f"{name} not found; the submission has {', '.join(found)} (renamed?)", notes
            return MISSING, f"{name} not found; the submission has no notebook", notes
        raw = path.read_bytes()
        if not raw.strip():
            return INVALID, f"{name} is an empty file", notes
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return INVALID, f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})", notes
        except json.JSONDecodeError as exc:
            return INVALID, f"{name} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})", notes
        if not isinstance(data, dict) or "cells" not in data or data.get("nbformat") != 4:
            return INVALID, f"{name} is JSON but not an nbformat-4 notebook", notes
        try:
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        except Exception as exc:  # nbformat raises several kinds
            return INVALID, f"{name} is not a readable notebook ({type(exc).__name__}: {exc})"[:300], notes
        source_nb = None
        if source_folder is not None and (Path(source_folder) / name).is_file():
            source_nb = nbformat.read(Path(source_folder) / name, as_version=4)
            want = _kernel_name(source_nb)
            got = _kernel_name(nb)
            if want and got != want:
                notes.append(f"kernelspec {got!r} replaced by {want!r}")
        if release_folder is not None and (Path(release_folder) / name).is_file():
            notes += tampering_notes(nb, nbformat.read(Path(release_folder) / name, as_version=4), source_nb)
    return GRADED, "", notes


def _last_error_line(log):
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "Exception" in ln:
            return ln[-300:]
    return (lines[-1] if lines else "no output")[-300:]


def forget(course, assignment, student):
    """Remove what a failed or stale grading left: the gradebook submission and the autograded folder."""
    course = CourseLayout(course)
    if course.gradebook.exists():
        with Gradebook(course.gradebook_url) as gb:
            try:
                gb.remove_submission(assignment, student)
            except MissingEntry:
                pass
    shutil.rmtree(course.autograded(student, assignment), ignore_errors=True)


def run_in_group(cmd, cwd, timeout_s):
    """Run ``cmd`` in a new process group; on timeout kill the whole group. Return ``(code or None, output)``."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # nbgrader and the kernel it started
        except ProcessLookupError:
            pass
        try:  # a process outside the group may still hold the pipe: never wait for it
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            for pipe in (proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()
            proc.wait()
            out = ""
        return None, out


def run_autograde(course, assignment, student, timeout_s=SUBMISSION_TIMEOUT_S, submitted_dir=None, unsafe=False,
                  warm=None):
    """Run nbgrader for one student; return ``(returncode or None on timeout, log text)``.

    ``submitted_dir``: grade from this folder instead of ``submitted/`` (the
    clean copy); ``unsafe``: kernels without the sandbox; ``warm``: a started
    :class:`~coursetools.grading.warm_nbgrader.WarmNbgrader` (nbgrader forked
    from it, its imports already paid), else a new ``python -m nbgrader``.
    """
    argv = ["autograde", assignment, f"--student={glob.escape(student)}", "--force"]
    if submitted_dir:
        argv.append(f"--CourseDirectory.submitted_directory={submitted_dir}")
    if unsafe:
        argv.append("--Sandbox.unsafe_no_sandbox=True")
    if warm is not None:
        try:
            return warm.run(argv, course, timeout_s)
        except WarmNbgraderError as exc:  # the machinery, not the submission: grade it the cold way
            print(f"warm nbgrader unavailable ({exc}); a new nbgrader process grades {student}", file=sys.stderr)
    return run_in_group([sys.executable, "-m", "nbgrader", *argv], course, timeout_s)


UNSAFE_NOTE = "graded WITHOUT the sandbox (--unsafe-no-sandbox)"
SANDBOX_LINE = re.compile(r"grading sandbox: .*")


def check_sandbox(unsafe=False):
    """Stop the batch with the reason when no grading sandbox can be made (unless ``unsafe``)."""
    if unsafe:
        return
    try:
        check_available()
    except SandboxUnavailable as exc:
        raise GradingError(str(exc)) from None


def lone_notebook(folder):
    """The name of the only notebook at the top of ``folder`` (a plain file), or None."""
    folder = Path(folder)
    try:
        found = [p.name for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


RENAME_HINT = "course grade --accept-renamed"


def grade_submission(course, assignment, student, timeout_s=SUBMISSION_TIMEOUT_S, notebooks=None, unsafe=False,
                     warm=None, accept_renamed=False):
    """Pre-check and autograde one submission; never raises for a bad submission.

    ``warm``: a started :class:`~coursetools.grading.warm_nbgrader.WarmNbgrader` to fork nbgrader from.
    ``accept_renamed``: a submission whose one notebook has another name
    (``Dinosaurus_Island-Copy1.ipynb``, ``Dinosaurus_Island (1).ipynb``) is
    graded as the expected notebook, with a note; without it, the reason says how.

    nbgrader grades a clean private copy of the submission (plain files
    only: links, special and oversized files are dropped and noted); what is
    left in ``autograded/`` afterwards is swept the same way.
    """
    layout = CourseLayout(course)
    t0 = time.perf_counter()
    notebooks = notebooks or expected_notebooks(course, assignment)
    folder = layout.submitted(student, assignment)
    status, reason, notes = precheck(folder, notebooks, layout.source(assignment), layout.release(assignment))
    renamed = None
    if status == MISSING and len(notebooks) == 1 and folder.is_dir() and not folder.is_symlink():
        renamed = lone_notebook(folder)
        if renamed and not accept_renamed:
            reason += f"; to grade {renamed} as {notebooks[0]}: {RENAME_HINT}"
            renamed = None
    if status != GRADED and not renamed:
        forget(course, assignment, student)
        return StudentResult(student, assignment, status, reason, notes, time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="submission-") as clean:
        copy = os.path.join(clean, student, assignment)
        notes += untrusted.notes(untrusted.safe_copy(folder, copy))
        if renamed:
            if os.path.isfile(os.path.join(copy, renamed)):
                os.replace(os.path.join(copy, renamed), os.path.join(copy, notebooks[0]))
            status, reason, more = precheck(copy, notebooks, layout.source(assignment), layout.release(assignment))
            notes += more + [f"renamed: {renamed} graded as {notebooks[0]} (--accept-renamed)"]
            if status != GRADED:
                forget(course, assignment, student)
                return StudentResult(student, assignment, status, reason, notes, time.perf_counter() - t0)
        code, log = run_autograde(course, assignment, student, timeout_s, clean, unsafe, warm)
    notes += [f"after grading: {d}" for d in untrusted.notes(
        untrusted.sweep(layout.autograded(student, assignment)))]
    if unsafe:
        notes.append(UNSAFE_NOTE)
    if code == 0:
        status = GRADED
    elif code is None:
        status, reason = TIMED_OUT, f"the submission ran past the {timeout_s:g} s limit for a whole notebook"
    elif DEAD_KERNEL.search(log):
        status, reason = KERNEL_DIED, "the kernel died while running the notebook (os._exit, a crash, or killed)"
        why = SANDBOX_LINE.findall(log)
        if why:
            reason = why[-1][:300]
    elif "CellTimeoutError" in log:  # the kernel ignored the interrupt after a cell's time limit
        status, reason = TIMED_OUT, "a cell ran past its time limit and the kernel ignored the interrupt"
    else:
        status, reason = ERROR, _last_error_line(log)
    if status != GRADED:
        forget(course, assignment, student)
    return StudentResult(student, assignment, status, reason, notes, time.perf_counter() - t0)


def ensure_assignment(course, assignment):
    """Make sure the gradebook knows the assignment and ``source/<assignment>/`` holds what it ships.

    ``course release`` does both (it copies the shipped files, then runs ``nbgrader generate_assignment``).
    """
    fix = (f"run `course release {assignment}` first (it copies what the assignment ships, "
           "then runs nbgrader generate_assignment)")
    layout = CourseLayout(course)
    if not layout.root.is_dir():
        raise GradingError(f"no course folder {course}")
    if not layout.gradebook.exists():
        raise GradingError(f"{course} has no gradebook: {fix}")
    with Gradebook(layout.gradebook_url) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise GradingError(f"the gradebook of {course} has no assignment {assignment!r}: {fix}") from None
    spec = ASSIGNMENTS.get(assignment)
    missing = [rel for rel in (spec.shared if spec else ()) if not (layout.source(assignment) / rel).exists()]
    if missing:
        raise GradingError(f"source/{assignment}/{missing[0]} is missing (the tests need it): {fix}")


