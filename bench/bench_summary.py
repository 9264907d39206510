"""How long the grade report and the class summary take for a large class.

    python -m bench.bench_summary            # 1,000 students
    python -m bench.bench_summary -n 5000

Builds a scratch course in ``.build/bench-summary/`` (the real course is never
touched) whose gradebook holds ``n`` synthetic submissions of the graded
assignment (random scores per test cell, written with nbgrader's own API, no
autograded notebooks), then prints the seconds of each step: the report from the
gradebook, the summary, its text, its HTML page (figures included) and the two CSV files.
"""

import argparse
import random
import shutil
import time

from nbgrader.api import Gradebook

from bench.bench_grading import ASSIGNMENT
from coursetools.course import make_course, run_nbgrader
from coursetools.grading import report, summary
from coursetools.layout import CourseLayout
from coursetools.settings import COURSE

OUT = COURSE.scratch / "bench-summary"


def synthetic_class(n, seed=0):
    """A scratch course whose gradebook has ``n`` submissions with random all-or-nothing cell scores."""
    shutil.rmtree(OUT, ignore_errors=True)
    course = make_course(OUT / "course", [ASSIGNMENT])
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    rng = random.Random(seed)
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        for i in range(n):
            sid = f"student{i:05d}"
            gb.add_student(sid)
            sub = gb.add_submission(ASSIGNMENT, sid)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    grade.auto_score = grade.max_score if rng.random() < 0.8 else 0.0
        gb.db.commit()
    return course


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="students (default 1000)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    course = synthetic_class(args.n)
    print(f"synthetic class of {args.n}: built in {time.perf_counter() - t0:.1f} s")
    layout = CourseLayout(course)
    steps = {}
    t = time.perf_counter()
    reports = report.grade_report(course, ASSIGNMENT)
    steps["grade report from the gradebook"] = time.perf_counter() - t
    t = time.perf_counter()
    s = summary.summarize(reports, ASSIGNMENT, summary.hidden_cells(course, ASSIGNMENT))
    steps["summary"] = time.perf_counter() - t
    t = time.perf_counter()
    summary.format_summary(s)
    steps["summary as text"] = time.perf_counter() - t
    t = time.perf_counter()
    summary.write_summary_html(s, layout.summary_html(ASSIGNMENT))
    steps["summary page (figures included)"] = time.perf_counter() - t
    t = time.perf_counter()
    report.write_report_csv(reports, layout.report_csv(ASSIGNMENT))
    summary.write_grades_csv(reports, layout.grades_csv(ASSIGNMENT))
    steps["per-cell CSV and grades CSV"] = time.perf_counter() - t
    for step, seconds in steps.items():
        print(f"{step:<36} {seconds:8.2f} s")
    print(f"{'total':<36} {sum(steps.values()):8.2f} s")


if __name__ == "__main__":
    main()
