"""The top of the feedback page and its formulas: two template filters (:data:`coursetools.plugins.feedback.FILTERS`).

* :func:`feedback_summary` (``course_feedback_summary``): what a student reads
  first, before the notebook: the score (in all, and per function), then each
  failed test with its name (:func:`~coursetools.security.feedback_html.test_cell_label`),
  its whole message and, beside it, the student's own function (the source of
  the cell that defines the function the test checks), each with a link to its
  cell below; the passed tests in one line. It reads the notebook as the
  feedback preprocessors left it (outputs sanitised, hidden tests removed, a
  message that quotes a hidden test replaced): a test's message is the
  ``ename: evalue`` of its error outputs, never a traceback or test code.
  Everything in it is escaped: names, messages and sources are all text.
* :func:`instructor_markdown2html` (``course_markdown_math``): the instructor's
  Markdown cells (only those: ``course_trusted_markdown``) rendered as
  nbconvert renders Markdown, but with every formula (``$...$``, ``$$...$$``,
  ``\\begin{...}...\\end{...}``) converted to MathML by ``latex2mathml`` when the
  page is written. Browsers render MathML natively: the page loads no MathJax
  and nothing else. The MathML passes an allow-list of MathML elements and
  attributes (:func:`~coursetools.security.feedback_html.clean_mathml`); a
  formula ``latex2mathml`` cannot convert stays as TeX text.
  Students' Markdown keeps its TeX as text (it is sanitised, and MathML is not on
  the sanitiser's allow-list).
"""

import html
import re

from jinja2 import pass_context
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from ..security.feedback_html import clean_mathml, is_test_cell, test_cell_label, tested_function
from ..security.hidden_tests import strip_ansi

SUMMARY_ID = "feedback-summary"  # the id of the summary's <section>, the first thing in the page's body

# ----- formulas -----------------------------------------------------------------------------------------


def tex_html(tex, display):
    """The formula ``tex`` as MathML (``display``: "block" or "inline"), or as escaped TeX text when it cannot be."""
    try:
        return clean_mathml(latex_to_mathml(tex.strip(), display=display))
    except Exception:  # latex2mathml raises many kinds of errors on TeX it does not know: show the TeX
        text = html.escape(f"$${tex}$$" if display == "block" else f"${tex}$")
        return f'<code class="course-tex">{text}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with formulas as MathML instead of TeX left for MathJax."""

    def block_math(self, body):
        return tex_html(body, "block")

    def inline_math(self, body):
        return tex_html(body, "inline")

    def latex_environment(self, name, body):
        return tex_html(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


@pass_context
def instructor_markdown2html(context, source):
    """``source`` (an instructor's Markdown cell) as HTML with MathML formulas; as nbconvert's ``markdown2html``
    otherwise (the cell's attachments, anchors on headings)."""
    cell = context.get("cell", {}) or {}
    renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}))
    return MarkdownWithMath(renderer=renderer).render(source)


# ----- the summary ------------------------------------------------------------------------------------


def _number(value):
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return "0"


def _nbgrader(cell):
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _message(cell):
    """The test's message: ``ename: evalue`` of each error output (ANSI colours removed), or ''."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            ename, evalue = strip_ansi(str(out.get("ename", "Error"))), strip_ansi(str(out.get("evalue", "")))
            parts.append(f"{ename}: {evalue}" if evalue else ename)
    return "\n".join(parts)


def _defines(source, function):
    return re.search(rf"^[ \t]*def[ \t]+{re.escape(function)}[ \t]*\(", source or "", re.M) is not None


def function_cell(cells, index, function):
    """The cell that defines ``function`` as the test at ``index`` ran it: the last answer cell before the test
    that defines it (else the last code cell that does), or None."""
    before = [c for c in cells[:index] if c.get("cell_type") == "code" and _defines(c.get("source"), function)]
    answers = [c for c in before if _nbgrader(c).get("solution")]
    return (answers or before or [None])[-1]


def _anchor(cell, prefix=""):
    """``#<name>`` of the anchor the template puts before ``cell`` (its grade id, checked by the sanitiser), or None."""
    gid = _nbgrader(cell).get("grade_id")
    return f"#{prefix}{gid}" if isinstance(gid, str) and gid else None


def _link(href, text):
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>' if href else html.escape(text)


def _code_html(source):
    """``source`` (a student's code) highlighted; pygments escapes every character of it."""
    code = highlight(source, PythonLexer(), HtmlFormatter(nowrap=True))
    return f'<div class="highlight course-code"><pre>{code}</pre></div>'


def test_results(nb):
    """``[{grade_id, label, function, score, points, passed, message, cell, source_cell}]``: the test cells of
    ``nb`` in notebook order (``source_cell``: the cell that defines the tested function, or None)."""
    cells, results = list(nb.cells), []
    for index, cell in enumerate(cells):
        if not is_test_cell(cell):
            continue
        nbg = _nbgrader(cell)
        gid = str(nbg.get("grade_id", ""))
        function = tested_function(gid)
        score, points = float(nbg.get("score") or 0), float(nbg.get("points") or 0)
        results.append({"grade_id": gid, "label": test_cell_label(gid), "function": function, "score": score,
                        "points": points, "passed": score >= points, "message": _message(cell), "cell": cell,
                        "source_cell": function_cell(cells, index, function) if function else None})
    return results


def _scores_table(results):
    functions = {}
    for r in results:
        functions.setdefault(r["function"] or r["label"], []).append(r)
    rows = []
    for function, tests in functions.items():
        score, points = sum(t["score"] for t in tests), sum(t["points"] for t in tests)
        verdicts = "; ".join(f'{t["label"].split(": ", 1)[-1]}: {"passed" if t["passed"] else "failed"}'
                             for t in tests)
        state = "course-ok" if score >= points else "course-lost"
        rows.append(f'<tr class="{state}"><td><code>{html.escape(function)}</code></td>'
                    f'<td class="course-points">{_number(score)} / {_number(points)}</td>'
                    f"<td>{html.escape(verdicts)}</td></tr>")
    return ('<table class="course-scores"><thead><tr><th>function</th><th>points</th><th>tests</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _failures_html(tests):
    """One block for the failed ``tests`` of one function: each test's name, points and whole message, and beside
    them the student's function (once)."""
    said = []
    for r in tests:
        gid = r["grade_id"]
        message = r["message"] or "(the test stopped without a message: see its cell in the notebook below)"
        anchor = f' id="failed-{html.escape(gid)}"' if gid else ""
        said.append(f'<div class="course-message"{anchor}><h4>{_link(_anchor(r["cell"]), r["label"])} '
                    f'<span class="course-points">{_number(r["score"])} / {_number(r["points"])}</span></h4>'
                    f"<pre>{html.escape(message)}</pre></div>")
    first = tests[0]
    function, source = first["function"], first["source_cell"]
    if source is not None:
        caption = f'Your <code>{html.escape(function)}</code> ({_link(_anchor(source, "comment-"), "its cell below")})'
        code = (f'<div class="course-function"><div class="course-caption">{caption}</div>'
                f'{_code_html(source.get("source", ""))}</div>')
    elif function:
        code = (f'<div class="course-function"><div class="course-caption">Your <code>{html.escape(function)}'
                "</code>: no cell of the notebook defines it before this test</div></div>")
    else:
        code = ""
    return (f'<div class="course-failure"><div class="course-messages">{"".join(said)}</div>{code}</div>')


def feedback_summary(nb, resources=None):
    """The summary section (HTML) of the feedback page of ``nb``: see the module's docstring. ``resources``:
    nbconvert's, with nbgrader's ``score``, ``max_score``, ``late_penalty`` and ``notebook``."""
    nbg = (resources or {}).get("nbgrader") or {}
    results = test_results(nb)
    failed, passed = [r for r in results if not r["passed"]], [r for r in results if r["passed"]]
    score = f'{_number(nbg.get("score"))} / {_number(nbg.get("max_score"))} points'
    title = f'{html.escape(str(nbg.get("notebook", "")))}: {score}'
    parts = [f'<section id="{SUMMARY_ID}" class="course-summary">', f"<h2>{title}</h2>"]
    if float(nbg.get("late_penalty") or 0) > 0:
        parts.append(f'<p class="course-late">Late submission penalty: -{_number(nbg["late_penalty"])} points.</p>')
    if results:
        parts.append(_scores_table(results))
    if failed:
        parts.append(f'<h3>{len(failed)} failed test{"s" if len(failed) != 1 else ""}</h3>')
        by_function = {}
        for r in failed:  # the failed tests of one function beside one copy of it
            key = (r["function"], id(r["source_cell"])) if r["function"] else r["grade_id"]
            by_function.setdefault(key, []).append(r)
        parts += [_failures_html(tests) for tests in by_function.values()]
    elif results:
        parts.append('<p class="course-all-passed">Every test passed.</p>')
    if passed:
        links = ", ".join(_link(_anchor(r["cell"]), r["label"]) for r in passed)
        parts.append(f'<p class="course-passed"><b>Passed ({len(passed)}):</b> {links}</p>')
    parts.append("</section>")
    return "\n".join(parts)
