"""grade-parallel with untrusted folders: a bad folder fails its own student, never the batch.

A small class on a real LocalCluster (one worker): a correct student, a
submitted notebook that is a symlink to the correct student's notebook, a
submission holding a fifo and a symlink, and a student whose task returns an
``autograded/`` archive with an absolute symlink and a path out of the folder
(what a compromised or buggy worker could send back).
"""

import io
import os
import tarfile

import pytest

from coursetools.grading import parallel, statuses
from coursetools.layout import CourseLayout
from coursetools.security import untrusted
from tests.security.attacks import build as attacks
from zoo import build as zoo

pytestmark = pytest.mark.slow

EVIL = "evil-archive"


def _evil_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        link = tarfile.TarInfo("leak")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        data = b"owned"
        up = tarfile.TarInfo("../../../outside.txt")
        up.size = len(data)
        tar.addfile(up, io.BytesIO(data))
    return buf.getvalue()


def evil_task(course, template, assignment, student, *args, **kwargs):
    if student != EVIL:
        return parallel.grade_task(course, template, assignment, student, *args, **kwargs)
    outcome = parallel.grade_task(course, template, assignment, "correct", *args, **kwargs)
    outcome.result["student"] = EVIL
    outcome.autograded_tar = _evil_tar()
    return outcome


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("parallel-untrusted")
    course = zoo.make_course(base / "course")
    layout = CourseLayout(course)
    release_dir = layout.release(zoo.ASSIGNMENT)
    import json
    import shutil

    import nbformat

    release_nb = nbformat.read(release_dir / zoo.NOTEBOOK, as_version=4)
    source_nb = nbformat.read(layout.source(zoo.ASSIGNMENT) / zoo.NOTEBOOK, as_version=4)
    for name in ("correct", "symlinked-notebook", "fifo-and-link", EVIL):
        folder = layout.submitted(name, zoo.ASSIGNMENT)
        shutil.copytree(release_dir, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        nbformat.write(zoo.filled(release_nb, source_nb), folder / zoo.NOTEBOOK)
    folder = layout.submitted("symlinked-notebook", zoo.ASSIGNMENT)
    (folder / zoo.NOTEBOOK).unlink()
    os.symlink(layout.submitted("correct", zoo.ASSIGNMENT) / zoo.NOTEBOOK, folder / zoo.NOTEBOOK)
    home = attacks.make_home(base / "home")
    folder = layout.submitted("fifo-and-link", zoo.ASSIGNMENT)
    os.mkfifo(folder / "pipe")
    os.symlink(home / ".ssh" / "id_rsa", folder / "notes.txt")
    rep = parallel.grade_parallel(course, zoo.ASSIGNMENT, workers=1, retries=0, progress=False,
                                  log=lambda *a: None, task=evil_task)
    return {"course": course, "base": base, "by": {r.student: r for r in rep.results}, "_": json}


def test_a_bad_archive_fails_only_its_student(graded):
    by, course = graded["by"], graded["course"]
    assert by["correct"].status == statuses.GRADED
    assert by[EVIL].status == statuses.ERROR and "could not be stored" in by[EVIL].reason
    assert not CourseLayout(course).autograded(EVIL, zoo.ASSIGNMENT).exists()
    assert not (graded["base"] / "outside.txt").exists() and not (course / "outside.txt").exists()


def test_untrusted_submissions_in_parallel(graded):
    by, course = graded["by"], graded["course"]
    assert by["symlinked-notebook"].status == statuses.INVALID and "symbolic link" in by["symlinked-notebook"].reason
    r = by["fifo-and-link"]
    assert r.status == statuses.GRADED
    assert any("pipe" in n and "fifo" in n for n in r.notes) and any("notes.txt" in n for n in r.notes)
    autograded = CourseLayout(course).autograded
    assert untrusted.scan(autograded()) == []
    assert not (autograded("fifo-and-link", zoo.ASSIGNMENT) / "notes.txt").exists()
