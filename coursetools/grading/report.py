"""The grade report: scores and statuses per student and per cell, as a table and a CSV.

Sources: the gradebook (scores), the status file that :mod:`coursetools.grading.statuses`
writes (whether a submission could be graded at all, and why not), and the
autograded notebooks (why a cell lost its points: a failed check, an error,
a timeout, the memory cap). "Graded: 0 points" and "could not be graded" are
never confused: an ungraded submission has no score, only a status and a reason.

Cell statuses: ``passed``, ``failed`` (an ``assert`` failed), ``not implemented``,
``error`` (another exception), ``timed out`` (the cell hit the wall-clock cap),
``out of memory`` (``MemoryError`` under the memory cap), ``not graded``
(the submission could not be graded).
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import (Assignment, Gradebook, GradeCell, Grade, Notebook, SubmittedAssignment,
                          SubmittedNotebook)

from ..course import CourseError
from ..layout import CourseLayout
from . import statuses

PASSED, FAILED, NOT_IMPLEMENTED, ERRORED = "passed", "failed", "not implemented", "error"
CELL_TIMED_OUT, OUT_OF_MEMORY, NOT_GRADED = "timed out", "out of memory", "not graded"
# What the grader writes where it cut a cell's output (the kernel's stub, GradingExecute, the trusted run).
OUTPUT_CUT = ("[grader: output cut", "[grader: display update cut")
MAX_DETAIL_CHARS = 4000  # a whole failure message (the grader caps what a test prints anyway)
# A bound the submission hit while it was graded (shown beside "graded"), from the note that starts with it.
OUTPUT_LIMIT = "output limit"
LIMITS = (OUTPUT_LIMIT,)
CODES = {PASSED: "", FAILED: "F", NOT_IMPLEMENTED: "N", ERRORED: "E", CELL_TIMED_OUT: "T",
         OUT_OF_MEMORY: "M", NOT_GRADED: ""}
ERROR_STATUS = {"AssertionError": FAILED, "NotImplementedError": NOT_IMPLEMENTED,
                "CellTimeoutError": CELL_TIMED_OUT, "MemoryError": OUT_OF_MEMORY}


@dataclass
class CellScore:
    """One graded cell of one student (``score`` is None when the submission was not graded)."""

    student: str
    assignment: str
    notebook: str
    cell: str
    score: float
    max_score: float
    status: str = ""
    detail: str = ""


@dataclass
class StudentReport(statuses.StudentResult):
    """A :class:`~coursetools.grading.statuses.StudentResult` with its graded cells (:class:`CellScore`)."""

    cells: list = field(default_factory=list)

    @property
    def score(self):
        scores = [c.score for c in self.cells if c.score is not None]
        return sum(scores) if self.status == statuses.GRADED else None

    @property
    def max_score(self):
        return sum(c.max_score for c in self.cells)

    @property
    def limits(self):
        """The bounds this submission hit while it was graded (e.g. ``["output limit"]``); its grade stands."""
        return [limit for limit in LIMITS if any(n.startswith(f"{limit}:") for n in self.notes)]

    @property
    def status_text(self):
        """``graded``, ``graded (output limit)`` or ``NOT GRADED: <why>``: the status column of the report."""
        if self.status != statuses.GRADED:
            return f"NOT GRADED: {self.status}"
        return self.status + (f" ({', '.join(self.limits)})" if self.limits else "")


def cell_scores(root, assignment):
    """One :class:`CellScore` per student and graded cell of ``assignment`` in the gradebook."""
    rows = []
    with Gradebook(CourseLayout(root).gradebook_url) as gb:
        a = gb.find_assignment(assignment)
        for sub in sorted(a.submissions, key=lambda s: s.student.id):
            for nb in sub.notebooks:
                for grade in sorted(nb.grades, key=lambda g: g.cell.name):
                    rows.append(CellScore(sub.student.id, assignment, nb.name, grade.cell.name,
                                          float(grade.score), float(grade.max_score)))
    return rows


def _error_status(outputs):
    """``(status, detail)`` from a cell's outputs: a timeout or memory error first, else the first error."""
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if not errors:
        return None, ""
    rank = {CELL_TIMED_OUT: 0, OUT_OF_MEMORY: 1}
    out = min(errors, key=lambda o: rank.get(ERROR_STATUS.get(o.get("ename")), 2))
    ename = out.get("ename", "Error")
    evalue = " ".join(str(out.get("evalue", "")).split())
    detail = f"{ename}: {evalue}" if evalue else ename
    return ERROR_STATUS.get(ename, ERRORED), detail[:MAX_DETAIL_CHARS]


def _output_text(out):
    data = out.get("data") or {}
    return str(out.get("text", "")) + str(data.get("text/plain", ""))


def notebook_details(path):
    """From an autograded notebook: ``{grade_id: (status, detail)}`` of its cells, and notes.

    Notes tell about cells that are not graded but went wrong (an answer cell
    that timed out or ran out of memory), cells whose output hit the grader's
    cap, and what the grading guard restored.
    """
    details, notes = {}, []
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return details, notes
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id") or cell.get("id", "?")
        status, detail = _error_status(cell.get("outputs", []))
        if meta.get("grade") and not meta.get("solution"):
            details[gid] = (status, detail)
        elif status in (CELL_TIMED_OUT, OUT_OF_MEMORY) or (status and meta.get("solution")):
            notes.append(f"cell {gid}: {detail}")
        if any(marker in _output_text(out) for out in cell.get("outputs", []) for marker in OUTPUT_CUT):
            notes.append(f"{OUTPUT_LIMIT}: cell {gid} printed or displayed more than the grader keeps; the rest was cut")
        restored = cell.metadata.get("grading", {}).get("restored")
        if restored:
            notes.append(f"before {gid} the grader restored {', '.join(restored)}")
    return details, notes


def _grade_cells(gb, assignment):
    """``[(notebook, cell name, max score)]`` in notebook order."""
    a = gb.find_assignment(assignment)
    out = []
    for nb in a.notebooks:
        order = {c.name: i for i, c in enumerate(nb.source_cells)}
        cells = sorted(nb.grade_cells, key=lambda c: order.get(c.name, 10**6))
        out += [(nb.name, c.name, float(c.max_score)) for c in cells if c.cell_type == "code"]
    return out


def all_scores(gb, assignment):
    """``{(student, notebook, grade cell): score}`` of every grade of ``assignment``, in one query.

    The same score as ``gb.find_grade(...).score`` (manual over automatic, plus
    extra credit), without one query per student and cell.
    """
    rows = (gb.db.query(SubmittedAssignment.student_id, Notebook.name, GradeCell.name, Grade.score)
            .join(GradeCell, GradeCell.id == Grade.cell_id)
            .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .filter(Assignment.name == assignment))
    return {(student, nb, cell): float(score) for student, nb, cell, score in rows}


def check_gradebook(course, assignment):
    """Raise :class:`~coursetools.course.CourseError` saying what to do when ``course`` has no gradebook
    that knows ``assignment`` (nbgrader would create an empty gradebook, or fail deep inside)."""
    layout = CourseLayout(course)
    if not Path(course).is_dir():
        raise CourseError(f"no course folder {course}: give --course the folder that holds gradebook.db")
    if not layout.gradebook.is_file():
        raise CourseError(f"no gradebook in {course} ({layout.gradebook.name} is missing): grade the submissions first, "
                          f"course grade {assignment}")
    with Gradebook(layout.gradebook_url) as gb:
        known = sorted(a.name for a in gb.assignments)
    if assignment not in known:
        raise CourseError(f"the gradebook of {course} has no assignment {assignment!r} (it has: "
                          f"{', '.join(known) or 'none'}): check the name, or grade it first, course grade {assignment}")


def grade_report(course, assignment):
    """One :class:`StudentReport` per student of the status file (or, without one, of the gradebook)."""
    course = Path(course)
    check_gradebook(course, assignment)
    recorded = {r["student"]: r for r in statuses.read_statuses(course, assignment)}
    reports = []
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        cells = _grade_cells(gb, assignment)
        scores = all_scores(gb, assignment)
        submitted = {student for (student,) in gb.db.query(SubmittedAssignment.student_id)
                     .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                     .filter(Assignment.name == assignment)}
        students = sorted(set(recorded) | (submitted if not recorded else set()))
        for student in students:
            st = recorded.get(student, {"status": statuses.GRADED, "reason": "", "notes": []})
            rep = StudentReport(student, assignment, st["status"], st.get("reason", ""), list(st.get("notes", [])))
            graded = rep.status == statuses.GRADED and student in submitted
            if rep.status == statuses.GRADED and not graded:
                rep.status, rep.reason = statuses.ERROR, "no gradebook entry: grade this submission again"
            details = {}
            for nb_name in sorted({nb for nb, _, _ in cells}):
                if graded:
                    d, notes = notebook_details(CourseLayout(course).autograded(student, assignment) / f"{nb_name}.ipynb")
                    details[nb_name] = d
                    rep.notes += [n for n in notes if n not in rep.notes]
            for nb_name, cell, max_score in cells:
                if not graded:
                    rep.cells.append(CellScore(student, assignment, nb_name, cell, None, max_score, NOT_GRADED, ""))
                    continue
                score = scores.get((student, nb_name, cell), 0.0)
                status, detail = details.get(nb_name, {}).get(cell, (None, ""))
                if status is None:
                    status = PASSED if score >= max_score else FAILED
                rep.cells.append(CellScore(student, assignment, nb_name, cell, score, max_score, status, detail))
            reports.append(rep)
    return reports


def _short(cell):
    return cell.replace("test-", "").replace("-published", "-pub").replace("-hidden", "-hid")


def format_report(reports):
    """A terminal table (one line per student, one column per graded cell), a legend, then the reasons and notes."""
    if not reports:
        return "(no submissions)"
    cells = [c.cell for c in reports[0].cells]
    names = [_short(c) for c in cells]
    width = max(len("student"), *(len(r.student) for r in reports))
    cw = [max(len(n), 6) for n in names]
    head = "student".ljust(width) + "  " + "  ".join(n.rjust(w) for n, w in zip(names, cw)) + "    total  status"
    lines = [head, "-" * len(head)]
    for r in reports:
        parts = []
        for c, w in zip(r.cells, cw):
            if c.score is None:
                parts.append("-".rjust(w))
            else:
                code = CODES.get(c.status, "?")
                parts.append((f"{c.score:g}" + (f" {code}" if code else "")).rjust(w))
        total = f"{r.score:g}/{r.max_score:g}" if r.score is not None else f"-/{r.max_score:g}"
        lines.append(r.student.ljust(width) + "  " + "  ".join(parts) + "  " + total.rjust(7) + "  " + r.status_text)
    lines.append("")
    lines.append("cells: score, then F failed check, E error, N not implemented, T timed out, M out of memory; "
                 "- not graded")
    explained = [r for r in reports if r.reason or r.notes]
    if explained:
        lines.append("")
        for r in explained:
            if r.reason:
                lines.append(f"{r.student}: {r.status}: {r.reason}")
            for n in r.notes:
                lines.append(f"{r.student}: note: {n}")
    return "\n".join(lines)


CSV_FIELDS = ["student", "assignment", "notebook", "cell", "score", "max_score", "cell_status", "detail",
              "submission_status", "reason", "notes", "limits"]


def write_report_csv(reports, path):
    """One CSV row per student and graded cell; an empty score means "not graded", not zero."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for r in reports:
            for c in r.cells:
                w.writerow([r.student, r.assignment, c.notebook, c.cell, "" if c.score is None else c.score,
                            c.max_score, c.status, c.detail, r.status, r.reason, "; ".join(r.notes),
                            "; ".join(r.limits)])
    return path


__all__ = ["CellScore", "StudentReport", "cell_scores", "grade_report", "format_report", "write_report_csv"]
