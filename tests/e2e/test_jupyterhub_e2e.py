"""End to end on a real JupyterHub in headless Chromium: release, fetch, validate (a wrong answer, then the
right ones), submit, collect, autograde, feedback; Validate on the optional notebooks; then what students
must not reach.

Screenshots go to ``artifacts/e2e/``, the measured Validate times to ``artifacts/e2e/validate-times.json``.
"""

import copy
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

from playwright.sync_api import expect  # in requirements-dev.txt, always installed by dev.py

from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, CELL_TIMEOUT_S, DEFAULT_ASSIGNMENT

expect.set_options(timeout=60_000)
pytestmark = pytest.mark.slow  # a real hub in a browser: minutes

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
STUDENT = "student1"
INSTRUCTOR = "instructor1"
SHORT = 60_000  # ms: page loads, clicks, spawns
LONG = 600_000  # ms: nbgrader runs the notebook (validate, autograde)
OPTIONAL = [name for name, a in ASSIGNMENTS.items() if not a.graded]  # released after the round trip
VALIDATE_WAIT_S = 60  # the longest a student should wait for Validate's answer
VALIDATE_TIMES = {}  # notebook -> seconds from the click to the dialog; written to validate-times.json


# --- helpers ---------------------------------------------------------------------

OPEN_PAGES = {}  # name -> page, screenshotted by conftest.py when a test fails


def new_page(browser, artifacts, name):
    """A page in a fresh browser context (own cookies and storage)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    OPEN_PAGES[name] = page
    page.set_default_timeout(SHORT)
    page.set_default_navigation_timeout(SHORT)
    return page


def login(page, hub, user):
    """Log ``user`` in at the hub's login page and wait for the hub to answer."""
    page.goto(f"{hub.hub_url}login?next=%2Fhub%2Fhome")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url("**/hub/home")


def wait_for_lab(page):
    """Wait until JupyterLab has rendered its menu bar and dismiss the news prompt."""
    page.locator("#jp-menu-panel div.lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for(timeout=120_000)


def open_from_nbgrader_menu(page, command):
    page.locator("#jp-menu-panel div.lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(f'#jp-mainmenu-nbgrader li[data-command="{command}"]').click()


def shot(page, artifacts, name):
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=False)


def formgrader_frame(page):
    """The formgrader's iframe inside the grader service's JupyterLab."""
    iframe = page.locator("#jp-main-dock-panel iframe").first
    iframe.wait_for()
    return page.frame_locator("#jp-main-dock-panel iframe").first


def instructor_in_formgrader(browser, hub, artifacts):
    """``(page, formgrader frame)``: the instructor logged in, the grader service's JupyterLab open on the formgrader
    (an iframe: this is what JupyterHub >= 4.1's CSP used to blank)."""
    inst = new_page(browser, artifacts, "instructor")
    login(inst, hub, INSTRUCTOR)
    inst.goto(f"{hub.service_url}lab")
    wait_for_lab(inst)
    open_from_nbgrader_menu(inst, "nbgrader:open-formgrader")
    return inst, formgrader_frame(inst)


def release_in_formgrader(fg, assignment):
    """Press the formgrader's release link of a draft assignment and see it released."""
    row = fg.locator("tbody tr", has=fg.locator("td", has_text=assignment))
    expect(row.locator("td.status")).to_contain_text("draft")
    row.locator("td.release a").click()
    confirm_success(fg, f"Successfully released '{assignment}'")
    expect(row.locator("td.status")).to_contain_text("released")


def confirm_success(frame, text):
    """Wait for the formgrader's success dialog containing ``text`` and close it."""
    modal = frame.locator("#success-modal")
    error = frame.locator("#error-modal")
    expect(modal.or_(error)).to_be_visible(timeout=LONG)
    if error.count():  # the formgrader said why: fail now with its message, not after LONG
        pytest.fail(f"the formgrader reported an error instead of {text!r}:\n{error.inner_text()}", pytrace=False)
    expect(modal).to_contain_text(text)
    modal.locator(".modal-footer button", has_text="OK").click()
    expect(modal).to_have_count(0)  # removed once its fade-out ends
    expect(frame.locator(".modal-backdrop")).to_have_count(0)


def in_page_json(page, method, url, body=None):
    """Fetch ``url`` from inside ``page`` (same origin, its cookies and XSRF token)."""
    return page.evaluate(
        """async ([method, url, body]) => {
            const m = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
            const headers = {"Content-Type": "application/json"};
            if (m) headers["X-XSRFToken"] = decodeURIComponent(m[1]);
            const r = await fetch(url, {method, headers, credentials: "same-origin",
                                        body: body === null ? undefined : JSON.stringify(body)});
            let data = null;
            try { data = await r.json(); } catch (e) {}
            return {status: r.status, data};
        }""",
        [method, url, body],
    )


def solved(student_nb, source_nb):
    """The student's notebook with each solution cell taken from the instructor's source."""
    solutions = {}
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [ln for ln in cell.source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            solutions[meta["grade_id"]] = "\n".join(lines)
    filled = 0
    for cell in student_nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
            filled += 1
    assert filled == len(solutions) > 0, f"filled {filled} of {len(solutions)} solution cells"
    return student_nb


CLIP_BOUNDS = "np.clip(gradient, -maxValue, maxValue, out=gradient)"


def clip_that_does_not_clip(nb):
    """``nb`` with the bounds of clip()'s np.clip swapped: every value becomes -maxValue (a student's mistake)."""
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "clip")
    assert CLIP_BOUNDS in cell.source, "the clip solution changed: update CLIP_BOUNDS"
    cell.source = cell.source.replace(CLIP_BOUNDS, "np.clip(gradient, maxValue, -maxValue, out=gradient)")
    return nb


def first_error(nb, folder, grade_ids):
    """Run only the cells ``grade_ids`` of ``nb`` in a copy of ``folder`` (as Validate runs them); the first
    error's ``ename: evalue``: the message the failing test gives, whole."""
    from nbclient import NotebookClient

    part = copy.deepcopy(nb)
    part.cells = [c for c in part.cells if c.metadata.get("nbgrader", {}).get("grade_id") in grade_ids]
    assert len(part.cells) == len(grade_ids), [c.metadata.get("nbgrader") for c in part.cells]
    with tempfile.TemporaryDirectory() as tmp:
        work = shutil.copytree(folder, Path(tmp) / "work", ignore=shutil.ignore_patterns("*.ipynb"))
        saved = {k: os.environ.get(k) for k in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")}
        os.environ.update(NBGRADER_EXECUTION="validate", NBGRADER_VALIDATING="1")
        try:
            NotebookClient(part, timeout=CELL_TIMEOUT_S, allow_errors=True,
                           resources={"metadata": {"path": str(work)}}).execute()
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    errors = [o for c in part.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors, "the broken clip passed its test"
    return f"{errors[0].ename}: {errors[0].evalue}"


def press_validate(page, artifacts, name, path):
    """Click Validate on the notebook at ``path`` (JupyterLab's current tab); wait for the dialog; return it and
    record the seconds it took under ``name``."""
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current", has_text=Path(path).name)
    expect(tab).to_be_visible(timeout=120_000)  # JupyterLab also restores the notebooks open before, hidden
    validate = page.locator("jp-button.validate-button:visible")
    validate.wait_for(timeout=120_000)
    start = time.monotonic()
    with page.expect_response(lambda r: "/assignments/validate?" in r.url
                              and f"path={quote(path, safe='')}&" in r.url, timeout=LONG):
        validate.click()  # the request names the notebook: the right one is validated
    dialog = page.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog").filter(
        has=page.locator("#validation-message"))
    expect(dialog).to_be_visible(timeout=LONG)
    VALIDATE_TIMES[name] = round(time.monotonic() - start, 1)
    print(f"Validate of {name}: {VALIDATE_TIMES[name]} s")
    (artifacts / "validate-times.json").write_text(json.dumps(VALIDATE_TIMES, indent=2) + "\n")
    return dialog


def close_dialog(page):
    page.locator(".jp-Dialog button.jp-Dialog-button").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def the_message_comes_first_whole_and_wrapped(page, expected, test_source):
    """The Validate dialog of a notebook whose test fails: its first box starts with the test's whole message
    (before any of the test's source) and nothing in it overflows sideways (it wraps, nothing is cut or hidden)."""
    dialog = page.locator(".nbgrader-ErrorDialog #validation-message.validation-failed")
    expect(dialog).to_be_visible()
    first_box = dialog.locator("pre").first
    expect(first_box).to_be_in_viewport()
    shown = first_box.inner_text()
    message = shown.split("In the cell that starts with:")[0]
    assert len(expected) > 90, expected  # longer than nbgrader's 90-character lines
    assert " ".join(message.split()) == " ".join(expected.split()), (shown, expected)
    text = dialog.inner_text()
    docstring = test_source.strip().splitlines()[0].strip()
    assert text.index(expected.split()[0]) < text.find(docstring[:40]), text  # the message before the test's source
    overflow = page.evaluate("""() => {
        const dialog = document.querySelector(".nbgrader-ErrorDialog");
        const body = dialog.querySelector(".jp-Dialog-body") || dialog;
        const rect = body.getBoundingClientRect();
        const out = [];
        for (const el of [body, ...dialog.querySelectorAll("#validation-message, #validation-message pre")]) {
            const r = el.getBoundingClientRect();
            if (el.scrollWidth > el.clientWidth + 1 || r.right > rect.right + 1 || r.left < rect.left - 1)
                out.push({tag: el.tagName, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
                          right: r.right, bodyRight: rect.right});
        }
        return out;
    }""")
    assert overflow == [], f"the dialog's text overflows sideways: {overflow}"


def validate_reaches_the_courses_cell_timeout(hub):
    """The student's running server loads, for Validate, the course's cell timeout (nbgrader's default is 30 s):
    the config as its Validate handler loads it, with that server's own environment, as the student."""
    pw = pwd.getpwnam(STUDENT)
    pids = [p for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == pw.pw_uid
            and b"jupyterhub-singleuser" in (p / "cmdline").read_bytes()]
    assert pids, "the student's server is not running"
    env = dict(line.split("=", 1) for line in (pids[0] / "environ").read_text().split("\0") if "=" in line)
    code = ("import json, os\n"
            "from jupyter_core.paths import jupyter_config_path\n"
            "from nbgrader.apps import NbGrader\n"
            "app = NbGrader(); paths = jupyter_config_path(); paths.insert(0, os.getcwd())\n"
            "app.config_file_paths.append(paths); app.load_config_file()\n"
            "from nbgrader.validator import Validator\n"
            "print(json.dumps({'timeout': app.config.Execute.timeout,\n"
            "                  'course_validate': Validator._extract_error.__module__}))\n")
    proc = subprocess.run([sys.executable, "-c", code], user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          env=env, cwd=pw.pw_dir, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"timeout": CELL_TIMEOUT_S, "course_validate": "coursetools.plugins.validate"}, seen


def as_user(user, code):
    """Run Python ``code`` as Unix ``user``; return what it prints as JSON."""
    pw = pwd.getpwnam(user)
    proc = subprocess.run(
        [sys.executable, "-c", code], user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
        env={"HOME": pw.pw_dir, "PATH": "/usr/bin:/bin"}, cwd="/",
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --- the round trip ------------------------------------------------------------------

def test_course_on_jupyterhub(hub, browser, artifacts):
    """The whole term in one test: the isolation checks look at what the round
    trip left (a released assignment, a submission, a gradebook), and a single
    test keeps pytest-xdist from starting a second hub with the same Unix users."""
    round_trip(hub, browser, artifacts)
    optional_notebooks_validate(hub, browser, artifacts)
    students_are_kept_out(hub, browser, artifacts)


def table_of_contents_lands_on_every_heading(page, artifacts):
    """Click every entry of JupyterLab's table of contents: each one shows its heading (the hub's JupyterLab
    renders the whole notebook: deploy/jupyterhub/jupyter-config/common/lab-settings/overrides.json)."""
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="table-of-contents"]')
    tab.click()
    items = page.locator(".jp-TableOfContents-tree .jp-tocItem-content")  # each entry's own label
    expect(items.first).to_be_visible(timeout=60_000)
    count = items.count()
    assert count > 10, f"the table of contents lists {count} headings"
    for i in range(count):
        item = items.nth(i)
        label = re.sub(r"^[\d.]+\s+", "", item.inner_text().strip())  # without a numbering prefix
        item.click()
        heading = page.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown :is(h1, h2, h3, h4, h5)",
                               has_text=label).first
        expect(heading, f"table-of-contents link {label!r}").to_be_in_viewport(timeout=15_000)
    shot(page, artifacts, "04-table-of-contents-last-link")
    tab.click()  # closes the panel again


def round_trip(hub, browser, artifacts):
    """Release, fetch, validate, submit, collect, autograde, feedback."""
    # 1. The instructor opens the grader service's JupyterLab, then the formgrader
    #    (an iframe: this is what JupyterHub >= 4.1's CSP used to blank).
    inst, fg = instructor_in_formgrader(browser, hub, artifacts)
    release_in_formgrader(fg, ASSIGNMENT)
    shot(inst, artifacts, "01-formgrader-released")

    # 2. The student logs in, opens the Assignments tab and fetches the assignment.
    stu = new_page(browser, artifacts, "student")
    login(stu, hub, STUDENT)
    stu.goto(f"{hub.hub_url}spawn/{STUDENT}")  # starts the server, then opens its JupyterLab
    wait_for_lab(stu)
    open_from_nbgrader_menu(stu, "nbgrader:open-assignment-list")
    released = stu.locator("#released_assignments_list > .list_item", has_text=ASSIGNMENT)
    expect(released).to_have_count(1)
    shot(stu, artifacts, "02-assignment-list-released")
    released.locator('.item_status button:text("Fetch")').click()
    fetched = stu.locator("#fetched_assignments_list > .list_item", has_text=ASSIGNMENT)
    expect(fetched).to_have_count(1)
    fetched.locator("a.assignment-notebooks-link").click()
    expect(stu.locator(".nested_list_item", has_text=Path(NOTEBOOK).stem)).to_be_visible()
    shot(stu, artifacts, "03-assignment-list-fetched")

    # 3. The student's answers: the solution code written into the graded cells,
    #    saved through the student's own server.
    nb_path = f"{hub.course_id}/{ASSIGNMENT}/{NOTEBOOK}"
    contents_url = f"{hub.user_url(STUDENT)}api/contents/{nb_path}"
    got = in_page_json(stu, "GET", contents_url)
    assert got["status"] == 200, got
    student_nb = nbformat.from_dict(got["data"]["content"])
    source_nb = nbformat.read(CourseLayout(hub.course_root).source(ASSIGNMENT) / NOTEBOOK, 4)
    answer = solved(student_nb, source_nb)
    wrong = clip_that_does_not_clip(copy.deepcopy(answer))
    put = in_page_json(stu, "PUT", contents_url, {"type": "notebook", "format": "json", "content": wrong})
    assert put["status"] == 200, put
    validate_reaches_the_courses_cell_timeout(hub)

    # 4. Validate from the notebook's toolbar, first with clip's bounds swapped: the dialog starts with the
    #    failing test's whole message (what the test says when run by itself), wrapped, before the test's source.
    stu.goto(f"{hub.user_url(STUDENT)}lab/tree/{nb_path}")
    stu.locator("jp-button.validate-button:visible").wait_for(timeout=120_000)
    table_of_contents_lands_on_every_heading(stu, artifacts)
    expected = first_error(wrong, Path(hub.home(STUDENT)) / hub.course_id / ASSIGNMENT,
                           ["imports", "clip", "test-clip-published"])
    press_validate(stu, artifacts, f"{NOTEBOOK} (clip broken)", nb_path)
    test_source = next(c.source for c in wrong.cells
                       if c.metadata.get("nbgrader", {}).get("grade_id") == "test-clip-published")
    shot(stu, artifacts, "04a-validate-failing-test-message-first")
    the_message_comes_first_whole_and_wrapped(stu, expected, test_source)
    close_dialog(stu)

    # 4b. The right answers (and a hostile cell for the TA, step 6): Validate says success.
    answer.cells += [nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN), nbformat.v4.new_code_cell(HOSTILE_CODE)]
    put = in_page_json(stu, "PUT", contents_url, {"type": "notebook", "format": "json", "content": answer})
    assert put["status"] == 200, put
    stu.goto(f"{hub.user_url(STUDENT)}lab/tree/{nb_path}")  # reloaded: Validate saves the open notebook first
    dialog = press_validate(stu, artifacts, NOTEBOOK, nb_path)
    shot(stu, artifacts, "04-notebook-validated")
    assert stu.locator(".nbgrader-ErrorDialog").count() == 0, dialog.inner_text()
    expect(dialog.locator(".validation-success")).to_be_visible()
    assert "Timeout waiting" not in dialog.inner_text()
    close_dialog(stu)

    # 5. Submit from the Assignments tab.
    open_from_nbgrader_menu(stu, "nbgrader:open-assignment-list")
    fetched = stu.locator("#fetched_assignments_list > .list_item", has_text=ASSIGNMENT)
    fetched.locator('.item_status button:text("Submit")').click()
    submitted = stu.locator("#submitted_assignments_list > .list_item", has_text=ASSIGNMENT)
    expect(submitted).to_have_count(1)
    shot(stu, artifacts, "05-assignment-list-submitted")

    # 5b. A hostile classmate hands in a folder named for the student, back-dated, with a link to the gradebook.
    forge(hub, source_nb)

    # 6. The grader collects and autogrades; the score is full marks.
    inst.bring_to_front()
    fg = formgrader_frame(inst)
    row = fg.locator("tbody tr", has=fg.locator("td", has_text=ASSIGNMENT))
    row.locator("td.collect a").click()
    confirm_success(fg, f"Successfully collected submissions of '{ASSIGNMENT}'")
    expect(row.locator("td.num-submissions")).to_have_text("2")  # the forgery counts as its owner's
    forgery_was_collected_as_its_owners(hub)
    row.locator("td.num-submissions a").click()
    sub = fg.locator("tbody tr", has=fg.locator("td.student-id", has_text=STUDENT))
    expect(sub).to_have_count(1)
    sub.locator("td.autograde a").click()
    confirm_success(fg, f"Successfully autograded '{ASSIGNMENT}' for student '{STUDENT}'")
    score = sub.locator("td.score")
    expect(score).to_have_text(re.compile(r"\d"))
    got_points, max_points = (float(x) for x in score.inner_text().split("/"))
    shot(inst, artifacts, "06-formgrader-autograded")
    assert max_points > 0 and got_points == max_points, score.inner_text()
    ta_opens_the_submission_and_no_script_runs(browser, inst, hub, artifacts)

    # 7. Feedback: generated and released by the grader, fetched by the student.
    sub.locator("td.generate-feedback a").click()
    confirm_success(fg, "feedback")
    sub.locator("td.release-feedback a").click()
    confirm_success(fg, "feedback")
    shot(inst, artifacts, "07-formgrader-feedback-released")

    stu.bring_to_front()
    stu.locator("#refresh_assignments_list").click()
    submitted = stu.locator("#submitted_assignments_list > .list_item", has_text=ASSIGNMENT)
    submitted.locator('.item_status button:text("Fetch Feedback")').click()
    expect(submitted.locator("a", has_text="view feedback")).to_be_visible()
    shot(stu, artifacts, "08-assignment-list-feedback")
    listing = in_page_json(stu, "GET", f"{hub.user_url(STUDENT)}api/contents/{hub.course_id}/{ASSIGNMENT}/feedback")
    assert listing["status"] == 200, listing
    stamps = [d["name"] for d in listing["data"]["content"] if d["type"] == "directory"]
    assert len(stamps) == 1, listing
    html = Path(hub.home(STUDENT)) / hub.course_id / ASSIGNMENT / "feedback" / stamps[0] / NOTEBOOK.replace(".ipynb", ".html")
    assert html.exists() and "Dinosaurus" in html.read_text()
    stu.goto(f"{hub.user_url(STUDENT)}files/{hub.course_id}/{ASSIGNMENT}/feedback/{stamps[0]}/{html.name}")
    shot(stu, artifacts, "09-feedback")
    stu.context.close()
    inst.context.close()


def optional_notebooks_validate(hub, browser, artifacts):
    """The instructor releases the optional assignments; the student fetches each and presses Validate on its
    notebook as released: success, no timeout message, within ``VALIDATE_WAIT_S`` (they have no graded, locked or
    solution cell, so the course's Validate does not run their training cells: coursetools/plugins/validate.py)."""
    inst, fg = instructor_in_formgrader(browser, hub, artifacts)
    for name in OPTIONAL:
        release_in_formgrader(fg, name)
    shot(inst, artifacts, "11-formgrader-optional-released")
    inst.context.close()

    stu = new_page(browser, artifacts, "student")
    login(stu, hub, STUDENT)
    stu.goto(f"{hub.hub_url}spawn/{STUDENT}")  # the server still runs: its JupyterLab
    wait_for_lab(stu)
    open_from_nbgrader_menu(stu, "nbgrader:open-assignment-list")
    for name in OPTIONAL:
        released = stu.locator("#released_assignments_list > .list_item", has_text=name)
        expect(released).to_have_count(1)
        released.locator('.item_status button:text("Fetch")').click()
        expect(stu.locator("#fetched_assignments_list > .list_item", has_text=name)).to_have_count(1)
    shot(stu, artifacts, "12-assignment-list-optional-fetched")
    log = Path(hub.state_dir) / "hub" / "jupyterhub.log"
    for name in OPTIONAL:
        for notebook in ASSIGNMENTS[name].notebooks:
            path = f"{hub.course_id}/{name}/{notebook}"
            stu.goto(f"{hub.user_url(STUDENT)}lab/tree/{path}")
            dialog = press_validate(stu, artifacts, notebook, path)
            shot(stu, artifacts, f"13-validated-{Path(notebook).stem}")
            text = dialog.inner_text()
            assert "Timeout waiting" not in text and "Interrupting kernel" not in text, text
            assert stu.locator(".nbgrader-ErrorDialog").count() == 0, text
            expect(dialog.locator(".validation-success")).to_be_visible()
            assert VALIDATE_TIMES[notebook] < VALIDATE_WAIT_S, VALIDATE_TIMES
            assert f"{notebook}': no graded, locked or solution cell" in log.read_text(errors="replace")
            close_dialog(stu)
    stu.context.close()


# What a hostile student puts in their notebook for the TA who opens it in the formgrader.
PROBE = "evil-probe"
HOSTILE_MARKDOWN = ("Notes <script>alert('md')</script> <img src=x onerror=\"alert('md-img')\"> "
                    "[click](javascript:alert('md-link'))")
HOSTILE_CODE = ("from IPython.display import HTML, SVG, Javascript, display\n"
                f"display(HTML(\"<img src=x onerror=\\\"alert('html');fetch('/{PROBE}-html')\\\">\"))\n"
                f"display(SVG(\"<svg xmlns='http://www.w3.org/2000/svg' onload=\\\"alert('svg')\\\"></svg>\"))\n"
                f"display(Javascript(\"alert('js'); fetch('/{PROBE}-js')\"))")


def ta_opens_the_submission_and_no_script_runs(browser, inst, hub, artifacts):
    """The TA opens the graded submission in the formgrader (nbconvert, no sanitiser of its own): none of the
    scripts the student's notebook carried runs, and none of them makes a request."""
    listing = in_page_json(inst, "GET", f"{hub.service_url}formgrader/api/submitted_notebooks/{ASSIGNMENT}/"
                                        f"{Path(NOTEBOOK).stem}")
    assert listing["status"] == 200, listing
    ids = [s["id"] for s in listing["data"] if s["student"] == STUDENT]
    assert len(ids) == 1, listing
    ta = new_page(browser, artifacts, "ta")
    login(ta, hub, INSTRUCTOR)
    dialogs, probes = [], []
    ta.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ta.on("request", lambda r: probes.append(r.url) if PROBE in r.url else None)
    ta.goto(f"{hub.service_url}formgrader/submissions/{ids[0]}/")
    expect(ta.locator("body")).to_contain_text("Notes")  # the student's cells are there, as text
    ta.wait_for_timeout(2000)
    shot(ta, artifacts, "06b-ta-opens-hostile-submission")
    assert dialogs == [] and probes == [], (dialogs, probes)
    ta.context.close()


FORGED = f"{STUDENT}+{ASSIGNMENT}+2000-01-01 00:00:00.000000 UTC+forged"


def forge(hub, source_nb):
    """student2 writes, in the exchange, a submission named for ``STUDENT``: back-dated, its own
    ``timestamp.txt`` saying 2000, and a link to the grader's gradebook."""
    folder = Path(hub.exchange_root) / hub.course_id / "inbound" / FORGED
    as_user("student2", f"""
import json, os
os.mkdir({str(folder)!r})
with open({str(folder / NOTEBOOK)!r}, "w") as f:
    f.write({nbformat.writes(source_nb)!r})
with open({str(folder / "timestamp.txt")!r}, "w") as f:
    f.write("2000-01-01 00:00:00.000000 UTC")
os.symlink({str(CourseLayout(hub.course_root).gradebook)!r}, {str(folder / "gradebook.db")!r})
print(json.dumps(sorted(os.listdir({str(folder)!r}))))
""")


def forgery_was_collected_as_its_owners(hub):
    """The forged folder is student2's submission, dated by the server, without the link; the student's is theirs."""
    from nbgrader.utils import parse_utc

    course = CourseLayout(hub.course_root)
    forged = course.submitted("student2", ASSIGNMENT)
    assert sorted(p.name for p in forged.iterdir()) == sorted([NOTEBOOK, "timestamp.txt"]), list(forged.iterdir())
    assert parse_utc((forged / "timestamp.txt").read_text().strip()).year > 2000
    mine = nbformat.read(course.submitted(STUDENT, ASSIGNMENT) / NOTEBOOK, as_version=4)
    assert "### BEGIN SOLUTION" not in nbformat.writes(mine), "the forgery replaced the student's submission"


# --- what students must not reach -------------------------------------------------------

def students_are_kept_out(hub, browser, artifacts):
    """Students cannot read source/, the gradebook, other students' work, or the formgrader."""
    course = CourseLayout(hub.course_root)
    exchange = Path(hub.exchange_root) / hub.course_id
    probe = f"""
import json, os
def attempt(fn):
    try:
        fn()
        return "allowed"
    except PermissionError:
        return "denied"
print(json.dumps({{
    "source": attempt(lambda: open({str(course.source(ASSIGNMENT) / NOTEBOOK)!r}).read()),
    "course_root": attempt(lambda: os.listdir({str(course.root)!r})),
    "gradebook": attempt(lambda: open({str(course.gradebook)!r}, 'rb').read()),
    "inbound": attempt(lambda: os.listdir({str(exchange / 'inbound')!r})),
    "feedback": attempt(lambda: os.listdir({str(exchange / 'feedback')!r})),
    "their_submission": attempt(lambda: os.listdir({str(CourseLayout(hub.course_root).submitted('student2'))!r})),
    "other_home": attempt(lambda: os.listdir({str(hub.home('student2'))!r})),
    "outbound": attempt(lambda: os.listdir({str(exchange / 'outbound' / ASSIGNMENT)!r})),
    "own_home": attempt(lambda: os.listdir({str(hub.home(STUDENT))!r})),
}}))
"""
    seen = as_user(STUDENT, probe)
    # What the exchange is for stays open (so the denials below mean something).
    assert seen["outbound"] == "allowed" and seen["own_home"] == "allowed", seen
    for what in ("source", "course_root", "gradebook", "inbound", "feedback", "their_submission", "other_home"):
        assert seen[what] == "denied", f"student can reach {what}: {seen}"

    # Through the hub. student2's server runs, so a refusal is a refusal, not "not running".
    other = new_page(browser, artifacts, "student2")
    login(other, hub, "student2")
    other.goto(f"{hub.hub_url}spawn/student2")
    wait_for_lab(other)
    own = in_page_json(other, "GET", f"{hub.user_url('student2')}api/contents")
    assert own["status"] == 200, own  # student2 reaches their own files
    no_formgrader = in_page_json(other, "GET", f"{hub.user_url('student2')}formgrader/api/assignments")
    assert no_formgrader["status"] == 404, no_formgrader  # not loaded in students' servers

    page = new_page(browser, artifacts, "student-probe")
    login(page, hub, STUDENT)
    refused = {}
    for name, url in (("student2's files", f"{hub.user_url('student2')}api/contents"),
                      ("the formgrader", f"{hub.service_url}formgrader/api/assignments")):
        response = page.goto(url)
        refused[name] = response.status
        assert ASSIGNMENT not in page.content(), f"{name}: the page shows course data"
    shot(page, artifacts, "10-student-refused-formgrader")
    assert all(status in (403, 404) for status in refused.values()), refused
    page.goto(f"{hub.hub_url}home")
    me = in_page_json(page, "GET", f"{hub.hub_url}api/users/{STUDENT}")
    them = in_page_json(page, "GET", f"{hub.hub_url}api/users/student2")
    assert me["status"] == 200 and me["data"]["name"] == STUDENT, me
    assert them["status"] in (403, 404), them
    page.context.close()
    other.context.close()
