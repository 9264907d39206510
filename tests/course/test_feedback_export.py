"""A graded notebook exports to HTML the way the hub's formgrader does it ("Generate feedback").

Regression test for the hub's broken *Generate feedback*: nbconvert's HTML export runs
``soup.select("img:not([alt])")``, which raised ``SelectorSyntaxError`` when the environment held
a soupsieve release made for a newer Python 3.11 than the one running it (see
``tests/course/test_environment.py``). Here the real ``nbgrader generate_feedback`` runs with the
grader service's configuration (``deploy/jupyterhub/jupyter-config/{grader,common}`` on
``JUPYTER_CONFIG_PATH``, then the course's ``nbgrader_config.py``), as the formgrader's button does.
"""

import os
import re

import pytest

from coursetools.course import add_submission, make_course, run_nbgrader
from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT, ROOT

HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyter-config"


@pytest.mark.slow
def test_generate_feedback_in_the_grader_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", os.pathsep.join([str(HUB_CONFIG / "grader"), str(HUB_CONFIG / "common")]))
    monkeypatch.setenv("DINO_HUB_COURSE_ROOT", str(tmp_path / "course"))
    course = make_course(tmp_path / "course", [DEFAULT_ASSIGNMENT])
    run_nbgrader(["generate_assignment", DEFAULT_ASSIGNMENT, "--force"], course)
    submission = add_submission(course, "alice", DEFAULT_ASSIGNMENT, COURSE.source(DEFAULT_ASSIGNMENT))
    (submission / "timestamp.txt").write_text("2026-12-01 09:30:00.000000 UTC")  # as `nbgrader collect` leaves it
    (submission / "submission_secret.txt").write_text("c2VjcmV0LW9mLWFsaWNlLXN1Ym1pc3Npb24=")  # as `nbgrader submit` does
    run_nbgrader(["autograde", DEFAULT_ASSIGNMENT, "--student", "alice", "--force"], course)
    run_nbgrader(["generate_feedback", DEFAULT_ASSIGNMENT, "--student", "alice", "--force"], course)

    notebook = ASSIGNMENTS[DEFAULT_ASSIGNMENT].notebooks[0]
    page = CourseLayout(course).feedback("alice", DEFAULT_ASSIGNMENT) / notebook.replace(".ipynb", ".html")
    assert page.exists(), f"no feedback page: {sorted(p.name for p in page.parent.glob('*'))}"
    assert sorted(p.name for p in page.parent.iterdir()) == sorted([page.name, "submission_secret.txt", "timestamp.txt"]), (
        "the feedback folder holds the page and the two files release_feedback reads, nothing else")
    (tmp_path / "exchange").mkdir(mode=0o777)
    (tmp_path / "exchange").chmod(0o777)  # as the hub's exchange folder is
    released = run_nbgrader(["release_feedback", DEFAULT_ASSIGNMENT, "--student", "alice",
                             f"--Exchange.root={tmp_path / 'exchange'}"], course)
    assert list((tmp_path / "exchange").rglob("feedback/*.html")), released.stdout + released.stderr
    html = page.read_text()
    images = re.findall(r"<img\b[^>]*>", html)
    assert images, "the feedback page shows the notebook's figures and plots"
    assert all(re.search(r"\balt=", tag) for tag in images), "nbconvert's export gave every image an alt text"
    assert re.search(r"Score:\s*13(\.0)?\s*/\s*13", html), "the page carries the solution's full score"
