"""The grade report reads every score in one query (coursetools/grading/report.py: ``all_scores``); the report and
``course feedback`` say what to do when there is no gradebook, assignment or graded notebook to work on.

The score must be nbgrader's own: ``gb.find_grade(...).score`` (a manual score
over the automatic one, plus extra credit), for every student and cell, and a
cell with no grade row counts 0 in the report.
"""

import random

from nbgrader.api import Gradebook

from coursetools.course import make_course, run_nbgrader
from coursetools.grading import report
from coursetools.layout import CourseLayout

ASSIGNMENT = "dinosaurus_island"


def test_all_scores_equal_nbgraders_find_grade(tmp_path):
    course = make_course(tmp_path / "course", [ASSIGNMENT])
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    rng = random.Random(1)
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        for i in range(6):
            gb.add_student(f"s{i}")
            sub = gb.add_submission(ASSIGNMENT, f"s{i}")
            for nb in sub.notebooks:
                for grade in nb.grades:
                    grade.auto_score = rng.choice([None, 0.0, grade.max_score])
                    grade.manual_score = rng.choice([None, None, 0.5])
                    grade.extra_credit = rng.choice([None, None, 0.25])
        gb.db.commit()
        got = report.all_scores(gb, ASSIGNMENT)
        want = {}
        for sub in gb.find_assignment(ASSIGNMENT).submissions:
            for nb in sub.notebooks:
                for grade in nb.grades:
                    key = (sub.student.id, nb.name, grade.cell.name)
                    want[key] = float(gb.find_grade(grade.cell.name, nb.name, ASSIGNMENT, sub.student.id).score)
    assert got == want
    assert len(got) == 6 * len({cell for _, _, cell in want})
    assert {0.0, 0.5, 0.75}.issubset(got.values())  # automatic, manual, manual plus extra credit all occur

    reports = {r.student: r for r in report.grade_report(course, ASSIGNMENT)}
    assert sorted(reports) == [f"s{i}" for i in range(6)]
    for (student, nb, cell), score in want.items():
        (row,) = [c for c in reports[student].cells if c.cell == cell and c.notebook == nb]
        assert row.score == score


def test_report_says_what_to_do_without_a_gradebook_or_assignment(tmp_path, capsys):
    from coursetools.cli import main

    missing = tmp_path / "no-such-course"
    assert main(["report", ASSIGNMENT, "--course", str(missing)]) == 1
    assert "no course folder" in capsys.readouterr().err
    assert not missing.exists()

    assert main(["report", ASSIGNMENT, "--summary", "--course", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no gradebook" in err and f"course grade {ASSIGNMENT}" in err
    assert not (tmp_path / "gradebook.db").exists(), "a report must not create an empty gradebook"

    with Gradebook(CourseLayout(tmp_path).gradebook_url) as gb:
        gb.add_assignment("hw1")
    assert main(["report", "hw2", "--course", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no assignment 'hw2'" in err and "hw1" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_feedback_says_what_to_do_when_nothing_was_graded(tmp_path, capsys):
    from coursetools.cli import main

    assert main(["feedback", ASSIGNMENT, "--course", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no gradebook" in err and f"course grade {ASSIGNMENT}" in err
    assert not (tmp_path / "gradebook.db").exists()

    with Gradebook(CourseLayout(tmp_path).gradebook_url) as gb:
        gb.add_assignment(ASSIGNMENT)
    assert main(["feedback", ASSIGNMENT, "--course", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "nothing autograded" in err and f"course grade {ASSIGNMENT}" in err
    assert "Traceback" not in err and "nbgrader" not in err
    assert not (tmp_path / "feedback").exists()
