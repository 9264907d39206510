"""``course feedback <assignment>``: feedback pages for every graded student, then a leak scan.

:func:`generate_feedback` runs ``nbgrader generate_feedback`` (which applies the
course's feedback plugins, :mod:`coursetools.plugins.feedback`), then checks
what it wrote: nothing but the notebooks' pages (and nbgrader's own files) in
``feedback/``, and no hidden-test line and no line of the instructor's solution
in them, in any case, plainly or encoded (:func:`scan_for_leaks`).
"""

import html
import re
from pathlib import Path

import nbformat

from ..course import CourseError, run_nbgrader
from ..layout import CourseLayout
from ..security.feedback_html import is_nbgrader_file
from ..security.hidden_tests import MIN_SECRET_LEN, find_encoded, hidden_lines, strip_ansi
from .report import check_gradebook

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def visible_text(html_text):
    """The text a browser shows: tags removed, entities decoded, whitespace collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", html_text)))


def notebook_text(path):
    """Everything a notebook shows (sources, outputs, tracebacks), as plain text with collapsed whitespace."""
    parts = []
    for cell in nbformat.read(path, as_version=4).cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts += [strip_ansi(str(x)) for x in out.get("traceback", [])]
            parts.append(str(out.get("evalue", "")))
            parts += [str(v) for v in (out.get("data") or {}).values()]
    return _SPACE.sub(" ", "\n".join(parts))


def _public_source(course, assignment, name):
    """The cell sources of the released notebook ``name`` (what every student sees anyway)."""
    rel = course.release(assignment) / name
    if not rel.exists():
        return ""
    return "\n".join(c.source for c in nbformat.read(rel, as_version=4).cells)


def secret_lines(course, assignment):
    """Hidden-test lines of the source notebooks of ``assignment`` that the release does not show."""
    course = CourseLayout(course)
    secrets = []
    for src in sorted(course.source(assignment).glob("*.ipynb")):
        public = _public_source(course, assignment, src.name)
        for cell in nbformat.read(src, as_version=4).cells:
            secrets += hidden_lines(cell.source, public)
    return sorted(set(secrets))


def _folded(text):
    """``text`` with its whitespace collapsed and its case folded: what "appears in" is judged on."""
    return _SPACE.sub(" ", text).casefold()


def solution_lines(course, assignment):
    """Lines of the instructor's solutions (``### BEGIN SOLUTION`` blocks) that the release does not show
    anywhere (not even inside a longer line: a test's message may quote one), long enough to say
    something (:data:`~coursetools.security.hidden_tests.MIN_SECRET_LEN`)."""
    course = CourseLayout(course)
    lines = set()
    for src in sorted(course.source(assignment).glob("*.ipynb")):
        public = _folded(_public_source(course, assignment, src.name))
        for cell in nbformat.read(src, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                marker = line.strip()
                if marker in (BEGIN_SOLUTION, END_SOLUTION):
                    inside = marker == BEGIN_SOLUTION
                elif (inside and len(marker) >= MIN_SECRET_LEN and not marker.startswith("#")
                      and _folded(marker) not in public):
                    lines.add(marker)
    return sorted(lines)


def own_code(notebook):
    """A notebook's code cells as one folded text (:func:`_folded`): what its author wrote (or was given)."""
    if not Path(notebook).is_file():
        return ""
    return _folded("\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"))


def _whole(line):
    """A pattern for ``line``, in any case, that does not match inside a longer identifier."""
    head = r"(?<!\w)" if re.match(r"\w", line) else ""
    tail = r"(?!\w)" if re.search(r"\w$", line) else ""
    return re.compile(head + re.escape(line) + tail, re.IGNORECASE)


def scan_for_leaks(paths, secrets, labels=None):
    """``[(path, secret line)]`` for every secret line visible in one of the HTML/notebook files.

    Plain lines are looked for in the visible text, in any case; encoded ones (base64, hex, compressed,
    reversed, ROT13, any case: :func:`coursetools.security.hidden_tests.find_encoded`) in the whole
    file, attributes included, and reported as ``"<line> (<encoding>)"``. ``labels``: ``{line: label}``
    for lines whose report ends with ``" (<label>)"``.
    """
    labels = labels or {}
    leaks = []
    # whole lines only: "_history = []" (hidden) must not match inside "loss_history = []" (public)
    needles = [(s, _whole(_SPACE.sub(" ", s))) for s in secrets]
    for path in paths:
        raw_text = open(path, encoding="utf-8", errors="replace").read()
        text = notebook_text(path) if str(path).endswith(".ipynb") else visible_text(raw_text)
        plain = [raw for raw, needle in needles if needle.search(text)]
        found = [(raw, raw) for raw in plain]
        found += [(raw, f"{raw} ({how})") for raw, how in find_encoded(raw_text, secrets) if raw not in plain]
        leaks += [(str(path), f"{line} ({labels[raw]})" if raw in labels else line) for raw, line in found]
    return leaks


def generate_feedback(course, assignment):
    """Run ``nbgrader generate_feedback`` in ``course``, then scan what it wrote (:func:`scan_feedback`);
    return the leaks found. A course with nothing autograded for ``assignment`` is a clear
    :class:`~coursetools.course.CourseError`, not nbgrader's log."""
    check_gradebook(course, assignment)
    if not any(CourseLayout(course).autograded().glob(f"*/{assignment}/*.ipynb")):
        raise CourseError(f"nothing autograded for {assignment!r} in {course}: grade the submissions first, "
                          f"course grade {assignment}")
    run_nbgrader(["generate_feedback", assignment, "--force"], course)
    return scan_feedback(course, assignment)


def scan_feedback(course, assignment):
    """``[(path, what leaks)]`` for the feedback folders of ``assignment`` in ``course``.

    A feedback folder may hold the notebooks' pages and nbgrader's own ``timestamp.txt`` and
    ``submission_secret.txt`` (``release_feedback`` needs them); anything else is reported. Each page
    is scanned for the hidden tests' lines, and for the lines of the instructor's solution that its
    student did not write in their own code cells (only a hole in the sandbox could show those).
    """
    layout = CourseLayout(course)
    pages = {p.stem + ".html" for p in layout.source(assignment).glob("*.ipynb")}
    folders = sorted(layout.feedback().glob(f"*/{assignment}"))
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_symlink() or not p.is_dir())
    extra = [p for p in files if (p.parent not in folders or p.name not in pages or p.is_symlink())
             and not (p.parent in folders and is_nbgrader_file(p))]
    leaks = [(str(p), "a file other than a notebook's feedback page (it would be released)") for p in extra]
    files = [p for p in files if p not in extra and p.name in pages]
    hidden, solution = secret_lines(course, assignment), solution_lines(course, assignment)
    for page in files:
        student = page.parent.parent.name
        written = own_code(layout.autograded(student, assignment) / f"{page.stem}.ipynb")
        theirs = {s: "solution" for s in solution if _folded(s) not in written and s not in hidden}
        leaks += scan_for_leaks([page], [*hidden, *theirs], labels=theirs)
    print(f"feedback: {len(files)} page(s) under {layout.feedback()}, "
          f"{len(leaks)} leak(s) found in them")
    return leaks
