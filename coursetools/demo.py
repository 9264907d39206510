"""The main job: build the release, autograde sample submissions, print the scores.

It works in a scratch course folder (``.build/demo-course/``), never in the
course's real ``submitted/`` or gradebook, so running it loses nothing.
"""

import time

from .course import add_submission, make_course, run_nbgrader
from .grading.report import format_report, grade_report, write_report_csv
from .grading.sequential import grade_batch
from .layout import CourseLayout
from .release import build_release
from .settings import ASSIGNMENTS, COURSE, ROOT

DEMO_DIR = COURSE.scratch / "demo-course"


def run(log=print):
    t0 = time.perf_counter()
    build_release(log=log)
    graded = [n for n, spec in ASSIGNMENTS.items() if spec.graded]
    course = make_course(DEMO_DIR)
    for name in graded:
        run_nbgrader(["generate_assignment", name, "--force"], course)
        add_submission(course, "solution", name, COURSE.source(name))
        add_submission(course, "untouched-release", name, COURSE.release(name))
        # A submission that cannot be graded: the report says so instead of scoring it 0.
        broken = add_submission(course, "broken-json", name, COURSE.release(name))
        for notebook in ASSIGNMENTS[name].notebooks:
            (broken / notebook).write_text('{"cells": [ this is not JSON')
        t = time.perf_counter()
        grade_batch(course, name, log=log)
        log(f"autograded {name}: 3 submissions in {time.perf_counter() - t:.1f} s")
        reports = grade_report(course, name)
        log("")
        log(format_report(reports))
        csv_path = write_report_csv(reports, CourseLayout(course).report_csv(name))
        log(f"\nreport written to {csv_path.relative_to(ROOT)}")
    log(f"done in {time.perf_counter() - t0:.1f} s")
