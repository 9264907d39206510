"""The pieces of the robust batch grader, one by one (fast; the zoo test runs them together)."""

import json
import shutil
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output

from coursetools.course import run_nbgrader
from coursetools.grading import statuses, submission
from coursetools.grading.report import _error_status
from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT
from tests.helpers import release_notebook

PY = sys.executable
ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]


@pytest.fixture
def folders(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_notebook(), release / "A.ipynb")
    sub = tmp_path / "sub"
    sub.mkdir()
    return release, sub


def test_precheck_accepts_a_good_notebook(folders):
    release, sub = folders
    nbformat.write(release_notebook(), sub / "A.ipynb")
    assert submission.precheck(sub, ["A.ipynb"], release, release) == (statuses.GRADED, "", [])


@pytest.mark.parametrize("content, status, words", [
    (b"", statuses.INVALID, "empty file"),
    (b"   \n", statuses.INVALID, "empty file"),
    (b'{"cells": [', statuses.INVALID, "not valid JSON"),
    (b"\xff\xfe\x00", statuses.INVALID, "not UTF-8"),
    (b'{"hello": 1}', statuses.INVALID, "not an nbformat-4 notebook"),
    (b'[1, 2]', statuses.INVALID, "not an nbformat-4 notebook"),
])
def test_precheck_rejects_broken_files_with_a_reason(folders, content, status, words):
    _, sub = folders
    (sub / "A.ipynb").write_bytes(content)
    got_status, reason, _ = submission.precheck(sub, ["A.ipynb"])
    assert got_status == status and words in reason


def test_precheck_names_a_renamed_notebook(folders):
    _, sub = folders
    nbformat.write(release_notebook(), sub / "A (copy).ipynb")
    status, reason, _ = submission.precheck(sub, ["A.ipynb"])
    assert status == statuses.MISSING and "A (copy).ipynb" in reason and "renamed" in reason
    (sub / "A (copy).ipynb").unlink()
    assert submission.precheck(sub, ["A.ipynb"])[1] == "A.ipynb not found; the submission has no notebook"
    assert submission.precheck(sub / "nope", ["A.ipynb"])[0] == statuses.MISSING


def test_precheck_notes_kernelspec_and_tampering(folders):
    release, sub = folders
    nb = release_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.cells[1].source = "pass  # edited"
    del nb.cells[2]
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(nb.cells[0]))))
    nb.cells[-1]["id"] = "copy"
    nbformat.write(nb, sub / "A.ipynb")
    status, _, notes = submission.precheck(sub, ["A.ipynb"], release, release)
    assert status == statuses.GRADED
    assert notes == [
        "kernelspec 'ir' replaced by 'python3'",
        "edited locked cell test-f: nbgrader restored it",
        "deleted graded cell test-g: nbgrader added it back",
        "duplicated cell answer (2 copies): only the last one counts",
    ]


def test_the_instructors_own_solution_is_no_tampering(folders, tmp_path):
    release, sub = folders
    source = tmp_path / "source"
    source.mkdir()
    src = release_notebook()
    src.cells[1].source = "assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f() != 2\n### END HIDDEN TESTS"
    nbformat.write(src, source / "A.ipynb")
    nbformat.write(src, sub / "A.ipynb")
    assert submission.precheck(sub, ["A.ipynb"], source, release) == (statuses.GRADED, "", [])


def test_precheck_never_writes(folders):
    release, sub = folders
    (sub / "A.ipynb").write_bytes(b'{"cells": [')
    before = {p: p.read_bytes() for p in sub.rglob("*") if p.is_file()}
    submission.precheck(sub, ["A.ipynb"], release, release)
    assert {p: p.read_bytes() for p in sub.rglob("*") if p.is_file()} == before


def test_a_whole_submission_timeout_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = ("import subprocess, sys, time\n"
            f"p = subprocess.Popen(['sleep', '60']); open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(60)")
    code_, out = submission.run_in_group([PY, "-c", code], tmp_path, timeout_s=2)
    assert code_ is None
    child = int(pidfile.read_text())
    time.sleep(0.5)
    state = Path(f"/proc/{child}/stat")
    assert not state.exists() or state.read_text().split()[2] == "Z", "the grandchild (a kernel) must be killed too"


def test_grade_submission_reports_a_timeout_and_leaves_no_trace(tmp_path, monkeypatch):
    course, layout = tmp_path, CourseLayout(tmp_path)
    layout.source("a").mkdir(parents=True)
    nbformat.write(release_notebook(), layout.source("a") / "A.ipynb")
    sub = layout.submitted("s1", "a")
    sub.mkdir(parents=True)
    nbformat.write(release_notebook(), sub / "A.ipynb")
    stale = layout.autograded("s1", "a")
    stale.mkdir(parents=True)
    monkeypatch.setattr(submission, "run_autograde", lambda *a, **k: (None, "...killed"))
    r = submission.grade_submission(course, "a", "s1", timeout_s=7)
    assert (r.status, r.reason) == (statuses.TIMED_OUT, "the submission ran past the 7 s limit for a whole notebook")
    assert not stale.exists()
    monkeypatch.setattr(submission, "run_autograde", lambda *a, **k: (1, "x\nnbclient.exceptions.DeadKernelError: Kernel died\n"))
    assert submission.grade_submission(course, "a", "s1").status == statuses.KERNEL_DIED
    monkeypatch.setattr(submission, "run_autograde", lambda *a, **k: (1, "Traceback\nValueError: odd\n[Autograde] done"))
    r = submission.grade_submission(course, "a", "s1")
    assert (r.status, r.reason) == (statuses.ERROR, "ValueError: odd")


def test_error_status_prefers_timeout_and_memory():
    outs = [new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[]),
            new_output("error", ename="CellTimeoutError", evalue="", traceback=[])]
    assert _error_status(outs)[0] == "timed out"
    assert _error_status([new_output("error", ename="AssertionError", evalue="x wrong\nmore", traceback=[])]) \
        == ("failed", "AssertionError: x wrong more")  # the whole message, on one line
    long = "y" * 3000
    assert _error_status([new_output("error", ename="AssertionError", evalue=long, traceback=[])])[1].endswith(long)
    assert _error_status([new_output("stream", name="stdout", text="hi")]) == (None, "")


def test_zip_collect_understands_a_canvas_export(tmp_path):
    course = CourseLayout(tmp_path / "course")
    course.root.mkdir()
    shutil.copy2(COURSE.config, course.config)
    good = nbformat.writes(release_notebook()).encode()
    archive = course.downloaded(ASSIGNMENT) / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as z:
        z.writestr(f"smithjane_12345_67890_{NOTEBOOK}", good)
        z.writestr(f"doejohn_LATE_222_333_{NOTEBOOK.replace('.ipynb', '-1.ipynb')}", good + b" ")
        z.writestr("readme.txt", b"not a notebook")
    proc = run_nbgrader(["zip_collect", ASSIGNMENT, "--force"], course.root, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    jane = course.submitted("smithjane", ASSIGNMENT) / NOTEBOOK
    john = course.submitted("doejohn", ASSIGNMENT) / NOTEBOOK
    assert jane.read_bytes() == good and john.read_bytes() == good + b" "
    assert sorted(p.name for p in course.submitted().iterdir()) == ["doejohn", "smithjane"]


def test_cli_grade_reports_a_clear_error_for_an_unknown_course(tmp_path, capsys):
    from coursetools.cli import main

    assert main(["grade", ASSIGNMENT, "--course", str(tmp_path)]) == 1
    assert "generate_assignment" in capsys.readouterr().err


@pytest.mark.slow
def test_grading_needs_the_release_command_first(tmp_path):
    from coursetools.course import make_course

    with pytest.raises(submission.GradingError, match=f"has no gradebook: run `course release {ASSIGNMENT}` first"):
        submission.ensure_assignment(tmp_path, ASSIGNMENT)
    course = make_course(tmp_path / "course", [ASSIGNMENT])
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    submission.ensure_assignment(course, ASSIGNMENT)  # what `course release` leaves: ready
    (CourseLayout(course).source(ASSIGNMENT) / "utils" / "rnn.py").unlink()
    with pytest.raises(submission.GradingError, match=f"source/{ASSIGNMENT}/utils/rnn.py is missing"):
        submission.ensure_assignment(course, ASSIGNMENT)
