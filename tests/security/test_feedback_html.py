"""Feedback HTML that is safe to open: student output sanitised, named test cells, no CDN, no extra files,
hidden tests kept out in other encodings too."""

import base64
import bz2
import codecs
import collections
import gzip
import lzma
import html
import html.parser
import os
from pathlib import Path
import re
import zlib

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from coursetools.grading.feedback import scan_for_leaks
from coursetools.plugins import feedback as feedback_plugins
from coursetools.security import feedback_html as fs
from coursetools.security import hidden_tests
from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT
from tests.helpers import feedback_html

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
PAGE = NOTEBOOK.replace(".ipynb", ".html")  # the notebook's feedback page

HIDDEN = "assert _hidden_clip_case(3, 5.0, 4, 2, 20.0), 'hidden'"
EVIL_HTML = ("<b onclick='alert(1)'>hi</b><script>alert(2)</script><iframe src='https://evil.example'></iframe>"
             "<a href='javascript:alert(3)'>link</a><object data='x.swf'></object><embed src='y.swf'>"
             "<svg><script>alert(4)</script></svg><img src=x onerror=alert(5)><form action='https://evil'></form>")


class Tags(html.parser.HTMLParser):
    """Every tag and attribute of a page."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe(page):
    tags = Tags(page).tags
    names = {t for t, _ in tags}
    assert not names & {"script", "iframe", "object", "embed", "svg", "form", "frame", "base", "meta-refresh"}, names
    for tag, attrs in tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            url = (value or "").strip().lower()
            if name in ("href", "src", "action", "data", "formaction", "xlink:href"):
                assert not url.startswith(("javascript:", "vbscript:", "data:text")), (tag, name, value)
            if name in ("src", "action", "data"):  # nothing is loaded from the network (links may point out)
                assert not url.startswith(("http:", "https:", "//")), (tag, name, value)
    if 'rel="stylesheet"' in page:
        raise AssertionError("a stylesheet loaded from outside the page")


def render(nb, tmp_path, notebook=NOTEBOOK):
    """The feedback page of ``nb`` made as nbgrader_config.py configures GenerateFeedback (less GetGrades),
    as if it were autograded/s/<assignment>/<notebook> of a course in ``tmp_path``."""
    course = CourseLayout(tmp_path)
    folder = course.autograded("s", ASSIGNMENT)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / notebook)
    return feedback_html(folder / notebook, course.source(ASSIGNMENT), max_score=2)


def graded(grade_id, source, outputs=(), points=1):
    cell = new_code_cell(source, outputs=list(outputs))
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": True, "solution": False, "locked": True,
                                 "points": points, "score": 0, "schema_version": 3}
    return cell


def hostile_notebook():
    nb = new_notebook(cells=[
        new_markdown_cell("# My notes <script>alert(6)</script> [x](javascript:alert(7)) <img src=x onerror=alert(8)>"),
        new_raw_cell("<script>alert(9)</script>"),
        new_code_cell("show()", outputs=[
            new_output("display_data", data={"text/html": EVIL_HTML, "application/javascript": "alert(10)",
                                             "image/svg+xml": "<svg onload='alert(11)'/>",
                                             "text/markdown": "[m](javascript:alert(12)) <script>alert(13)</script>",
                                             "application/vnd.jupyter.widget-view+json": {"model_id": "x"}}),
            new_output("display_data", data={"image/png": 'iVBORw0KGgo" onerror="alert(14)'}),
            new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                       metadata={"image/png": {"width": "1 onerror=alert(15)"}}),
            new_output("stream", name="stdout", text="<script>alert(16)</script>"),
        ]),
        graded("test-clip-published", "assert clip_ok()", [new_output(
            "error", ename="AssertionError", evalue="dWaa[1][2] " + "should be clipped " * 30,
            traceback=["AssertionError: dWaa[1][2] " + "should be clipped " * 30])]),
        graded("test-clip-hidden", f"# visible\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS", points=2),
    ])
    nb.cells[2].metadata["tags"] = ['x" onmouseover="alert(17)']
    nb.cells[2]["execution_count"] = 3
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"x": "</script><script>alert(18)</script>"}}
    return nb


def test_student_output_markdown_and_raw_cells_are_sanitised(tmp_path):
    page = render(hostile_notebook(), tmp_path)
    assert_safe(page)
    assert "<script" not in page.lower()  # not even the page's own: it runs no JavaScript at all
    assert "<b>hi</b>" in page and "&lt;script&gt;alert(16)&lt;/script&gt;" in page  # kept, as text
    assert page.count("[output not shown in feedback") == 1  # the forged PNG; the other displays keep safe parts
    assert "[output not shown in feedback: image/png]" in page


def test_the_summary_names_every_test_cell_and_long_messages_wrap(tmp_path):
    page = render(hostile_notebook(), tmp_path)
    toc = page[page.index('<div id="toc">'):page.index("</ol>")]
    assert "clip: published values</a>" in toc and "clip: hidden tests</a>" in toc and "Test cell" not in toc
    assert "white-space: pre-wrap" in page and "overflow-wrap: anywhere" in page


def test_every_test_cell_of_the_course_gets_a_name_from_its_grade_id():
    nb = nbformat.read(COURSE.source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
           if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
    labels = [fs.test_cell_label(g) for g in ids]
    assert len(ids) == 8 and len(set(labels)) == 8
    for label in labels:
        function, kind = label.split(": ")
        assert function in ("clip", "sample", "optimize", "model") and kind in fs.TEST_KINDS.values()


def test_no_mathjax_or_anything_else_from_a_cdn(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("The loss $\\mathcal{L} = -\\sum_t \\log y_t$ falls.")])
    page = render(nb, tmp_path)
    assert "cdnjs" not in page and "MathJax.js" not in page and "latest.js" not in page
    assert not [a for t, a in Tags(page).tags if (a.get("src") or "").startswith(("http", "//"))]
    assert "$\\mathcal{L} = -\\sum_t \\log y_t$" in page  # the formula stays readable as TeX


def test_instructor_figures_are_embedded_but_never_a_students_path(tmp_path):
    source = CourseLayout(tmp_path).source(ASSIGNMENT)
    (source / "figures").mkdir(parents=True)
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    (source / "figures" / "rnn.png").write_bytes(png)
    (tmp_path / "secret.png").write_bytes(b"SECRET-BYTES")
    teaching = "The unrolled RNN:\n\n![The RNN unrolled over a name](figures/rnn.png)"
    nbformat.write(new_notebook(cells=[new_markdown_cell(teaching)]), source / NOTEBOOK)
    nb = new_notebook(cells=[new_markdown_cell(teaching), new_markdown_cell("![x](../../secret.png) ![y](figures/rnn.png)")])
    page = render(nb, tmp_path)
    assert page.count(base64.b64encode(png).decode()) == 1  # the instructor's cell only
    assert base64.b64encode(b"SECRET-BYTES").decode() not in page
    assert_safe(page)


def test_only_the_notebooks_feedback_page_stays_in_the_feedback_folder(tmp_path):
    course = CourseLayout(tmp_path)
    auto, out = course.autograded("s", "a"), course.feedback("s", "a")
    auto.mkdir(parents=True)
    (out / "utils").mkdir(parents=True)
    for name in ("A.html", "leak.html", "notes.txt", "utils/x.py"):
        (out / name).write_text("x")
    os.symlink("/etc/passwd", out / "key.html")
    feedback_plugins.keep_only_notebook_html(assignment="a", student="s", notebooks=[str(auto / "A.ipynb")])
    assert sorted(p.name for p in out.iterdir()) == ["A.html"]


@pytest.mark.parametrize("encode", [
    lambda s: base64.b64encode(s.encode()).decode(),
    lambda s: base64.b64encode(b"x" + s.encode()).decode(),  # other alignments
    lambda s: base64.b64encode(("print(1)\n" + s + "\nmore").encode()).decode(),
    lambda s: base64.encodebytes(("ab" + s).encode()).decode(),  # wrapped at 76 characters
    lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    lambda s: s.encode().hex(),
    lambda s: s.encode().hex().upper(),
    lambda s: s[::-1],
    lambda s: codecs.encode(s, "rot13"),
    lambda s: base64.b64encode(s.upper().encode()).decode(),
    lambda s: s[::-1].upper(),
    lambda s: base64.b64encode(zlib.compress(s.encode())).decode(),
    lambda s: base64.b64encode(gzip.compress(s.encode())).decode(),
    lambda s: base64.urlsafe_b64encode(zlib.compress(("x = 1\n" + s).encode(), 9)).decode(),
    lambda s: bz2.compress(s.encode()).hex(),
    lambda s: base64.b64encode(lzma.compress(s.encode() * 3)).decode(),
    lambda s: base64.b64encode(s.encode().hex().encode()).decode(),
    lambda s: "x" + base64.b64encode(zlib.compress(s.lower().encode())).decode(),
], ids=["b64", "b64-shift1", "b64-inside", "b64-wrapped", "b64-urlsafe", "hex", "HEX", "reversed", "rot13", "b64-UPPER",
        "REVERSED", "zlib-b64", "gzip-b64", "zlib-urlsafe", "bz2-hex", "lzma-b64", "hex-in-b64", "zlib-lower-glued"])
def test_encoded_hidden_lines_are_found(encode):
    text = "Here is what I found: " + encode(HIDDEN) + " (printed by my cell)"
    assert hidden_tests.find_encoded(text, [HIDDEN])


def test_ordinary_output_is_no_encoded_leak():
    text = base64.b64encode(os.urandom(3000)).decode() + " loss 23.1 " + "iteration 2000 " * 50
    assert hidden_tests.find_encoded(text, [HIDDEN]) == []


def test_what_the_kernel_shows_after_the_hidden_tests_began_is_not_in_feedback(tmp_path):
    """A function that records its calls during the hidden tests, then a later cell that prints the record."""
    nb = hostile_notebook()
    nb.cells += [
        new_code_cell("print(calls)", outputs=[new_output("stream", name="stdout", text="clip((3, 5.0, 4), 20.0)\n")]),
        new_code_cell("display(calls)", outputs=[new_output("display_data", data={"text/plain": "[(3, 5.0, 4, 2)]"})]),
        graded("test-sample-published", "assert sample_ok()", [new_output(
            "error", ename="AssertionError", evalue="sample should end with the newline index",
            traceback=["AssertionError: sample should end with the newline index"])]),
    ]
    page = render(nb, tmp_path)
    assert "5.0, 4" not in page and "(3, 5.0" not in page
    assert page.count("it was produced after the hidden tests began") == 2
    assert page.count("run the notebook yourself to see it") == 2
    assert "sample should end with the newline index" in page  # a test's verdict and message stay


def test_a_compressed_bomb_is_inflated_only_up_to_the_scans_budget():
    bomb = base64.b64encode(zlib.compress(b"a" * (48 * 2**20))).decode()
    decoded = hidden_tests.decoded_texts("look: " + bomb)
    assert decoded and sum(len(text) for _, text in decoded) <= hidden_tests.MAX_DECODED_BYTES
    assert hidden_tests.find_encoded("look: " + bomb, [HIDDEN]) == []


def test_a_students_output_that_shows_hidden_tests_is_removed_from_feedback(tmp_path):
    nb = hostile_notebook()
    hidden_at = next(i for i, c in enumerate(nb.cells) if "BEGIN HIDDEN TESTS" in c.source)
    nb.cells[hidden_at:hidden_at] = [  # before the hidden tests: redacted (after them, all of it is withheld)
        new_code_cell("import base64; print(base64.b64encode(In[-2].encode()))", outputs=[
            new_output("stream", name="stdout", text=base64.b64encode(("x\n" + HIDDEN).encode()).decode() + "\n")]),
        new_code_cell("print(In[-3])", outputs=[new_output("stream", name="stdout", text=HIDDEN)])]
    page = render(nb, tmp_path)
    assert HIDDEN not in page and hidden_tests.find_encoded(page, [HIDDEN]) == []
    assert page.count("it shows hidden test code") == 2
    path = tmp_path / "page.html"
    path.write_text(page)
    assert scan_for_leaks([path], [HIDDEN]) == []
    leaky = tmp_path / "leak.html"
    leaky.write_text("<p>" + base64.b64encode(HIDDEN.encode()).decode() + "</p>")
    assert scan_for_leaks([leaky], [HIDDEN]) == [(str(leaky), HIDDEN + " (base64)")]


EVIL_CELLS = [
    "from IPython.display import HTML, Javascript, display\n"
    "display(HTML(\"<script>document.title='pwned'</script><img src=x onerror=alert(1)><iframe src=https://evil>\"))\n"
    "display(Javascript(\"alert(2)\"))",
    "import os\nopen('leak.html', 'w').write('<p>released?</p>')\nos.makedirs('extra', exist_ok=True)\n"
    "open('extra/notes.txt', 'w').write('x')",
    "import base64\nprint(base64.b64encode('\\n'.join(In).encode()).decode())",
]


@pytest.mark.slow
def test_real_feedback_of_a_hostile_submission_is_one_clean_page(tmp_path):
    """Grade a correct submission that came through the exchange, with hostile cells appended, and generate
    feedback as `course feedback` does: one page per notebook beside nbgrader's own files, nothing executable,
    every test cell named, no hidden-test line in any encoding."""
    import shutil

    from coursetools.grading.feedback import generate_feedback, secret_lines
    from coursetools.grading.sequential import grade_batch
    from zoo.build import filled, make_course

    course = make_course(tmp_path / "course")
    layout = CourseLayout(course)
    release = layout.release(ASSIGNMENT)
    folder = layout.submitted("mallory", ASSIGNMENT)
    shutil.copytree(release, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    nb = filled(nbformat.read(release / NOTEBOOK, as_version=4),
                nbformat.read(layout.source(ASSIGNMENT) / NOTEBOOK, as_version=4))
    nb.cells += [new_code_cell(code) for code in EVIL_CELLS]
    nbformat.write(nb, folder / NOTEBOOK)
    # what `nbgrader collect` leaves beside a submission that came through the exchange
    (folder / "timestamp.txt").write_text("2026-12-03 06:51:38.123456 UTC")
    (folder / "submission_secret.txt").write_text("9f2c1e0a7b6d4c3e8f1a2b3c4d5e6f70")
    results = grade_batch(course, ASSIGNMENT, log=lambda *_: None)
    assert [r.status for r in results] == ["graded"]
    leaks = generate_feedback(course, ASSIGNMENT)
    assert leaks == []  # nbgrader's own files pass: `release_feedback` needs them
    out = layout.feedback("mallory", ASSIGNMENT)
    assert sorted(p.name for p in out.iterdir()) == [PAGE, "submission_secret.txt", "timestamp.txt"]
    page = (out / PAGE).read_text()
    assert_safe(page)
    assert fs.WITHHELD.strip() in page  # the evil cells
    secrets = secret_lines(course, ASSIGNMENT)
    assert secrets and hidden_tests.find_encoded(page, secrets) == []
    toc = page[page.index('<div id="toc">'):page.index("</ol>")]
    for function in ("clip", "sample", "optimize", "model"):
        assert f"{function}: published values</a>" in toc and f"{function}: hidden tests</a>" in toc


# ----- the graded copy that the formgrader shows ---------------------------------------------------

def formgrader_page(nb, tmp_path):
    """``nb`` rendered as nbgrader's formgrader renders a submission (its HTMLExporter and ``formgrade`` template)."""
    import nbgrader.server_extensions.formgrader.handlers as handlers
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": ASSIGNMENT, "notebook_id": "n", "submission_id": "x", "index": 0, "total": 1,
                 "base_url": "/", "student": "s", "last_name": "", "first_name": "", "notebook_path": "/n.ipynb"}
    page, _ = HTMLExporter(config=config).from_notebook_node(nb, resources=resources)
    return page


def dangers(page):
    """What in ``page`` could run script or load something: ``Counter`` of (tag, attribute, value) findings."""
    found = collections.Counter()
    for tag, attrs in Tags(page).tags:
        if tag in ("script", "iframe", "object", "embed", "svg", "form", "frame", "base"):
            found[(tag, "", str(sorted(attrs.items())))] += 1
        for name, value in attrs.items():
            url = "".join((value or "").split()).lower()
            if name.startswith("on") or (name in ("href", "src", "action", "data", "formaction", "xlink:href")
                                         and url.startswith(("javascript:", "vbscript:", "data:text"))):
                found[(tag, name, value)] += 1
    return found


def student_dangers(nb, tmp_path):
    """The dangers of the formgrader's page of ``nb`` that its page for an empty notebook does not have."""
    return dangers(formgrader_page(nb, tmp_path)) - dangers(formgrader_page(new_notebook(), tmp_path))


def test_the_formgrader_shows_an_unsanitised_graded_copy_as_is(tmp_path):
    """The attack the graded copy is cleaned against: nbgrader's formgrader page keeps student scripts."""
    nb = hostile_notebook()
    del nb.metadata["widgets"]  # malformed widget state: nbconvert cannot even render the page
    nb.cells.append(new_raw_cell("<script>alert(19)</script>", metadata={"raw_mimetype": "text/html"}))
    found = student_dangers(nb, tmp_path)
    assert any(tag == "script" for tag, _, _ in found) and any(name == "onerror" for _, name, _ in found), found


def test_the_graded_copy_is_safe_in_the_formgrader_and_keeps_its_scores(tmp_path):
    nb = hostile_notebook()
    instructor = "# The instructor's words, <b>with</b> markup"
    nb.cells.insert(0, new_markdown_cell(instructor))
    nb.cells.append(new_raw_cell("<script>alert(19)</script>", metadata={"raw_mimetype": "text/html"}))
    nb.cells[-2].metadata["grading"] = {"restored": ["numpy.clip"]}  # the grader's note, read by the report
    changed = fs.clean_autograded(nb, trusted_markdown={instructor})
    assert nb.cells[-2].metadata["grading"] == {"restored": ["numpy.clip"]}
    assert not student_dangers(nb, tmp_path)
    assert changed == 3 and "widgets" not in nb.metadata  # the student's Markdown, the display, the raw HTML
    assert nb.cells[0].source == instructor  # the instructor's Markdown is not touched
    assert "<script>" not in nb.cells[1].source and "onerror" not in nb.cells[1].source  # the student's is cleaned
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "AssertionError"  # what the score is read from stays
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata] == [
        "test-clip-published", "test-clip-hidden"]
    assert "[output not shown in the grader's copy: image/png]" in formgrader_page(nb, tmp_path)


@pytest.mark.parametrize("markup", [
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>notes</a>",
    "<a href=' jav&#x09;ascript:alert(1)'>x</a>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<div class='score-box'>Score: 13 / 13</div>",
    "<p class='jp-OutputArea-output alert-success'>13/13</p>",
])
def test_student_markup_cannot_link_out_to_scripts_or_borrow_the_pages_classes(markup):
    clean = fs.clean_student_html(markup)
    assert_safe(clean)
    assert "class=" not in clean and "data:" not in clean and "script:" not in clean.lower(), clean


# ----- `course feedback`'s scan -----------------------------------------------------------------

SOLVED = "    gradients = {k: np.clip(v, -maxValue, maxValue) for k, v in gradients.items()}"
SOLVED_TOO = "    for gradient in [dWax, dWaa, dWya, db, dby]:"


def feedback_course(tmp_path, page_text, files=None):
    """A course with one assignment ``a``: a solution with two lines, a hidden test, student ``s1``'s graded
    copy (which contains one of the two solution lines) and the feedback folder ``page_text`` and ``files``."""
    course = CourseLayout(tmp_path)
    solution = f"def clip(gradients, maxValue):\n    ### BEGIN SOLUTION\n{SOLVED}\n{SOLVED_TOO}\n    ### END SOLUTION"
    source = new_notebook(cells=[new_code_cell(solution), graded("test-clip-hidden", f"### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS")])
    release = new_notebook(cells=[new_code_cell("def clip(gradients, maxValue):\n    # YOUR CODE HERE"), graded("test-clip-hidden", "")])
    mine = new_notebook(cells=[new_code_cell(f"def clip(gradients, maxValue):\n{SOLVED}\n    return gradients")])
    for folder, nb in ((course.source("a"), source), (course.release("a"), release), (course.autograded("s1", "a"), mine)):
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "A.ipynb")
    out = course.feedback("s1", "a")
    out.mkdir(parents=True)
    (out / "A.html").write_text(page_text)
    for name, text in (files or {}).items():
        (out / name).write_text(text)
    return course


def test_course_feedback_accepts_nbgraders_own_files_beside_the_page(tmp_path):
    from coursetools.grading.feedback import scan_feedback

    files = {"timestamp.txt": "2026-12-03 06:51:38.123456 UTC", "submission_secret.txt": "9f2c1e0a7b6d4c3e8f1a2b3c4d5e6f70"}
    course = feedback_course(tmp_path, f"<pre>{html.escape(SOLVED)}</pre>", files)
    assert scan_feedback(course.root, "a") == []  # the student's own line of the solution is theirs to see


@pytest.mark.parametrize("name, text", [("timestamp.txt", "import os; os.system('x')"), ("notes.txt", "hello"),
                                         ("submission_secret.txt", "not a token, a sentence")])
def test_course_feedback_reports_any_other_file_beside_the_page(tmp_path, name, text):
    from coursetools.grading.feedback import scan_feedback

    leaks = scan_feedback(feedback_course(tmp_path, "<p>ok</p>", {name: text}).root, "a")
    assert [Path(p).name for p, _ in leaks] == [name], leaks


@pytest.mark.parametrize("shown, found", [
    (HIDDEN.upper(), HIDDEN),
    (SOLVED_TOO.strip().upper(), SOLVED_TOO.strip() + " (solution)"),
    (base64.b64encode(zlib.compress(SOLVED_TOO.encode())).decode(), SOLVED_TOO.strip() + " (compressed base64) (solution)"),
    (base64.b64encode(HIDDEN.encode()).decode(), HIDDEN + " (base64)"),
], ids=["hidden-upper", "solution-upper", "solution-zlib-b64", "hidden-b64"])
def test_course_feedback_finds_hidden_and_solution_lines_in_any_case_and_encoding(tmp_path, shown, found):
    from coursetools.grading.feedback import scan_feedback

    leaks = scan_feedback(feedback_course(tmp_path, f"<pre>{html.escape(shown)}</pre>").root, "a")
    assert [line for _, line in leaks] == [found], leaks


def test_markup_too_large_to_parse_is_not_shown_but_its_plain_text_is():
    out = new_output("display_data", data={"text/html": "<b>" + "x" * (fs.MAX_MARKUP_CHARS + 1), "text/plain": "<HTML>"})
    assert fs.clean_output(out)["data"] == {"text/plain": "<HTML>"}
    alone = new_output("display_data", data={"text/markdown": "y" * (fs.MAX_MARKUP_CHARS + 1)})
    assert fs.clean_output(alone, "the grader's copy")["data"] == {"text/plain": "[output not shown in the grader's copy: text/markdown]"}


def test_a_solution_line_that_the_release_quotes_is_no_leak(tmp_path):
    from coursetools.grading.feedback import scan_feedback

    course = feedback_course(tmp_path, f"<pre>AssertionError: use {html.escape(SOLVED_TOO.strip())} here</pre>")
    release = nbformat.read(course.release("a") / "A.ipynb", as_version=4)
    release.cells[1].source = f"assert ok, 'loop: {SOLVED_TOO.strip()} here'"  # a visible test's message quotes it
    nbformat.write(release, course.release("a") / "A.ipynb")
    assert scan_feedback(course.root, "a") == []


# ----- the summary at the top of the page, and the instructor's formulas ---------------------------------

HOSTILE_SOURCE = ("def clip(gradients, maxValue):\n"
                  "    '''</pre></div></section><script>alert(20)</script><img src=x onerror=alert(21)>'''\n"
                  "    return gradients  # &lt;b&gt; stays text\n")
HOSTILE_MESSAGE = ("dWaa is <b onclick='alert(22)'>not clipped</b></pre></section><script>alert(23)</script> "
                   + "and this message goes on " * 60 + "to its very end")


def answer(grade_id, source):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": False, "solution": True, "locked": False,
                                 "schema_version": 3}
    return cell


def summary_of(page):
    """The summary section of a feedback page (student text in it is escaped, so its first ``</section>`` is ours)."""
    start = re.search(r'<section\b[^>]*\bid="feedback-summary"', page).start()  # nbconvert reorders attributes
    return page[start:page.index("</section>", start) + len("</section>")]


def test_the_summary_shows_a_hostile_students_function_and_messages_as_text(tmp_path):
    nb = new_notebook(cells=[
        answer("clip", HOSTILE_SOURCE),
        graded("test-clip-published", "assert clip_ok()", [new_output(
            "error", ename="AssertionError", evalue=HOSTILE_MESSAGE, traceback=["AssertionError: " + HOSTILE_MESSAGE])]),
        graded("test-clip-hidden", f"# visible\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS", [new_output(
            "error", ename="AssertionError", evalue=f"failed: {HIDDEN}", traceback=[f"AssertionError: failed: {HIDDEN}"])],
               points=2),
        answer("sample", "def sample(parameters, char_to_ix, seed):\n    return [0]\n"),
        graded("test-sample-published", "assert sample_ok()"),
    ])
    nb.cells[-1].metadata["nbgrader"]["score"] = 1  # passed
    page = render(nb, tmp_path)
    assert_safe(page)
    assert "<script" not in page.lower()
    summary = summary_of(page)
    assert page.index(summary) < page.index('id="notebook"'), "the summary comes before the notebook"
    shown = fs_visible(summary)
    assert "AssertionError: " + HOSTILE_MESSAGE in shown, "the whole message, as text, never cut"
    assert "</pre></div></section><script>alert(20)</script><img src=x onerror=alert(21)>" in shown  # the source, as text
    assert "# &lt;b&gt; stays text" in shown
    assert HIDDEN not in page and "(message not shown: it quotes a hidden test)" in shown  # the hidden test's message
    assert "clip: published values" in shown and "clip: hidden tests" in shown and "0 / 3" in shown
    assert shown.count("def clip(gradients, maxValue)") == 1, "one copy of the function beside its failed tests"
    assert "Passed (1): sample: published values" in shown and "def sample" not in shown
    assert 'href="#test-clip-published"' in summary and 'href="#comment-clip"' in summary  # links to the cells below
    tags = Tags(summary).tags
    assert not {t for t, _ in tags} & {"script", "img"} and not [a for _, a in tags if any(n.startswith("on") for n in a)]
    assert [t for t, _ in tags].count("section") == 1 and [t for t, _ in tags].count("pre") == 3  # 2 messages, 1 source


def fs_visible(markup):
    from coursetools.grading.feedback import visible_text

    return visible_text(markup).strip()


def test_a_page_with_every_test_passed_says_so(tmp_path):
    nb = new_notebook(cells=[answer("clip", "def clip(g, m):\n    return g\n"), graded("test-clip-published", "assert ok")])
    nb.cells[-1].metadata["nbgrader"]["score"] = 1
    shown = fs_visible(summary_of(render(nb, tmp_path)))
    assert "Every test passed." in shown and "Passed (1): clip: published values" in shown and "failed" not in shown


def test_the_instructors_formulas_are_mathml_and_a_students_stay_text(tmp_path):
    source = CourseLayout(tmp_path).source(ASSIGNMENT)
    source.mkdir(parents=True)
    teaching = ("The state $a^{\\langle t \\rangle}$ is\n\n$$a^{\\langle t \\rangle} = \\tanh(W_{aa} a^{\\langle t-1 "
                "\\rangle} + b)$$\n\nand $\\text{<script>alert(24)</script>}$ is text, $\\frac{1}{$ stays TeX.")
    nbformat.write(new_notebook(cells=[new_markdown_cell(teaching)]), source / NOTEBOOK)
    student = "Mine: $x^2$ <math><mi onclick='alert(25)'>y</mi><maction actiontype='statusline'>z</maction></math>"
    page = render(new_notebook(cells=[new_markdown_cell(teaching), new_markdown_cell(student)]), tmp_path)
    assert_safe(page)
    assert "<script" not in page.lower() and "MathJax" not in page and "cdnjs" not in page
    maths = [a for t, a in Tags(page).tags if t == "math"]
    assert [m.get("display") for m in maths] == ["inline", "block", "inline"], maths  # the instructor's three
    assert "\u27e8" in page and "\\langle" not in page  # rendered: no raw TeX of the instructor's formulas left
    assert "$\\frac{1}{$" in page  # what latex2mathml cannot convert stays TeX
    assert "$x^2$" in page and "&lt;math&gt;" in page  # the student's Markdown: TeX as text, their MathML escaped
    assert fs.clean_mathml('<math><mi href="javascript:x" onclick="y">a</mi><maction>b</maction></math>') == \
        "<math><mi>a</mi>b</math>"
