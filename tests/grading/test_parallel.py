"""Parallel grading on Dask (coursetools.grading.parallel) gives the sequential grades, and never drops a student.

End to end: real nbgrader runs, a real Dask LocalCluster with two worker
processes. The same class is graded twice from identical course folders,
once with the sequential batch (coursetools.grading.sequential.grade_batch, one
``nbgrader autograde`` per student) and once with grade_parallel; the
gradebooks must agree cell by cell and the statuses student by student.
If the submission zoo (zoo/build.py) is there, the class is the zoo;
otherwise a small class built here with nbformat.
"""

import shutil
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("distributed")

from coursetools.grading import statuses, submission  # noqa: E402
from coursetools.grading.sequential import grade_batch  # noqa: E402
from coursetools.grading import parallel  # noqa: E402
from coursetools.course import add_submission, make_course  # noqa: E402
from coursetools.course import run_nbgrader  # noqa: E402
from coursetools.grading.report import cell_scores  # noqa: E402
from coursetools.layout import CourseLayout  # noqa: E402
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT  # noqa: E402

pytestmark = pytest.mark.slow  # real nbgrader runs on a Dask cluster

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]


def _own_class(course):
    """A small class: the solution, the untouched release, a half-done one, two ungradable ones."""
    release = CourseLayout(course).release(ASSIGNMENT)
    add_submission(course, "solution", ASSIGNMENT, COURSE.source(ASSIGNMENT))
    add_submission(course, "untouched", ASSIGNMENT, release)
    # clip done (from the solution), the rest left as released
    src = nbformat.read(COURSE.source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    half = add_submission(course, "clip-only", ASSIGNMENT, release)
    nb = nbformat.read(half / NOTEBOOK, as_version=4)
    clip_src = next(c.source for c in src.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "clip")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "clip":
            cell.source = "\n".join(ln for ln in clip_src.splitlines() if "SOLUTION" not in ln)
    nbformat.write(nb, half / NOTEBOOK)
    broken = add_submission(course, "broken-json", ASSIGNMENT, release)
    (broken / NOTEBOOK).write_text('{"cells": [')
    renamed = add_submission(course, "renamed", ASSIGNMENT, release)
    (renamed / NOTEBOOK).rename(renamed / "my_notebook.ipynb")


def _build_class(dest):
    """(course folder, students); the zoo when it is available."""
    try:
        from zoo.build import build_zoo
    except ImportError:
        build_zoo = None
    if build_zoo is not None:
        build_zoo(dest)
        course = Path(dest)
    else:
        course = make_course(dest)
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
        _own_class(course)
    return course, statuses.students_of(course, ASSIGNMENT)


@pytest.fixture(scope="module")
def two_courses(tmp_path_factory):
    base = tmp_path_factory.mktemp("parallel")
    course, students = _build_class(base / "sequential")
    twin = base / "parallel"
    shutil.copytree(course, twin, symlinks=True)
    # the twin's config stub points to the same course config; nothing else refers to the old path
    return course, twin, students


@pytest.fixture(scope="module")
def quick_course(tmp_path_factory):
    """A class the pre-check rejects entirely (no kernel runs): for the failure-handling tests."""
    course = make_course(tmp_path_factory.mktemp("quick") / "course")
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    release = CourseLayout(course).release(ASSIGNMENT)
    broken = add_submission(course, "broken-json", ASSIGNMENT, release)
    (broken / NOTEBOOK).write_text('{"cells": [')
    empty = add_submission(course, "broken-empty", ASSIGNMENT, release)
    (empty / NOTEBOOK).write_text("")
    renamed = add_submission(course, "renamed", ASSIGNMENT, release)
    (renamed / NOTEBOOK).rename(renamed / "my_notebook.ipynb")
    return course


def _statuses(results):
    return {r.student: (r.status, r.reason, tuple(r.notes)) for r in results}


def _scores(course):
    return sorted((r.student, r.notebook, r.cell, r.score, r.max_score) for r in cell_scores(course, ASSIGNMENT))


def test_parallel_grades_equal_sequential_grades(two_courses):
    course, twin, students = two_courses
    seq = grade_batch(course, ASSIGNMENT, log=lambda *a: None)
    rep = parallel.grade_parallel(twin, ASSIGNMENT, workers=2, progress=False, log=lambda *a: None)
    assert rep.workers == 2
    assert [o.result["student"] for o in rep.outcomes] == students
    assert _statuses(rep.results) == _statuses(seq)
    assert _scores(twin) == _scores(course)
    graded = {r.student for r in seq if r.graded}
    assert graded and graded != set(students), "the class should have graded and ungradable submissions"
    twin_layout = CourseLayout(twin)
    assert sorted(p.name for p in twin_layout.autograded().iterdir()) == sorted(graded)
    for student in graded:
        assert (twin_layout.autograded(student, ASSIGNMENT) / NOTEBOOK).is_file()
    assert [r["status"] for r in statuses.read_statuses(twin, ASSIGNMENT)] == [r.status for r in seq]
    # every graded student's grading process was measured
    assert all(o.peak_kernel_rss > 0 for o in rep.outcomes if o.result["student"] in graded)


def flaky_task(course, template, assignment, student, *args):
    """Fails the first attempt of every student whose name contains 'broken', then grades it."""
    marker = Path(template).parent / f"attempted-{student}"
    if "broken" in student and not marker.exists():
        marker.write_text("1")
        raise OSError(f"simulated worker failure for {student}")
    return parallel.grade_task(course, template, assignment, student, *args)


def always_failing_task(course, template, assignment, student, *args):
    if "broken" in student:
        raise RuntimeError("simulated machine fault")
    return parallel.grade_task(course, template, assignment, student, *args)


def test_failed_tasks_are_reported_and_retried(quick_course):
    lines = []
    rep = parallel.grade_parallel(quick_course, ASSIGNMENT, workers=2, progress=False, log=lines.append,
                                  task=flaky_task)
    students = statuses.students_of(quick_course, ASSIGNMENT)
    flaky = [s for s in students if "broken" in s]
    assert sorted(s for s, attempt, _ in rep.retried) == flaky
    assert sum("simulated worker failure" in ln and "retrying" in ln for ln in lines) == len(flaky)
    assert [o.result["student"] for o in rep.outcomes] == students
    assert {o.result["student"]: o.attempt for o in rep.outcomes} == {s: 2 if s in flaky else 1 for s in students}
    # after the retry they are graded as usual: the pre-check's statuses
    assert {r.student: r.status for r in rep.results} == {
        "broken-empty": statuses.INVALID, "broken-json": statuses.INVALID, "renamed": statuses.MISSING}


def test_a_task_that_keeps_failing_is_recorded_not_dropped(quick_course):
    lines = []
    rep = parallel.grade_parallel(quick_course, ASSIGNMENT, workers=1, retries=1, progress=False,
                                  log=lines.append, task=always_failing_task)
    by = {r.student: r for r in rep.results}
    assert set(by) == set(statuses.students_of(quick_course, ASSIGNMENT))
    for s in ("broken-json", "broken-empty"):
        assert by[s].status == statuses.ERROR
        assert "failed 2 time(s)" in by[s].reason and "simulated machine fault" in by[s].reason
    assert by["renamed"].status == statuses.MISSING
    status_file = {r["student"]: r["status"] for r in statuses.read_statuses(quick_course, ASSIGNMENT)}
    assert status_file == {s: r.status for s, r in by.items()}
    assert sum("recorded as a grading error" in ln for ln in lines) == 2


def test_command_line_grades_and_prints_the_report(quick_course, capsys):
    from coursetools.cli import main

    code = main(["grade-parallel", ASSIGNMENT, "--course", str(quick_course), "--workers", "1",
                 "--json", str(quick_course / "outcomes.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 submission(s)" in out and "invalid notebook: 2" in out and "missing notebook: 1" in out
    rows = __import__("json").loads((quick_course / "outcomes.json").read_text())
    assert sorted(r["student"] for r in rows) == ["broken-empty", "broken-json", "renamed"]
    assert CourseLayout(quick_course).report_csv(ASSIGNMENT).is_file()


def test_unreachable_scheduler_is_a_clear_error(quick_course, monkeypatch):
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(parallel.ParallelGradingError, match="refusing the Dask scheduler tcp://127.0.0.1:9"):
        parallel.grade_parallel(quick_course, ASSIGNMENT, scheduler="tcp://127.0.0.1:9", progress=False)
    tls = quick_course / "tls"
    tls.mkdir()
    for name in ("ca.pem", "client.pem", "client-key.pem"):
        (tls / name).write_text("not a certificate")
    from coursetools.grading.dask_security import TLSFiles

    with pytest.raises(parallel.ParallelGradingError, match="cannot reach the Dask scheduler at tls://127.0.0.1:9"):
        parallel.grade_parallel(quick_course, ASSIGNMENT, scheduler="tls://127.0.0.1:9", progress=False,
                                tls=TLSFiles(*(str(tls / n) for n in ("ca.pem", "client.pem", "client-key.pem"))))


def test_unknown_assignment_is_a_clear_error(quick_course):
    with pytest.raises(submission.GradingError):
        parallel.grade_parallel(quick_course, "no_such_assignment", progress=False)


def test_the_template_is_kept_until_what_it_is_made_from_changes(quick_course, tmp_path, monkeypatch):
    """A second batch reuses the template (no cold nbgrader); a changed source file makes it again."""
    course = tmp_path / "course"
    shutil.copytree(quick_course, course, ignore=shutil.ignore_patterns(COURSE.scratch.name))
    first = parallel.make_template(course, ASSIGNMENT)
    template = CourseLayout(first)
    made = template.gradebook.stat().st_mtime_ns
    runs = []
    real = parallel.run_nbgrader
    monkeypatch.setattr(parallel, "run_nbgrader", lambda args, cwd: runs.append(args) or real(args, cwd))
    assert parallel.make_template(course, ASSIGNMENT) == first
    assert runs == [] and template.gradebook.stat().st_mtime_ns == made
    leftovers = [p.name for p in first.parent.iterdir() if p.name.startswith(f".{ASSIGNMENT}-")]
    assert leftovers == [], "the staging folder is removed"
    notebook = CourseLayout(course).source(ASSIGNMENT) / NOTEBOOK
    notebook.write_text(notebook.read_text().replace("Dinosaurus", "Dinosaurus ", 1))
    assert parallel.make_template(course, ASSIGNMENT) == first
    assert runs == [["generate_assignment", ASSIGNMENT, "--force"]]
    assert "Dinosaurus " in (template.source(ASSIGNMENT) / NOTEBOOK).read_text()
