"""The feedback page as a student opens it: a small graded class, `course feedback`, then headless Chromium.

A correct submission and common mistakes of the zoo (zoo/build.py), two of them
handed in again by other students (the class summary groups the copies), are graded
for real and their feedback written by the course's command
(:func:`coursetools.grading.feedback.generate_feedback`, leak scan included).
Each page is opened with ``file://`` while every request is recorded and only
the page itself is let through: the summary is the first thing on the page, it
lists every test the gradebook failed with the whole message of the graded
notebook and the student's own function, the formulas are rendered MathML, and
nothing else is requested.
"""

import csv
import os
import shutil

import nbformat
import pytest

from coursetools.grading import report, summary
from coursetools.grading.feedback import generate_feedback
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from coursetools.security import feedback_html as fs
from tests.helpers import summary_checked_against_gradebook
from zoo.build import ASSIGNMENT, NOTEBOOK, ZOO, ZOO_SUBMISSION_TIMEOUT_S, build_zoo

pytestmark = pytest.mark.slow  # grades a class for real

CLASS = ("correct", "clip-swapped-bounds", "clip-not-in-place", "sample-choice-without-p", "one-wrong")
COPIES = {"copy-a": "clip-swapped-bounds", "copy-b": "clip-swapped-bounds", "copy-c": "sample-choice-without-p"}
PAGE = NOTEBOOK.replace(".ipynb", ".html")


def chromium():
    """Debian's chromium (as the e2e tests use it), or a skip/fail saying how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "chromium not on PATH (run `sudo bash deploy/install-system-deps.sh hub`)"
        if os.environ.get("DINO_SKIP_E2E"):  # dev.py, not root: the system parts may be missing
            pytest.skip(reason)
        pytest.fail(reason, pytrace=False)
    return path


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = tmp_path_factory.mktemp("feedback-page") / "course"
    build_zoo(course, zoo=[e for e in ZOO if e.name in CLASS])
    layout = CourseLayout(course)
    for copy, original in COPIES.items():  # the same mistake handed in by several students, as a class has it
        shutil.copytree(layout.submitted(original, ASSIGNMENT), layout.submitted(copy, ASSIGNMENT))
    results = grade_batch(course, ASSIGNMENT, timeout_s=ZOO_SUBMISSION_TIMEOUT_S, log=lambda *_: None)
    assert {r.student: r.status for r in results} == {name: "graded" for name in CLASS + tuple(COPIES)}
    assert generate_feedback(course, ASSIGNMENT) == [], "the leak scan covers the summary too"
    return {"course": course, "reports": {r.student: r for r in report.grade_report(course, ASSIGNMENT)}}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


def open_page(browser, path):
    """``(page, requests)``: ``path`` opened in a fresh context where only the page itself may load."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    url, requests = path.resolve().as_uri(), []

    def route(r):
        requests.append(r.request.url)
        r.continue_() if r.request.url == url else r.abort()

    page.route("**/*", route)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, [u for u in requests if u != url and not u.startswith("data:")]


def graded_messages(course, student):
    """``{grade_id: "ename: evalue"}`` of the failed test cells of the student's graded notebook."""
    nb = nbformat.read(CourseLayout(course).autograded(student, ASSIGNMENT) / NOTEBOOK, as_version=4)
    out = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                out[gid] = f"{o.ename}: {o.evalue}" if o.evalue else o.ename
    return out


def answer_source(course, student, function):
    nb = nbformat.read(CourseLayout(course).autograded(student, ASSIGNMENT) / NOTEBOOK, as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                and f"def {function}(" in c.source)


def squeeze(text):
    return " ".join(text.split())


def assert_math_is_rendered(page):
    assert page.locator("math").count() >= 20, "the notebook's formulas are MathML"
    for i in (0, page.locator("math").count() - 1):
        box = page.locator("math").nth(i).bounding_box()
        assert box and box["width"] > 5 and box["height"] > 5, box
    text = page.evaluate("document.body.innerText")
    assert "\\langle" not in text and "$$" not in text and "\\tanh" not in text, "no raw TeX left visible"


@pytest.mark.parametrize("student", ["clip-swapped-bounds", "one-wrong"])
def test_a_failing_students_page_starts_with_each_failed_test_and_their_function(graded_class, browser, student):
    course, rep = graded_class["course"], graded_class["reports"][student]
    page, requests = open_page(browser, CourseLayout(course).feedback(student, ASSIGNMENT) / PAGE)
    assert requests == [], f"the page requested {requests}"
    assert_math_is_rendered(page)

    summary = page.locator("#feedback-summary")
    first = page.evaluate("document.querySelector('body > div.container').firstElementChild.id")
    assert first == "feedback-summary", "the summary is the first thing on the page"
    top = summary.bounding_box()["y"]
    assert top < 60 and top < page.locator("#notebook").first.bounding_box()["y"]
    text = summary.inner_text()
    assert f"{rep.score:g} / {rep.max_score:g} points" in text

    failed = [c for c in rep.cells if c.status != report.PASSED]
    messages = graded_messages(course, student)
    assert failed and len(page.locator("#feedback-summary .course-message").all()) == len(failed)
    for cell in failed:
        block = page.locator(f"#failed-{cell.cell}")
        shown = block.inner_text()
        assert fs.test_cell_label(cell.cell) in shown
        assert squeeze(messages[cell.cell]) in squeeze(shown), "the whole message of the graded notebook"
        assert squeeze(cell.detail) in squeeze(shown), "the message of the grade report"
        pre = block.locator("pre")
        assert pre.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "long messages wrap"
    functions = {c.cell.split("-")[1] for c in failed}
    shown = page.locator("#feedback-summary .course-function").all_inner_texts()
    assert len(shown) == len(functions)
    for function, code in zip(sorted(functions), sorted(shown, key=lambda t: t.split()[1])):
        source = answer_source(course, student, function)
        assert all(line.strip() in code for line in source.splitlines() if line.strip()), "the student's whole function"
    passed = [fs.test_cell_label(c.cell) for c in rep.cells if c.status == report.PASSED]
    assert squeeze(page.locator(".course-passed").inner_text()) == f"Passed ({len(passed)}): " + ", ".join(passed)

    page.locator(f"#failed-{failed[0].cell} h4 a").click()  # the link leads to the test's cell below
    assert page.evaluate("location.hash") == f"#{failed[0].cell}"
    page.context.close()


def test_a_page_with_full_marks(graded_class, browser):
    course, rep = graded_class["course"], graded_class["reports"]["correct"]
    assert rep.score == rep.max_score == 13
    page, requests = open_page(browser, CourseLayout(course).feedback("correct", ASSIGNMENT) / PAGE)
    assert requests == []
    assert_math_is_rendered(page)
    text = page.locator("#feedback-summary").inner_text()
    assert "13 / 13 points" in text and "Every test passed." in text and "Passed (8):" in text
    assert page.locator(".course-failure").count() == 0
    page.context.close()


def test_the_class_summary_groups_the_copies_and_agrees_with_the_gradebook(graded_class, tmp_path):
    """The summary's numbers come from the gradebook; copies of one mistake form one group per test cell (their
    hidden tests drew other numbers: the cause is the same sentence); the LMS export reads back as the totals."""
    course = graded_class["course"]
    s, totals = summary_checked_against_gradebook(course, ASSIGNMENT)
    assert s.submitted == len(CLASS) + len(COPIES) and not s.not_graded

    groups = {g.cell: [] for g in s.mistakes}
    for g in s.mistakes:
        groups[g.cell].append(sorted(g.students))
    for cell in ("test-clip-published", "test-clip-hidden"):
        assert ["clip-swapped-bounds", "copy-a", "copy-b"] in groups[cell], (cell, groups[cell])
    assert ["copy-c", "sample-choice-without-p"] in groups["test-sample-published"], groups["test-sample-published"]
    assert "clip-not-in-place" in s.hidden_only and "correct" not in s.hidden_only
    assert summary.format_summary(s).count("students: clip-swapped-bounds, copy-a, copy-b") == 2

    with open(summary.write_grades_csv(list(graded_class["reports"].values()), tmp_path / "grades.csv"),
              newline="") as f:
        lms = {row["student_id"]: row for row in csv.DictReader(f)}
    assert {k: float(v["total"]) for k, v in lms.items()} == totals
    assert float(lms["correct"]["clip"]) == 3 and float(lms["clip-swapped-bounds"]["clip"]) == 0
