"""Feedback HTML that is safe to open: what a submission wrote, cleaned before it is rendered.

Everything in an autograded notebook except the instructor's own cells is
written by a submission. :func:`clean_notebook` (called by the feedback
plugin :class:`coursetools.plugins.feedback.SanitizeFeedback`) makes it safe:

* only outputs of the types ``text/plain``, ``text/html``, ``text/markdown``,
  ``text/latex`` and PNG/JPEG/GIF images (checked to be base64) are kept
  (:func:`clean_output`); no JavaScript, widgets, SVG (it can carry scripts),
  output metadata (an unquoted ``width`` attribute is a way in), widget state
  or cell metadata other than nbgrader's with a valid grade id
  (:func:`clean_cell_metadata`, :func:`clean_attachments`);
* HTML and Markdown output, and every Markdown cell that is not word for word
  one of the instructor's, go through :func:`clean_student_html` (a bleach
  allow-list: no ``<script>``, event handlers, ``javascript:`` URLs, iframes,
  object/embed, forms, SVG, styles); raw cells through nbconvert's own
  ``clean_html``. The instructor's Markdown cells are kept as written, their
  images embedded (:func:`embed_images`), so the page needs nothing beside it;
  their formulas become MathML when the page is written, through a MathML
  allow-list (:func:`clean_mathml`; the page loads no MathJax);
* an output outside the hidden-test cells that shows a hidden-test line, in
  plain text or encoded, is replaced by one line (:func:`redact_leaks`);
* outputs of cells after the first hidden test, but for test cells, are
  withheld (:func:`withhold_after_hidden_tests`): what a submission learned
  while hidden tests ran cannot be printed into its feedback;
* test cells are named after their grade id (:func:`test_cell_label`:
  ``test-clip-published`` is "clip: published values").
"""

import base64
import mimetypes
import re
from pathlib import Path

import bleach
import nbformat
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat.v4 import new_output
from nbgrader.utils import parse_utc

from .hidden_tests import MIN_SECRET_LEN, find_encoded, split_hidden, strip_ansi

SAFE_OUTPUT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/gif")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
SAFE_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
EMBED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}  # instructor figures (an <img> never runs an SVG's scripts)
MAX_EMBED_BYTES = 5 * 2**20
MAX_MARKUP_CHARS = 256 * 1024  # HTML or Markdown output larger than this is not parsed, so not shown (a table is far less)
GRADER_METADATA = "grading"  # cell metadata the trusted tests write into the graded copy (the report reads it)
TRUSTED = "course_trusted_markdown"  # set on a Markdown cell that is one of the instructor's, word for word

# Test cells are named after their grade id: test-<function>-<kind>.
TEST_KINDS = {"published": "published values", "hidden": "hidden tests"}
TEST_ID = re.compile(r"test-(?P<function>.+)-(?P<kind>[a-z]+)")


# ----- student HTML ------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset({
    "a", "abbr", "acronym", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd",
    "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
SAFE_IMAGE_URI = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*", re.I)


SAFE_LINK = re.compile(r"(https?:|mailto:|#)", re.I)  # where a student's link may point


def _allowed_attribute(tag, name, value):
    # No ``class``: student markup must not borrow the page's own classes (a fake score box).
    if tag == "a":
        return name == "title" or (name == "href" and bool(SAFE_LINK.match("".join(value.split()))))
    if tag == "img":
        return name in ("alt", "title", "width", "height") or (name == "src" and bool(SAFE_IMAGE_URI.fullmatch(value)))
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    return tag == "table" and name == "border"


def clean_student_html(html):
    """``html`` written by a submission, sanitised with bleach: no script, style, event handler, iframe,
    object/embed, form or SVG, no ``class`` (the page's own look stays the page's); links only to http(s),
    mailto and anchors of the page; images only as embedded PNG/JPEG/GIF. Everything else is shown as
    text. (The template's ``course_clean_html`` filter.)"""
    cleaner = bleach.Cleaner(tags=ALLOWED_TAGS, attributes=_allowed_attribute,
                             protocols={"http", "https", "mailto", "data"}, strip=False, strip_comments=True)
    return cleaner.clean(str(html))


# The instructor's formulas, converted to MathML when the page is written (coursetools/plugins/feedback_page.py),
# pass this allow-list: the elements and presentation attributes latex2mathml writes, nothing that links or runs.
MATHML_TAGS = frozenset({
    "math", "menclose", "mfrac", "mi", "mn", "mo", "mover", "mpadded", "mphantom", "mroot", "mrow", "ms", "mspace",
    "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover",
})
MATHML_ATTRIBUTES = frozenset({
    "accent", "accentunder", "columnalign", "columnlines", "columnspacing", "depth", "display", "displaystyle",
    "fence", "form", "frame", "height", "largeop", "linethickness", "lspace", "mathcolor", "mathsize", "mathvariant",
    "maxsize", "minsize", "movablelimits", "notation", "rowalign", "rowlines", "rowspacing", "rspace", "scriptlevel",
    "separator", "stretchy", "symmetric", "voffset", "width",
})
MATHML_NS = "http://www.w3.org/1998/Math/MathML"


def _allowed_mathml_attribute(tag, name, value):
    if name == "xmlns":
        return value == MATHML_NS
    return name in MATHML_ATTRIBUTES and not re.search(r"[:()\\]|url", value, re.I)


def clean_mathml(markup):
    """MathML (converted from the instructor's TeX) with only the elements and attributes of
    :data:`MATHML_TAGS` and :data:`MATHML_ATTRIBUTES`: any other tag is removed, its text kept."""
    cleaner = bleach.Cleaner(tags=MATHML_TAGS, attributes=_allowed_mathml_attribute, protocols=set(),
                             strip=True, strip_comments=True)
    return cleaner.clean(str(markup))


def student_markdown_html(text):
    """Markdown written by a submission, rendered (as nbconvert does) and then sanitised."""
    return clean_student_html(markdown2html_mistune(str(text)))


def tested_function(grade_id):
    """The function a test cell checks, from its grade id (``test-clip-hidden`` -> ``clip``), or None."""
    m = TEST_ID.fullmatch(grade_id or "")
    return m["function"] if m else None


def test_cell_label(grade_id):
    """The summary's name of a test cell: ``test-clip-published`` -> ``clip: published values``."""
    m = TEST_ID.fullmatch(grade_id or "")
    if not m:
        return f"Test cell {grade_id}"
    return f"{m['function']}: {TEST_KINDS.get(m['kind'], m['kind'])}"


# ----- outputs and metadata ---------------------------------------------------------------------


def _size(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 100_000


def clean_output(out, where="feedback"):
    """The output ``out`` reduced to what renders safely, or None when nothing is left.

    An output left with nothing safe becomes a one-line note that it is not shown in ``where``."""
    kind = out.get("output_type")
    if kind == "stream":
        return out if out.get("name") in ("stdout", "stderr") else None
    if kind == "error":
        return out
    if kind not in ("display_data", "execute_result"):
        return None
    data = {}
    for mime, value in (out.get("data") or {}).items():
        if mime not in SAFE_OUTPUT_TYPES:
            continue
        if isinstance(value, list):
            value = "".join(value)
        if not isinstance(value, str):
            continue
        if mime in IMAGE_TYPES and not BASE64.fullmatch(value):
            continue
        if mime in ("text/html", "text/markdown") and len(value) > MAX_MARKUP_CHARS:
            continue  # parsing it would cost the grader far more memory than it is worth showing
        if mime == "text/html":
            value = clean_student_html(value)
        elif mime == "text/markdown":  # rendered here, so the template shows it as (clean) HTML
            mime, value = "text/html", student_markdown_html(value)
            if "text/html" in data:
                continue
        data[mime] = value
    if not data:
        dropped = ", ".join(sorted(out.get("data") or {})) or "nothing"
        data["text/plain"] = f"[output not shown in {where}: {dropped}]"
    out["data"] = data
    meta = {}
    for mime in IMAGE_TYPES:  # only numeric sizes of images survive
        m = (out.get("metadata") or {}).get(mime)
        if mime in data and isinstance(m, dict):
            sizes = {k: m[k] for k in ("width", "height") if _size(m.get(k))}
            if sizes:
                meta[mime] = sizes
    out["metadata"] = meta
    return out


def clean_cell_metadata(cell, index):
    """Keep only nbgrader's metadata (with a safe grade id); a safe cell id; an integer execution count."""
    nbg = (cell.get("metadata") or {}).get("nbgrader")
    cell["metadata"] = {}
    if isinstance(nbg, dict) and isinstance(nbg.get("grade_id"), str) and SAFE_ID.fullmatch(nbg["grade_id"]):
        cell["metadata"]["nbgrader"] = nbg
    if "id" in cell and not (isinstance(cell["id"], str) and SAFE_ID.fullmatch(cell["id"])):
        cell["id"] = f"cell-{index}"
    if cell.get("cell_type") == "code" and not isinstance(cell.get("execution_count"), int):
        cell["execution_count"] = None


def clean_attachments(cell):
    """Markdown attachments: base64 PNG/JPEG/GIF only."""
    kept = {}
    for name, bundle in (cell.get("attachments") or {}).items():
        if not (isinstance(name, str) and SAFE_ID.fullmatch(name.replace(".", "_"))):
            continue
        good = {m: v for m, v in (bundle or {}).items() if m in IMAGE_TYPES and isinstance(v, str) and BASE64.fullmatch(v)}
        if good:
            kept[name] = good
    if "attachments" in cell:
        cell["attachments"] = kept


# ----- the instructor's Markdown: trusted, images embedded ---------------------------------------

_MD_IMAGE = re.compile(r"(!\[[^\]]*\]\()\s*<?([^)\s>]+)>?((?:\s+\"[^\"]*\")?\s*\))")
_HTML_IMAGE = re.compile(r"(<img\b[^>]*?\bsrc\s*=\s*[\"'])([^\"']+)([\"'])", re.I)


def embed_images(source, folder):
    """Relative image paths of ``source`` that name a figure inside ``folder`` become data URIs."""
    folder = Path(folder).resolve()

    def data_uri(path):
        if re.match(r"[a-z][a-z0-9+.\-]*:", path, re.I) or path.startswith("/"):
            return None  # a URL or an absolute path: never read
        target = (folder / path).resolve()
        if not target.is_relative_to(folder) or target.suffix.lower() not in EMBED_SUFFIXES or not target.is_file():
            return None
        if target.stat().st_size > MAX_EMBED_BYTES:
            return None
        mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(target.read_bytes()).decode()}"

    def swap(m):
        uri = data_uri(m.group(2))
        return m.group(0) if uri is None else m.group(1) + uri + m.group(3)

    return _HTML_IMAGE.sub(swap, _MD_IMAGE.sub(swap, source))


def instructor_markdown(source_folder, notebook):
    """The Markdown cell sources of the instructor's notebook ``source_folder/notebook.ipynb``."""
    path = Path(source_folder) / f"{notebook}.ipynb"
    if not path.is_file():
        return set()
    return {c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"}


def _output_text(out):
    parts = [str(out.get("text", "")), str(out.get("evalue", ""))]
    parts += [strip_ansi(str(x)) for x in out.get("traceback", [])]
    parts += [v if isinstance(v, str) else "".join(map(str, v)) if isinstance(v, list) else str(v)
              for v in (out.get("data") or {}).values()]
    return "\n".join(parts)


def shows_secret(out, secrets):
    """The encoding in which output ``out`` shows one of the hidden lines ``secrets`` ("plain", "base64"...), or None."""
    text = _output_text(out)
    flat = re.sub(r"\s+", " ", text)
    for secret in secrets:
        if re.sub(r"\s+", " ", secret) in flat:
            return "plain"
    found = find_encoded(text, secrets)
    return found[0][1] if found else None


def redact_leaks(nb):
    """Replace every output, outside the hidden-test cells, that shows a hidden-test line (in any encoding
    :func:`find_encoded` knows) by one line; return how many were replaced. Runs before ``HideHiddenTests``,
    which takes care of the hidden-test cells themselves."""
    secrets, plain_cells = set(), []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        _, hidden = split_hidden(cell.source)
        if hidden:
            secrets |= {ln.strip() for ln in hidden if len(ln.strip()) >= MIN_SECRET_LEN and not ln.strip().startswith("###")}
        else:
            plain_cells.append(cell)
    replaced = 0
    for cell in plain_cells if secrets else []:
        outputs = []
        for out in cell.get("outputs", []):
            how = shows_secret(out, sorted(secrets))
            if how:
                replaced += 1
                out = new_output("stream", name="stdout",
                                 text=f"[output not shown in feedback: it shows hidden test code ({how})]\n")
            outputs.append(out)
        cell.outputs = outputs
    return replaced


WITHHELD = ("[output not shown in feedback: it was produced after the hidden tests began. While grading, the cells "
            "that are not tests run only so that the notebook finishes (a training cell may train for a short while "
            "only), so what they printed is not part of your feedback: run the notebook yourself to see it]\n")


def is_test_cell(cell):
    """Whether ``cell`` is a test: a graded code cell that is not an answer (a hidden test's cell too)."""
    nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
    return cell.get("cell_type") == "code" and bool(nbg.get("grade")) and not nbg.get("solution")


def withhold_after_hidden_tests(nb):
    """Replace the outputs of every code cell after the first hidden test, except test cells, by one line;
    return how many cells lost output. A submission may record what its functions were called with during
    the hidden tests and print it in a later cell: nothing the kernel shows after that point is released.
    Test cells keep their output (the verdict and the instructor's message, computed in the grader)."""
    started, withheld = False, 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if started and not is_test_cell(cell) and cell.get("outputs"):
            cell.outputs = [new_output("stream", name="stdout", text=WITHHELD)]
            withheld += 1
        started = started or (is_test_cell(cell) and bool(split_hidden(cell.source)[1]))
    return withheld


def clean_notebook(nb, source_folder=None, notebook=None):
    """Make the autograded notebook ``nb`` safe to render as feedback, in place (what the module's docstring lists).

    ``source_folder`` and ``notebook``: the instructor's ``source/<assignment>/`` and the notebook's name, whose
    Markdown cells are trusted and whose figures are embedded (without them, every Markdown cell is cleaned).
    Returns ``(cells whose output was replaced: it showed hidden-test code or came after the hidden tests began,
    {grade id: the test cell's name})``.
    Run it before the hidden tests are removed: it needs their source to find the outputs that show it.
    """
    redacted = redact_leaks(nb) + withhold_after_hidden_tests(nb)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    trusted = instructor_markdown(source_folder, notebook) if source_folder and notebook else set()
    labels = {}
    for index, cell in enumerate(nb.cells):
        clean_cell_metadata(cell, index)
        if cell.cell_type == "markdown":
            clean_attachments(cell)
            if cell.source in trusted:
                cell.metadata[TRUSTED] = True
                cell.source = embed_images(cell.source, source_folder)
        elif cell.cell_type == "code":
            cell.outputs = [o for o in (clean_output(out) for out in cell.get("outputs", [])) if o is not None]
        nbg = cell.metadata.get("nbgrader", {})
        if nbg.get("grade") and not nbg.get("solution"):
            labels[nbg["grade_id"]] = test_cell_label(nbg["grade_id"])
    return redacted, labels


def clean_autograded(nb, trusted_markdown=frozenset()):
    """Make an autograded notebook safe for every viewer, in place; return how many cells changed.

    The formgrader renders ``autograded/`` notebooks with nbconvert and no sanitiser, so what the
    grader writes there must already be safe: outputs as in feedback (:func:`clean_output`), the
    Markdown cells that are not the instructor's (``trusted_markdown``: their sources) rendered and
    cleaned (:func:`student_markdown_html`), attachments and cell metadata as in feedback, and no
    widget state. Error outputs, nbgrader's metadata and the grader's own notes stay, so scores and the
    report are untouched.
    """
    changed = 0
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        before = _shallow(cell)
        grader_notes = (cell.get("metadata") or {}).get(GRADER_METADATA)
        clean_cell_metadata(cell, index)
        if grader_notes is not None:  # written by the grader (what it restored): the report reads it
            cell["metadata"][GRADER_METADATA] = grader_notes
        if cell.cell_type == "markdown":
            clean_attachments(cell)
            if cell.source not in trusted_markdown:
                cell.source = student_markdown_html(cell.source)
        elif cell.cell_type == "code":
            outputs = (clean_output(out, "the grader's copy") for out in cell.get("outputs", []))
            cell.outputs = [o for o in outputs if o is not None]
        changed += before != _shallow(cell)
    return changed


def _shallow(cell):
    """``cell`` copied one level down (its outputs two): enough to tell whether cleaning changed it, since
    cleaning replaces dicts rather than editing them, and cheap: the strings, however long, are shared."""
    copy = {key: dict(value) if isinstance(value, dict) else value for key, value in cell.items()}
    copy["outputs"] = [dict(out) for out in cell.get("outputs", [])]
    return copy


def _small_regular_file(path, limit=256):
    return not path.is_symlink() and path.is_file() and path.stat().st_size <= limit


def _is_timestamp_file(path):
    """A regular file holding one timestamp, as nbgrader writes ``timestamp.txt``."""
    if not _small_regular_file(path):
        return False
    try:
        parse_utc(path.read_text().strip())
    except Exception:  # not a timestamp: not nbgrader's file
        return False
    return True


def _is_submission_secret(path):
    """A regular file holding one token, as ``nbgrader submit`` writes ``submission_secret.txt``."""
    return _small_regular_file(path) and re.fullmatch(r"[A-Za-z0-9+/=_\-]{8,200}", path.read_text().strip()) is not None


# Files of nbgrader's own that `nbgrader release_feedback` reads next to the page, with their check.
RELEASE_FILES = {"timestamp.txt": _is_timestamp_file, "submission_secret.txt": _is_submission_secret}


def is_nbgrader_file(path):
    """Whether ``path`` in a feedback folder is one of nbgrader's own files that ``release_feedback`` needs
    (``timestamp.txt`` holding one timestamp, ``submission_secret.txt`` one token), not something a kernel wrote."""
    path = Path(path)
    return path.name in RELEASE_FILES and RELEASE_FILES[path.name](path)
