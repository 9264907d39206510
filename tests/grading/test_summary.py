"""The class summary, the LMS export and the renamed-notebook option (coursetools/grading/summary.py, submission.py).

The quick tests build reports by hand; ``test_zoo.py`` checks the summary of the
whole zoo against the gradebook.
"""

import csv
import re
import statistics

import pytest

from coursetools.grading import report, statuses, summary
from coursetools.grading.report import CellScore, StudentReport

CELLS = [("test-clip-published", 1), ("test-clip-hidden", 2), ("test-model-published", 1), ("test-model-hidden", 2)]
HIDDEN = {"test-clip-hidden", "test-model-hidden"}


def student(name, results, status=statuses.GRADED, reason="", notes=(), seconds=1.0):
    """A report: ``results`` maps a cell to (score, status, detail); missing cells passed."""
    cells = []
    for cell, points in CELLS:
        score, st, detail = results.get(cell, (float(points), report.PASSED, ""))
        if status != statuses.GRADED:
            score, st, detail = None, report.NOT_GRADED, ""
        cells.append(CellScore(name, "hw", "nb", cell, score, float(points), st, detail))
    return StudentReport(name, "hw", status, reason, list(notes), seconds, cells=cells)


def clip_unclipped(value):
    return (0.0, report.FAILED, f"AssertionError: clip returned the gradients unchanged (dWaa[1][2] is still {value}). "
                                "Clip each array in place with out=")


@pytest.fixture
def reports():
    return [
        student("ann", {}),
        student("ben", {"test-clip-published": clip_unclipped(14.8615), "test-clip-hidden": clip_unclipped(3.2)}),
        student("cat", {"test-clip-published": clip_unclipped(-2.5e-3)}),
        student("dan", {"test-model-hidden": (0.0, report.FAILED, "AssertionError: model trained with learning_rate "
                                                                   "0.02, expected 0.01 <script>alert(1)</script>")},
                seconds=30.0),
        student("eve", {}, notes=["output limit: cell clip printed or displayed more than the grader keeps"]),
        student("fay", {}, status=statuses.INVALID, reason="nb.ipynb is not valid JSON"),
        student("gus", {}, status=statuses.MISSING, reason="nb.ipynb not found; the submission has nb (1).ipynb"),
    ]


def test_summary_counts_statistics_and_pass_rates(reports):
    s = summary.summarize(reports, "hw", HIDDEN)
    assert (s.submitted, s.graded) == (7, 5)
    assert s.totals == {"ann": 6.0, "ben": 3.0, "cat": 5.0, "dan": 4.0, "eve": 6.0}
    st = s.stats()
    assert st["mean"] == pytest.approx(statistics.fmean([6, 3, 5, 4, 6])) and st["median"] == 5
    assert (st["q1"], st["q3"], st["min"], st["max"]) == (4, 6, 3, 6)
    assert s.pass_rates == [("test-clip-published", 3, 5), ("test-clip-hidden", 4, 5),
                            ("test-model-published", 5, 5), ("test-model-hidden", 4, 5)]
    assert s.not_graded == {statuses.INVALID: [("fay", "nb.ipynb is not valid JSON")],
                            statuses.MISSING: [("gus", "nb.ipynb not found; the submission has nb (1).ipynb")]}
    assert s.hidden_only == ["dan"]  # every visible test passed, a hidden one failed
    assert s.limits == {"output limit": ["eve"]}
    assert s.slowest[0] == ("dan", 30.0)


def test_mistakes_are_grouped_by_the_cause_their_message_names(reports):
    s = summary.summarize(reports, "hw", HIDDEN)
    first = s.mistakes[0]
    assert (first.cell, first.students) == ("test-clip-published", ["ben", "cat"])  # numbers differ, cause is one
    assert "14.8615" in first.example  # a whole message as the example
    assert sorted((g.cell, tuple(g.students)) for g in s.mistakes[1:]) == [
        ("test-clip-hidden", ("ben",)), ("test-model-hidden", ("dan",))]
    assert summary.cause_of("AssertionError: X should be 1.5, got [1, 2] and 'ab'") == "X should be #, got […] and '…'"


def test_text_and_html_say_the_same_and_the_page_runs_nothing(reports, tmp_path):
    s = summary.summarize(reports, "hw", HIDDEN)
    text = summary.format_summary(s)
    assert "submitted 7, graded 5, not graded 2" in text
    assert "2 x test-clip-published" in text and summary.FIXES[statuses.MISSING] in text
    page = summary.write_summary_html(s, tmp_path / "summary.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)) == 2
    assert not re.search(r'(src|href)="(?!data:)', page), "nothing may load from elsewhere"
    assert "dan" in page and summary.FIXES[statuses.INVALID] in page


def test_the_grades_csv_reads_back_as_an_lms_would(reports, tmp_path):
    path = summary.write_grades_csv(reports, tmp_path / "grades.csv")
    with open(path, newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert list(rows["ann"]) == ["student_id", "total", "max_score", "status", "clip", "model"]
    assert (rows["ben"]["total"], rows["ben"]["clip"], rows["ben"]["model"]) == ("3", "0", "3")
    assert (rows["eve"]["total"], rows["eve"]["status"]) == ("6", "graded (output limit)")
    assert rows["fay"]["total"] == "" and rows["fay"]["status"] == "NOT GRADED: invalid notebook"  # not a zero
    assert all(float(r["total"]) == float(r["clip"]) + float(r["model"]) for r in rows.values() if r["total"])


def test_a_class_of_a_thousand_groups_one_cause_once():
    """(Its time is measured by bench/bench_summary.py.)"""
    many = [student(f"s{i:04d}", {"test-clip-hidden": clip_unclipped(i / 7)} if i % 3 else {}, seconds=i / 10)
            for i in range(1000)]
    s = summary.summarize(many, "hw", HIDDEN)
    assert len(s.mistakes) == 1 and s.mistakes[0].students == [f"s{i:04d}" for i in range(1000) if i % 3]
    assert s.pass_rates[1] == ("test-clip-hidden", 334, 1000) and len(s.hidden_only) == 666
    assert "<img" in summary.summary_html(s)


@pytest.mark.slow
def test_a_renamed_notebook_is_graded_only_when_asked(tmp_path):
    from coursetools.grading.sequential import grade_batch
    from zoo.build import ASSIGNMENT, RENAMED, ZOO, build_zoo

    course = tmp_path / "course"
    build_zoo(course, zoo=[e for e in ZOO if e.name == "fault-renamed"])
    (result,) = grade_batch(course, ASSIGNMENT, log=lambda *a: None)
    assert result.status == statuses.MISSING and f"to grade {RENAMED} as" in result.reason
    assert "--accept-renamed" in result.reason
    (result,) = grade_batch(course, ASSIGNMENT, log=lambda *a: None, accept_renamed=True)
    assert result.status == statuses.GRADED
    assert any(n.startswith(f"renamed: {RENAMED} graded as") for n in result.notes)
    (rep,) = report.grade_report(course, ASSIGNMENT)
    assert rep.score == rep.max_score == 13
    assert (course / "submitted" / "fault-renamed" / ASSIGNMENT / RENAMED).is_file()  # submitted/ untouched
