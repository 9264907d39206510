"""``course feedback <assignment>``: feedback pages for every graded student, then a leak scan.

:func:`generate_feedback` runs ``nbgrader generate_feedback`` (which applies the
course's feedback plugins, :mod:`coursetools.plugins.feedback`), then checks
what it wrote: nothing but the notebooks' pages in ``feedback/``, and no
hidden-test line in them, plainly or encoded (:func:`scan_for_leaks`).
"""

import html
import re

import nbformat

from ..course import run_nbgrader
from ..layout import CourseLayout
from ..security.hidden_tests import find_encoded, hidden_lines, strip_ansi

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


def secret_lines(course, assignment):
    """Hidden-test lines of the source notebooks of ``assignment`` that the release does not show."""
    course = CourseLayout(course)
    secrets = []
    for src in sorted(course.source(assignment).glob("*.ipynb")):
        rel = course.release(assignment) / src.name
        public = rel.read_text() if rel.exists() else ""
        public_src = ""
        if public:
            public_src = "\n".join(c.source for c in nbformat.reads(public, as_version=4).cells)
        for cell in nbformat.read(src, as_version=4).cells:
            secrets += hidden_lines(cell.source, public_src)
    return sorted(set(secrets))


def _whole(line):
    """A pattern for ``line`` that does not match inside a longer identifier."""
    head = r"(?<!\w)" if re.match(r"\w", line) else ""
    tail = r"(?!\w)" if re.search(r"\w$", line) else ""
    return re.compile(head + re.escape(line) + tail)


def scan_for_leaks(paths, secrets):
    """``[(path, secret line)]`` for every secret line visible in one of the HTML/notebook files.

    Plain lines are looked for in the visible text; encoded ones (base64 in any alignment, URL-safe,
    wrapped; hex; reversed; ROT13: :func:`coursetools.security.hidden_tests.find_encoded`) in the
    whole file, attributes included, and reported as ``"<line> (<encoding>)"``.
    """
    leaks = []
    # whole lines only: "_history = []" (hidden) must not match inside "loss_history = []" (public)
    needles = [(s, _whole(_SPACE.sub(" ", s))) for s in secrets]
    for path in paths:
        raw_text = open(path, encoding="utf-8", errors="replace").read()
        text = notebook_text(path) if str(path).endswith(".ipynb") else visible_text(raw_text)
        plain = [raw for raw, needle in needles if needle.search(text)]
        leaks += [(str(path), raw) for raw in plain]
        leaks += [(str(path), f"{raw} ({how})") for raw, how in find_encoded(raw_text, secrets) if raw not in plain]
    return leaks


def generate_feedback(course, assignment):
    """Run ``nbgrader generate_feedback`` in ``course``, then scan the output; return the leaks found."""
    layout = CourseLayout(course)
    run_nbgrader(["generate_feedback", assignment, "--force"], course)
    pages = {p.stem + ".html" for p in layout.source(assignment).glob("*.ipynb")}
    folders = sorted(layout.feedback().glob(f"*/{assignment}"))
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_symlink() or not p.is_dir())
    extra = [p for p in files if p.parent not in folders or p.name not in pages or p.is_symlink()]
    leaks = [(str(p), "a file other than a notebook's feedback page (it would be released)") for p in extra]
    files = [p for p in files if p not in extra]
    leaks += scan_for_leaks(files, secret_lines(course, assignment))
    print(f"feedback: {len(files)} file(s) under {layout.feedback()}, "
          f"{len(leaks)} hidden-test line(s) found in them")
    return leaks
