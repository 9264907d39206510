"""The class at a glance, from the grade report: ``python -m coursetools report --summary``.

:func:`summarize` turns the per-student reports of :mod:`.report` into a
:class:`ClassSummary`:

- how many submissions were handed in, graded and not graded (grouped by
  status, with each reason and the one-line fix);
- the totals: mean, median, quartiles, and their histogram;
- every test cell's pass rate among the graded submissions;
- **the common mistakes**: failing test cells grouped by the cause their
  message names (numbers and quoted values aside, two students' messages for
  the same mistake are the same sentence), with counts and students;
- the students who pass every visible test but fail a hidden one;
- the slowest submissions, and the submissions that hit one of the grader's bounds.

:func:`format_summary` prints it; :func:`write_summary_html` writes a page
for a browser, with the figures drawn by matplotlib and embedded (no script,
nothing loaded from the network, every text escaped);
:func:`write_grades_csv` writes the one-row-per-student CSV an LMS imports.
"""

import base64
import csv
import html
import io
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from nbgrader.api import Gradebook

from ..layout import CourseLayout
from ..security.hidden_tests import hidden_lines
from . import report, statuses

# The one-line fix for each reason a submission was not graded.
FIXES = {
    statuses.MISSING: "the expected notebook is not there: if the submission holds one notebook under another "
                      "name, grade it with `course grade --accept-renamed`; otherwise ask the student to submit again",
    statuses.INVALID: "the notebook file is not a readable notebook (cut, empty, not JSON): ask the student to "
                      "download it again from JupyterLab and submit again",
    statuses.KERNEL_DIED: "the student's code ended the kernel (os._exit, a crash, the sandbox's memory cap): "
                          "open the autograded notebook, tell the student which cell",
    statuses.TIMED_OUT: "the notebook ran past the submission's time limit: look for an endless loop, or grade "
                        "again with a larger --submission-timeout",
    statuses.ERROR: "the grader failed on this submission: grade it again with --student; the reason says why",
}
SLOWEST = 5  # submissions listed as the slowest
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_BRACKETS = re.compile(r"\[[^\[\]\n]*\]")


def cause_of(detail):
    """The cause a failure message names, without the values that differ between students."""
    text = re.sub(r"^\w+(Error|Exception): ", "", (detail or "").strip())
    text = _QUOTED.sub("'…'", text)
    text = _BRACKETS.sub("[…]", text)
    text = _NUMBER.sub("#", text)
    return " ".join(text.split()) or "(no message)"


@dataclass
class MistakeGroup:
    """Students whose test ``cell`` failed with the same cause."""

    cell: str
    cause: str
    example: str  # one student's whole message
    students: list = field(default_factory=list)


@dataclass
class ClassSummary:
    assignment: str
    max_score: float
    submitted: int
    totals: dict  # student -> total of the graded submissions
    not_graded: dict  # status -> [(student, reason)]
    pass_rates: list  # [(cell, passed, graded)] in notebook order
    mistakes: list  # [MistakeGroup], most common first
    hidden_only: list  # students who pass every visible test and fail a hidden one
    slowest: list  # [(student, seconds)]
    limits: dict  # bound -> students that hit it

    @property
    def graded(self):
        return len(self.totals)

    def stats(self):
        """``{mean, median, q1, q3, min, max}`` of the totals (empty without a graded submission)."""
        values = sorted(self.totals.values())
        if not values:
            return {}
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        return {"mean": statistics.fmean(values), "median": median, "q1": q1, "q3": q3,
                "min": values[0], "max": values[-1]}


def hidden_cells(course, assignment):
    """Names of the graded cells whose gradebook copy holds hidden tests."""
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        return {cell.name for nb in gb.find_assignment(assignment).notebooks for cell in nb.source_cells
                if hidden_lines(cell.source or "")}


def summarize(reports, assignment, hidden=frozenset()):
    """A :class:`ClassSummary` of ``reports`` (:func:`.report.grade_report`); ``hidden``: the hidden test cells."""
    graded = [r for r in reports if r.status == statuses.GRADED]
    not_graded = {}
    for r in reports:
        if r.status != statuses.GRADED:
            not_graded.setdefault(r.status, []).append((r.student, r.reason))
    cells = [c.cell for c in reports[0].cells] if reports else []
    pass_rates = [(cell, sum(1 for r in graded for c in r.cells if c.cell == cell and c.status == report.PASSED),
                   len(graded)) for cell in cells]
    groups = {}
    for r in graded:
        for c in r.cells:
            if c.status in (report.PASSED, report.NOT_GRADED):
                continue
            key = (c.cell, c.status, cause_of(c.detail) if c.detail else c.status)
            group = groups.setdefault(key, MistakeGroup(c.cell, key[2], c.detail or c.status))
            group.students.append(r.student)
    order = {cell: i for i, cell in enumerate(cells)}
    mistakes = sorted(groups.values(), key=lambda g: (-len(g.students), order.get(g.cell, 0), g.cause))
    hidden_only = [r.student for r in graded
                   if any(c.cell in hidden and c.status != report.PASSED for c in r.cells)
                   and all(c.status == report.PASSED for c in r.cells if c.cell not in hidden)]
    slowest = sorted(((r.student, r.seconds) for r in reports if r.seconds), key=lambda x: -x[1])[:SLOWEST]
    limits = {}
    for r in graded:
        for limit in r.limits:
            limits.setdefault(limit, []).append(r.student)
    return ClassSummary(assignment, reports[0].max_score if reports else 0.0, len(reports),
                        {r.student: r.score for r in graded}, not_graded, pass_rates, mistakes, hidden_only,
                        slowest, limits)


def class_summary(course, assignment):
    """:func:`summarize` of the course's grade report."""
    return summarize(report.grade_report(course, assignment), assignment, hidden_cells(course, assignment))


def _names(students, limit=12):
    shown = ", ".join(students[:limit])
    return shown + (f" and {len(students) - limit} more" if len(students) > limit else "")


def format_summary(s):
    """The summary as text for a terminal."""
    lines = [f"Class summary: {s.assignment}",
             f"submitted {s.submitted}, graded {s.graded}, not graded {s.submitted - s.graded}"]
    st = s.stats()
    if st:
        lines.append(f"total (of {s.max_score:g}): mean {st['mean']:.2f}, median {st['median']:g}, "
                     f"quartiles {st['q1']:g} / {st['q3']:g}, min {st['min']:g}, max {st['max']:g}")
    for status, rows in s.not_graded.items():
        lines += ["", f"not graded, {status} ({len(rows)}): fix: {FIXES.get(status, 'see the reason')}"]
        lines += [f"  {student}: {reason}" for student, reason in rows]
    if s.pass_rates:
        lines += ["", "pass rate per test cell:"]
        lines += [f"  {cell:<28} {passed:>4}/{total:<4} {100 * passed / total if total else 0:5.1f}%"
                  for cell, passed, total in s.pass_rates]
    if s.mistakes:
        lines += ["", "common mistakes (failing tests grouped by the cause their message names):"]
        for g in s.mistakes:
            lines.append(f"  {len(g.students):>4} x {g.cell}: {g.example}")
            lines.append(f"         students: {_names(g.students)}")
    if s.hidden_only:
        lines += ["", f"pass every visible test, fail a hidden one ({len(s.hidden_only)}): {_names(s.hidden_only)}"]
    for limit, students in s.limits.items():
        lines += ["", f"graded, hit the {limit} ({len(students)}): {_names(students)}"]
    if s.slowest:
        lines += ["", "slowest submissions: " + ", ".join(f"{student} {sec:.1f} s" for student, sec in s.slowest)]
    return "\n".join(lines)


def _png(fig):
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def histogram_png(s):
    """The totals' histogram, one bar per point, as an embeddable PNG data URL."""
    fig = Figure(figsize=(6, 2.8), dpi=100)
    ax = fig.add_subplot()
    top = int(s.max_score) if s.max_score else 1
    ax.hist(list(s.totals.values()), bins=[x - 0.5 for x in range(top + 2)], color="#4a7ab5", edgecolor="white")
    ax.set_xlabel(f"total (of {s.max_score:g})")
    ax.set_ylabel("students")
    ax.set_xlim(-0.5, top + 0.5)
    fig.tight_layout()
    return _png(fig)


def pass_rate_png(s):
    """Each test cell's pass rate as horizontal bars, as an embeddable PNG data URL."""
    fig = Figure(figsize=(6, 0.35 * len(s.pass_rates) + 0.9), dpi=100)
    ax = fig.add_subplot()
    names = [cell for cell, _, _ in s.pass_rates][::-1]
    rates = [100 * p / t if t else 0 for _, p, t in s.pass_rates][::-1]
    ax.barh(names, rates, color="#5a9e6f")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded submissions passing")
    fig.tight_layout()
    return _png(fig)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
td, th {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }}
td.n {{ text-align: right; }}
.fix {{ color: #555; }}
</style></head><body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _table(head, rows, numeric=()):
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(
            f"<td class=\"n\">{html.escape(str(v))}</td>" if i in numeric else f"<td>{html.escape(str(v))}</td>"
            for i, v in enumerate(row)) + "</tr>")
    return "\n".join(out) + "</table>"


def summary_html(s):
    """The summary as one self-contained HTML page (figures embedded as PNG, no script, every text escaped)."""
    e = html.escape
    st = s.stats()
    body = [f"<p>Submitted <b>{s.submitted}</b>, graded <b>{s.graded}</b>, not graded "
            f"<b>{s.submitted - s.graded}</b>.</p>"]
    if st:
        body.append(_table(["of", "mean", "median", "first quartile", "third quartile", "min", "max"],
                           [[f"{s.max_score:g}", f"{st['mean']:.2f}", f"{st['median']:g}", f"{st['q1']:g}",
                             f"{st['q3']:g}", f"{st['min']:g}", f"{st['max']:g}"]], numeric=range(7)))
        body.append(f'<h2>Scores</h2><img alt="histogram of the totals" src="{histogram_png(s)}">')
    if s.not_graded:
        body.append("<h2>Not graded</h2>")
        for status, rows in s.not_graded.items():
            body.append(f"<h3>{e(status)} ({len(rows)})</h3><p class=\"fix\">Fix: {e(FIXES.get(status, 'see the reason'))}</p>")
            body.append(_table(["student", "reason"], rows))
    if s.pass_rates:
        body.append(f'<h2>Pass rate per test cell</h2><img alt="pass rate per test cell" src="{pass_rate_png(s)}">')
        body.append(_table(["test cell", "passed", "graded", "%"],
                           [[c, p, t, f"{100 * p / t if t else 0:.1f}"] for c, p, t in s.pass_rates], numeric=(1, 2, 3)))
    if s.mistakes:
        body.append("<h2>Common mistakes</h2><p>Failing tests grouped by the cause their message names "
                    "(numbers and quoted values aside); one student's whole message as the example.</p>")
        body.append(_table(["students", "test cell", "message (example)", "who"],
                           [[len(g.students), g.cell, g.example, ", ".join(g.students)] for g in s.mistakes],
                           numeric=(0,)))
    if s.hidden_only:
        body.append("<h2>Pass every visible test, fail a hidden one</h2>"
                    f"<p>{e(', '.join(s.hidden_only))}</p>")
    for limit, students in s.limits.items():
        body.append(f"<h2>Graded, hit the {e(limit)}</h2><p>{e(', '.join(students))}</p>")
    if s.slowest:
        body.append("<h2>Slowest submissions</h2>" + _table(["student", "seconds"],
                                                            [[n, f"{sec:.1f}"] for n, sec in s.slowest], numeric=(1,)))
    return PAGE.format(title=e(f"Class summary: {s.assignment}"), body="\n".join(body))


def write_summary_html(s, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(summary_html(s), encoding="utf-8")
    return path


def function_of(cell):
    """The graded function a test cell belongs to: ``test-clip-hidden`` -> ``clip`` (else the cell's name)."""
    parts = cell.split("-")
    return parts[1] if len(parts) >= 3 and parts[0] == "test" else cell


GRADES_FIELDS = ["student_id", "total", "max_score", "status"]


def write_grades_csv(reports, path):
    """One row per student: ``student_id, total, max_score, status``, then one column per graded function.

    A submission that was not graded has an empty total (an LMS then leaves
    the student's grade alone) and its status says why. See docs/grading.md for
    importing it into Canvas or Moodle.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    functions = list(dict.fromkeys(function_of(c.cell) for c in reports[0].cells)) if reports else []
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(GRADES_FIELDS + functions)
        for r in reports:
            per = dict.fromkeys(functions, 0.0)
            for c in r.cells:
                per[function_of(c.cell)] += c.score or 0.0
            graded = r.score is not None
            w.writerow([r.student, f"{r.score:g}" if graded else "", f"{r.max_score:g}",
                        r.status_text] + [f"{per[fn]:g}" if graded else "" for fn in functions])
    return path
