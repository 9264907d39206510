"""The submission zoo, autograded for real: every expected score and status, exactly.

One module-scoped run builds the zoo (zoo/build.py), grades all of it
with the robust batch (one ``nbgrader autograde`` per student, capped
kernels), then the tests below check the table of expected results, the
report, ``submitted/`` untouched, the gradebook, idempotent reruns, the
feedback leak scan and the release leak scan. It takes a few minutes.
"""

import csv
import hashlib
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

from coursetools.grading import report, summary
from coursetools.grading.feedback import generate_feedback, scan_for_leaks, secret_lines
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from tests.helpers import summary_checked_against_gradebook
from zoo.build import ASSIGNMENT, NOTEBOOK, RENAMED, ZOO, ZOO_MAX_OUTPUT_BYTES, ZOO_SUBMISSION_TIMEOUT_S, build_zoo

pytestmark = pytest.mark.slow  # the whole zoo, autograded for real


def tree_digest(folder):
    """``{relative path: sha256}`` of every file under ``folder`` (and its mode)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
    return out


def as_table(reports):
    """The graded reports in the shape of :func:`zoo.build.expected_table`."""
    return {
        r.student: {"status": r.status, "cells": {c.cell: (c.score, c.status) for c in r.cells}, "total": r.score}
        for r in reports
    }


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    course = tmp_path_factory.mktemp("zoo") / "course"
    expected = build_zoo(course)
    before = tree_digest(CourseLayout(course).submitted())
    t0 = time.perf_counter()
    results = grade_batch(course, ASSIGNMENT, timeout_s=ZOO_SUBMISSION_TIMEOUT_S, log=lambda *_: None)
    wall = time.perf_counter() - t0
    print(f"\nzoo: {len(results)} submissions autograded in {wall:.1f} s")
    reports = report.grade_report(course, ASSIGNMENT)
    return {"course": course, "expected": expected, "before": before, "results": results, "reports": reports}


def test_every_submission_has_the_expected_status_scores_and_cell_statuses(zoo):
    got = as_table(zoo["reports"])
    assert sorted(got) == sorted(zoo["expected"]), "the report must list every submission of the zoo"
    mismatches = {name: {"expected": zoo["expected"][name], "got": got[name]}
                  for name in got if got[name] != zoo["expected"][name]}
    assert not mismatches, f"zoo results differ from zoo/build.py:ZOO: {mismatches}"


def test_partial_credit_is_exact(zoo):
    totals = {r.student: r.score for r in zoo["reports"]}
    assert totals["correct"] == 13 and totals["untouched"] == 0
    assert totals["one-wrong"] == 10  # everything but model's 1 + 2 points
    assert totals["clip-not-in-place"] == 11  # only the hidden in-place check fails


def test_report_tells_ungradable_from_zero_points(zoo, tmp_path):
    text = report.format_report(zoo["reports"])
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln and ln.split()[0] in {e.name for e in ZOO}}
    assert "NOT GRADED: invalid notebook" in lines["fault-invalid-json"]
    assert "NOT GRADED: invalid notebook" in lines["fault-empty-file"]
    assert "NOT GRADED: missing notebook" in lines["fault-renamed"]
    assert "NOT GRADED: kernel died" in lines["fault-kernel-exit"]
    assert "0/13" in lines["untouched"] and "NOT GRADED" not in lines["untouched"]
    assert f"fault-renamed: missing notebook: {NOTEBOOK} not found; the submission has {RENAMED}" in text
    assert f"fault-empty-file: invalid notebook: {NOTEBOOK} is an empty file" in text

    path = report.write_report_csv(zoo["reports"], tmp_path / "report.csv")
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == len(ZOO) * 8
    by = {(r["student"], r["cell"]): r for r in rows}
    bad = by[("fault-invalid-json", "test-clip-published")]
    assert bad["score"] == "" and bad["cell_status"] == "not graded" and bad["submission_status"] == "invalid notebook"
    assert "not valid JSON" in bad["reason"]
    zero = by[("untouched", "test-clip-published")]
    assert float(zero["score"]) == 0 and zero["cell_status"] == "not implemented" and zero["submission_status"] == "graded"
    slow = by[("sample-no-cap", "test-sample-hidden")]
    assert slow["cell_status"] == "timed out" and "CellTimeoutError" in slow["detail"]


def test_notes_explain_what_the_grader_undid(zoo):
    notes = {r.student: " | ".join(r.notes) for r in zoo["reports"]}
    assert "edited locked cell test-sample-published" in notes["game-edit-tests"]
    assert "edited locked cell test-sample-hidden" in notes["game-edit-tests"]
    assert "deleted graded cell test-clip-hidden" in notes["game-delete-tests"]
    assert "deleted graded cell test-model-published" in notes["game-delete-tests"]
    assert "duplicated cell test-clip-published" in notes["game-duplicate"]
    assert "numpy.random.choice" in notes["game-monkeypatch"] and "utils.rnn_forward" in notes["game-monkeypatch"]
    assert "numpy.random.seed" in notes["game-reseed"]
    assert "cell clip: MemoryError" in notes["fault-memory-hog"]
    assert "output limit: cell clip" in notes["fault-huge-output"]
    assert "kernelspec 'ir' replaced by 'python3'" in notes["fault-wrong-kernelspec"]
    assert notes["correct"] == ""


def test_huge_output_is_cut_in_the_autograded_notebook(zoo):
    path = CourseLayout(zoo["course"]).autograded("fault-huge-output", ASSIGNMENT) / NOTEBOOK
    assert path.stat().st_size < 3 * ZOO_MAX_OUTPUT_BYTES
    assert "[grader: output cut" in path.read_text()
    reports = {r.student: r for r in zoo["reports"]}
    assert reports["fault-huge-output"].limits == ["output limit"] and reports["correct"].limits == []
    line = [ln for ln in report.format_report(zoo["reports"]).splitlines() if ln.startswith("fault-huge-output ")]
    assert line and line[0].endswith("graded (output limit)")


def test_submitted_is_never_modified(zoo):
    assert tree_digest(CourseLayout(zoo["course"]).submitted()) == zoo["before"]


def test_gradebook_holds_exactly_the_graded_submissions(zoo):
    course = zoo["course"]
    graded = {r.student for r in zoo["results"] if r.graded}
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        in_gradebook = {s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions}
    assert in_gradebook == graded
    folders = {p.parent.name for p in CourseLayout(course).autograded().glob(f"*/{ASSIGNMENT}")}
    assert folders == graded


def test_rerun_is_idempotent(zoo):
    course = zoo["course"]
    subset = ["correct", "fault-kernel-exit", "fault-empty-file", "game-edit-tests"]
    before = {r.student: r for r in report.grade_report(course, ASSIGNMENT)}
    again = grade_batch(course, ASSIGNMENT, subset, timeout_s=ZOO_SUBMISSION_TIMEOUT_S, log=lambda *_: None)
    assert [r.status for r in again] == [before[s].status for s in subset]
    after = {r.student: r for r in report.grade_report(course, ASSIGNMENT)}
    assert as_table(after.values()) == as_table(before.values())
    assert [r.notes for r in again] == [before[s].notes for s in subset]
    assert tree_digest(CourseLayout(course).submitted()) == zoo["before"]


def test_feedback_shows_no_hidden_test_line_but_says_what_failed(zoo):
    course = zoo["course"]
    secrets = secret_lines(course, ASSIGNMENT)
    assert len(secrets) > 40, "the hidden tests should give many lines to look for"
    layout = CourseLayout(course)
    autograded = layout.autograded("clip-not-in-place", ASSIGNMENT) / NOTEBOOK
    assert scan_for_leaks([autograded], secrets), "the scan must find the hidden lines where they are"

    leaks = generate_feedback(course, ASSIGNMENT)
    files = sorted(layout.feedback().glob(f"*/{ASSIGNMENT}/*.html"))
    graded = {r.student for r in zoo["results"] if r.graded}
    assert {f.parent.parent.name for f in files} == graded
    assert leaks == []
    assert scan_for_leaks(files, secrets) == []
    html = (layout.feedback("clip-not-in-place", ASSIGNMENT) / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "dWax was not clipped in place" in html
    assert "a hidden test failed here" in html
    assert "test-clip-hidden" in html


def solution_lines(source_nb):
    """Lines inside ``### BEGIN/END SOLUTION`` that appear nowhere else in the source notebook.

    (The instructions in markdown quote some of them, e.g. ``idx = j % len(examples)``: those are public.)
    """
    inside_lines, outside_lines = set(), set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            text = " ".join(line.split())
            if text in ("### BEGIN SOLUTION", "### END SOLUTION"):
                inside = text == "### BEGIN SOLUTION"
                continue
            (inside_lines if inside else outside_lines).add(text)
    public = "\n".join(outside_lines)
    return sorted(t for t in inside_lines - outside_lines if len(t) > 20 and t not in public)


def test_release_shows_no_hidden_test_and_no_solution(zoo):
    course = zoo["course"]
    layout = CourseLayout(course)
    release = layout.release(ASSIGNMENT) / NOTEBOOK
    assert scan_for_leaks([release], secret_lines(course, ASSIGNMENT)) == []
    secrets = solution_lines(nbformat.read(layout.source(ASSIGNMENT) / NOTEBOOK, as_version=4))
    assert len(secrets) >= 8, "the solution cells should give lines to look for"
    assert scan_for_leaks([release], secrets) == []
    solved = layout.autograded("correct", ASSIGNMENT) / NOTEBOOK
    assert scan_for_leaks([solved], secrets), "the scan must find solution lines where they are"


def test_the_class_summary_agrees_with_the_gradebook(zoo, tmp_path):
    course = zoo["course"]
    s, totals = summary_checked_against_gradebook(course, ASSIGNMENT)
    assert s.submitted == len(ZOO)
    assert s.stats()["mean"] == pytest.approx(sum(totals.values()) / len(totals))
    assert sum(len(v) for v in s.not_graded.values()) == len(ZOO) - len(totals)
    assert "clip-not-in-place" in s.hidden_only and "correct" not in s.hidden_only
    unwritten = [g for g in s.mistakes if (g.cell, g.cause) == ("test-sample-published", "NotImplementedError")]
    assert unwritten and sorted(unwritten[0].students) == ["game-edit-tests", "untouched"]
    assert s.limits == {"output limit": ["fault-huge-output"]}
    page = summary.write_summary_html(s, tmp_path / "summary.html").read_text()
    assert "<script" not in page and "clip-not-in-place" in page
    with open(summary.write_grades_csv(zoo["reports"], tmp_path / "grades.csv"), newline="") as f:
        lms = {row["student_id"]: row for row in csv.DictReader(f)}
    assert {k: float(v["total"]) for k, v in lms.items() if v["total"]} == totals
    assert lms["fault-invalid-json"]["total"] == "" and "invalid notebook" in lms["fault-invalid-json"]["status"]
