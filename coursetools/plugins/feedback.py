"""Feedback without leaks: hide hidden tests from ``nbgrader generate_feedback``.

The autograded notebook holds the full test cells, hidden tests included, and
the tracebacks of failed checks quote the failing lines. nbgrader's feedback
HTML shows both. :class:`HideHiddenTests` (registered in
``nbgrader_config.py`` under ``GenerateFeedback.preprocessors``) rewrites
every graded cell that has a ``### BEGIN HIDDEN TESTS`` block before the HTML
is made:

- the hidden block's source becomes one comment line;
- tracebacks keep only the frames that quote no hidden line (the student's
  own functions stay visible), then ``ErrorName: message``. The student still
  sees that the cell failed, which error, and the assert message the
  instructor wrote for them;
- other outputs of the cell (prints of the student's functions during the
  hidden tests, which may show the hidden inputs) are replaced by one line.

:func:`hidden_lines` lists the lines a leak scan looks for.
"""

import re

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PLACEHOLDER_SOURCE = "# (hidden tests: not shown)"
PLACEHOLDER_FRAME = "[a hidden test failed here: its code is not shown]"
PLACEHOLDER_OUTPUT = "[the output of the hidden tests is not shown]\n"
MIN_SECRET_LEN = 12  # shorter lines ("return r", "])") say nothing about a test


def strip_ansi(text):
    return ANSI.sub("", text)


def split_hidden(source):
    """``(visible source, list of hidden lines)`` of a cell; the markers themselves count as hidden."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            inside = True
            hidden.append(line)
            visible.append(PLACEHOLDER_SOURCE)
            continue
        if marker == END:
            inside = False
            hidden.append(line)
            continue
        (hidden if inside else visible).append(line)
    return "\n".join(visible), hidden


def hidden_lines(source, public_text=""):
    """The hidden lines of ``source`` worth scanning for: stripped, long enough, not also public.

    ``public_text`` is what students see anyway (the released notebook): a line
    that also appears there is no secret.
    """
    _, hidden = split_hidden(source)
    public = {ln.strip() for ln in public_text.splitlines()}
    out = []
    for line in hidden:
        s = line.strip()
        if len(s) >= MIN_SECRET_LEN and s not in public and s not in (BEGIN, END):
            out.append(s)
    return out


def _frame_is_secret(frame, secrets):
    plain = strip_ansi(frame)
    return any(s in plain for s in secrets)


def clean_traceback(traceback, secrets, ename, evalue):
    """Traceback frames without hidden lines, then ``ename: evalue``."""
    kept = []
    for frame in traceback[:-1]:
        if _frame_is_secret(frame, secrets):
            if not kept or kept[-1] != PLACEHOLDER_FRAME:
                kept.append(PLACEHOLDER_FRAME)
        else:
            kept.append(frame)
    last = f"\x1b[0;31m{ename}\x1b[0m: {evalue}"
    if _frame_is_secret(last, secrets):
        last = f"\x1b[0;31m{ename}\x1b[0m: (message not shown: it quotes a hidden test)"
    kept.append(last)
    return kept


def hide_in_cell(cell):
    """Rewrite one cell in place if it holds hidden tests; return True when it did."""
    if cell.get("cell_type") != "code":
        return False
    visible, hidden = split_hidden(cell.source)
    if not hidden:
        return False
    secrets = [ln.strip() for ln in hidden if len(ln.strip()) >= MIN_SECRET_LEN]
    cell.source = visible
    outputs, noted = [], False
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            out["traceback"] = clean_traceback(out.get("traceback", []), secrets, out.get("ename", "Error"), out.get("evalue", ""))
            if _frame_is_secret(out.get("evalue", ""), secrets):
                out["evalue"] = "(message not shown: it quotes a hidden test)"
            outputs.append(out)
        elif not noted:
            noted = True
            outputs.append(new_output("stream", name="stdout", text=PLACEHOLDER_OUTPUT))
    cell["outputs"] = outputs
    return True


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test source, and tracebacks/outputs that would show it, from feedback."""

    def preprocess_cell(self, cell, resources, cell_index):
        if hide_in_cell(cell):
            self.log.debug("hid the hidden tests of cell %s", cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        return cell, resources


# ----- generating feedback, and the leak scan -------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def visible_text(html_text):
    """The text a browser shows: tags removed, entities decoded, whitespace collapsed."""
    import html as _html

    return _SPACE.sub(" ", _html.unescape(_TAG.sub("", html_text)))


def notebook_text(path):
    """Everything a notebook shows (sources, outputs, tracebacks), as plain text with collapsed whitespace."""
    import nbformat

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
    import nbformat
    from pathlib import Path

    course = Path(course)
    secrets = []
    for src in sorted((course / "source" / assignment).glob("*.ipynb")):
        rel = course / "release" / assignment / src.name
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
    wrapped; hex; reversed; ROT13: :func:`coursetools.plugins.feedback_sanitize.find_encoded`) in the
    whole file, attributes included, and reported as ``"<line> (<encoding>)"``.
    """
    from .feedback_sanitize import find_encoded

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
    from pathlib import Path

    from ..course import run_nbgrader

    course = Path(course)
    run_nbgrader(["generate_feedback", assignment, "--force"], course)
    pages = {p.stem + ".html" for p in (course / "source" / assignment).glob("*.ipynb")}
    folders = sorted(course.glob(f"feedback/*/{assignment}"))
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_symlink() or not p.is_dir())
    extra = [p for p in files if p.parent not in folders or p.name not in pages or p.is_symlink()]
    leaks = [(str(p), "a file other than a notebook's feedback page (it would be released)") for p in extra]
    files = [p for p in files if p not in extra]
    leaks += scan_for_leaks(files, secret_lines(course, assignment))
    print(f"feedback: {len(files)} file(s) under {course / 'feedback'}, "
          f"{len(leaks)} hidden-test line(s) found in them")
    return leaks
