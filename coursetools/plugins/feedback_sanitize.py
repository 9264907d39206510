"""Feedback HTML that is safe to open: student output sanitised, named test cells, no CDN, one file.

``nbgrader generate_feedback`` turns the autograded notebook, student output
included, into the HTML that ``release_feedback`` hands to the student (and
that an instructor opens in the formgrader). Everything in that notebook
except the instructor's own cells is written by a submission, so:

* :class:`SanitizeFeedback` (a preprocessor, after ``HideHiddenTests``) keeps
  only what the template renders safely: outputs of the types ``text/plain``,
  ``text/html``, ``text/markdown``, ``text/latex`` and PNG/JPEG/GIF images
  (checked to be base64); no JavaScript, widgets, SVG (it can carry scripts),
  output metadata (an unquoted ``width`` attribute is a way in), widget state
  or cell metadata other than nbgrader's (with a valid grade id). HTML and
  Markdown output, and every Markdown cell that is not word for word one of
  the instructor's, go through :func:`clean_student_html` (a bleach
  allow-list: no ``<script>``, event handlers, ``javascript:`` URLs, iframes,
  object/embed, forms, SVG, styles); raw cells through nbconvert's own
  ``clean_html``. The instructor's Markdown
  cells are kept as written, their images (``figures/x.png`` next to the
  source notebook) embedded, so the feedback file needs nothing beside it.
* The template ``templates/feedback/index.html.j2`` is nbgrader's feedback
  page (same name, found first: :func:`template_basedirs`, so the formgrader's
  "generate feedback" uses it too) with each test cell named in the summary
  (:func:`test_cell_label`, derived from the grade id: ``test-clip-published``
  is "clip: published values"), long messages wrapped inside their box, and
  no MathJax from a CDN: formulas stay as readable TeX text.
* :func:`keep_only_notebook_html` (``GenerateFeedback.post_convert_hook``)
  removes from ``feedback/<student>/<assignment>/`` every file nbgrader copied
  there besides the notebooks' HTML (files the kernel wrote next to the
  notebook), so ``release_feedback`` releases the feedback page and nothing else.
"""

import base64
import mimetypes
import re
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"  # holds feedback/, found before nbgrader's own

SAFE_OUTPUT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/gif")
FILTERS = {"course_clean_html": "coursetools.plugins.feedback_sanitize.clean_student_html"}  # HTMLExporter.filters
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
SAFE_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
EMBED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}  # instructor figures (an <img> never runs an SVG's scripts)
MAX_EMBED_BYTES = 5 * 2**20
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


def _allowed_attribute(tag, name, value):
    if name == "class":
        return True
    if tag == "a":
        return name in ("href", "title")
    if tag == "img":
        return name in ("alt", "title", "width", "height") or (name == "src" and bool(SAFE_IMAGE_URI.fullmatch(value)))
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    return tag == "table" and name == "border"


def clean_student_html(html):
    """``html`` written by a submission, sanitised with bleach: no script, style, event handler, iframe,
    object/embed, form or SVG; links only to http(s) and mailto; images only as embedded PNG/JPEG/GIF.
    Everything else is shown as text. (The template's ``course_clean_html`` filter.)"""
    import bleach

    cleaner = bleach.Cleaner(tags=ALLOWED_TAGS, attributes=_allowed_attribute,
                             protocols={"http", "https", "mailto", "data"}, strip=False, strip_comments=True)
    return cleaner.clean(str(html))


def student_markdown_html(text):
    """Markdown written by a submission, rendered (as nbconvert does) and then sanitised."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return clean_student_html(markdown2html_mistune(str(text)))


def test_cell_label(grade_id):
    """The summary's name of a test cell: ``test-clip-published`` -> ``clip: published values``."""
    m = TEST_ID.fullmatch(grade_id or "")
    if not m:
        return f"Test cell {grade_id}"
    return f"{m['function']}: {TEST_KINDS.get(m['kind'], m['kind'])}"


# ----- outputs and metadata ---------------------------------------------------------------------


def _size(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 100_000


def clean_output(out):
    """The output ``out`` reduced to what renders safely, or None when nothing is left."""
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
        if mime == "text/html":
            value = clean_student_html(value)
        elif mime == "text/markdown":  # rendered here, so the template shows it as (clean) HTML
            mime, value = "text/html", student_markdown_html(value)
            if "text/html" in data:
                continue
        data[mime] = value
    if not data:
        dropped = ", ".join(sorted(out.get("data") or {})) or "nothing"
        data["text/plain"] = f"[output not shown in feedback: {dropped}]"
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


def _source_folder(preprocessor, resources):
    """``source/<assignment>/`` of the course whose feedback is being made, or None."""
    nbg = resources.get("nbgrader") or {}
    if nbg.get("source_folder"):  # given by feedback_html()
        return Path(nbg["source_folder"])
    assignment = nbg.get("assignment")
    if not assignment:
        return None
    node = preprocessor
    while node is not None:  # the converter (GenerateFeedback) knows the course folder
        coursedir = getattr(node, "coursedir", None)
        if coursedir is not None:
            return Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        node = getattr(node, "parent", None)
    path = (resources.get("metadata") or {}).get("path")  # autograded/<student>/<assignment>
    return Path(path).resolve().parents[2] / "source" / assignment if path else None


def instructor_markdown(source_folder, notebook):
    """The Markdown cell sources of the instructor's notebook ``source_folder/notebook.ipynb``."""
    import nbformat

    path = Path(source_folder) / f"{notebook}.ipynb"
    if not path.is_file():
        return set()
    return {c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"}


def _output_text(out):
    from .feedback import strip_ansi

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
    from nbformat.v4 import new_output

    from .feedback import MIN_SECRET_LEN, split_hidden

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


class SanitizeFeedback(NbGraderPreprocessor):
    """Make an autograded notebook safe to render as feedback HTML (see the module's docstring).

    Listed before ``HideHiddenTests``: it needs the hidden tests' source to find outputs that show it."""

    def preprocess(self, nb, resources):
        if redact_leaks(nb):
            self.log.warning("feedback: removed output that shows hidden test code")
        nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
        folder = _source_folder(self, resources)
        notebook = (resources.get("nbgrader") or {}).get("notebook")
        trusted = instructor_markdown(folder, notebook) if folder and notebook else set()
        labels = {}
        for index, cell in enumerate(nb.cells):
            clean_cell_metadata(cell, index)
            if cell.cell_type == "markdown":
                clean_attachments(cell)
                if cell.source in trusted:
                    cell.metadata[TRUSTED] = True
                    cell.source = embed_images(cell.source, folder)
            elif cell.cell_type == "code":
                cell.outputs = [o for o in (clean_output(out) for out in cell.get("outputs", [])) if o is not None]
            nbg = cell.metadata.get("nbgrader", {})
            if nbg.get("grade") and not nbg.get("solution"):
                labels[nbg["grade_id"]] = test_cell_label(nbg["grade_id"])
        resources["feedback_labels"] = labels
        return nb, resources


# ----- the released folder: the notebooks' HTML only --------------------------------------------


def keep_only_notebook_html(assignment=None, student=None, notebooks=(), **_):
    """``GenerateFeedback.post_convert_hook``: remove every file but ``<notebook>.html`` from the feedback folder.

    nbgrader copies every file of ``autograded/<student>/<assignment>/`` into
    ``feedback/<student>/<assignment>/``; those are files the kernel wrote.
    ``notebooks`` are the autograded notebooks' paths (``<course>/autograded/<student>/<assignment>/X.ipynb``).
    """
    import logging
    import shutil

    log = logging.getLogger("coursetools.feedback")
    if not notebooks:
        return
    first = Path(notebooks[0])
    course = first.parents[3]
    folder = course / "feedback" / first.parent.parent.name / first.parent.name
    if not folder.is_dir():
        return
    keep = {Path(nb).stem + ".html" for nb in notebooks}
    for path in sorted(folder.iterdir()):
        if path.name in keep and path.is_file() and not path.is_symlink():
            continue
        if path.name in RELEASE_FILES and RELEASE_FILES[path.name](path):
            continue  # nbgrader's own files from submitted/: release_feedback reads them
        log.warning("feedback: removed %s (only the notebook's feedback page is released)", path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _small_regular_file(path, limit=256):
    return not path.is_symlink() and path.is_file() and path.stat().st_size <= limit


def _is_timestamp_file(path):
    """A regular file holding one timestamp, as nbgrader writes ``timestamp.txt``."""
    from nbgrader.utils import parse_utc

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


# ----- leaks in other encodings ---------------------------------------------------------------

MIN_ENCODED = 16  # shortest encoded core searched for (shorter ones would match by chance)


def _b64_cores(data):
    """Parts of base64(x + data + y) that are the same for any x and y: one per alignment."""
    cores = []
    for pad in range(3):
        enc = base64.b64encode(bytes(pad) + data).decode()
        start = {0: 0, 1: 2, 2: 3}[pad]
        end = (pad + len(data)) // 3 * 4
        core = enc[start:end]
        if len(core) >= MIN_ENCODED:
            cores.append(core)
    return cores


def encoded_forms(secret):
    """``{name: [strings]}``: how ``secret`` looks base64-encoded (standard and URL-safe, any alignment),
    hex-encoded, reversed and ROT13ed. Search for them with :func:`find_encoded`."""
    import codecs

    data = secret.encode()
    b64 = _b64_cores(data)
    forms = {"base64": b64, "base64 (URL-safe)": [c.translate(str.maketrans("+/", "-_")) for c in b64]}
    forms["hex"] = [data.hex()] if len(data) * 2 >= MIN_ENCODED else []
    forms["reversed"] = [secret[::-1]]
    forms["rot13"] = [codecs.encode(secret, "rot13")] if codecs.encode(secret, "rot13") != secret else []
    return forms


def find_encoded(text, secrets):
    """``[(secret, encoding)]`` for each secret found in ``text`` in one of :func:`encoded_forms`."""
    squeezed = re.sub(r"\s+", "", text)  # base64 is often wrapped at 76 characters
    lowered = squeezed.lower()
    found = []
    for secret in secrets:
        for name, forms in encoded_forms(secret).items():
            if name == "hex":
                hit = any(f in lowered for f in forms)
            elif name in ("reversed", "rot13"):
                hit = any(f in text for f in forms)
            else:
                hit = any(f in squeezed for f in forms)
            if hit:
                found.append((secret, name))
                break
    return found



def template_basedirs():
    """``HTMLExporter.extra_template_basedirs``: ours (``feedback/``), then nbgrader's (its ``feedback/``,
    which ours replaces, and the formgrader's ``formgrade/``)."""
    import nbgrader

    nbgrader_templates = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
    return [str(TEMPLATE_DIR), str(nbgrader_templates)]


def feedback_html(notebook, source_folder, config=None, score=0.0, max_score=0.0):
    """The feedback page of the notebook file ``notebook`` as ``nbgrader generate_feedback`` makes it with ``config`` (default:
    the course's ``nbgrader_config.py``), less the gradebook's scores: for tests and previews.
    ``source_folder`` is the instructor's ``source/<assignment>/`` (its Markdown is trusted, its figures embedded)."""
    import nbformat
    import nbgrader
    from nbconvert import HTMLExporter
    from traitlets.config.loader import PyFileConfigLoader

    from ..settings import ROOT

    if config is None:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    config = config.copy()
    config.HTMLExporter.template_name = "feedback"  # as GenerateFeedback sets it
    config.HTMLExporter.extra_template_paths = [str(Path(nbgrader.__file__).resolve().parent / "server_extensions" /
                                                    "formgrader" / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=config)
    for pp in config.GenerateFeedback.preprocessors:
        if "GetGrades" not in str(pp):  # it needs a gradebook
            exporter.register_preprocessor(pp)  # as nbgrader's converters do (enabled by the preprocessor itself)
    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # what GetGrades would add
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            meta.setdefault("score", 0.0)
            meta.setdefault("points", 0.0)
    resources = {"nbgrader": {"notebook": notebook.stem, "assignment": Path(source_folder).name, "student": "",
                              "score": score, "max_score": max_score, "late_penalty": 0,
                              "source_folder": str(source_folder)},
                 "metadata": {"path": str(notebook.parent)}}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return page
