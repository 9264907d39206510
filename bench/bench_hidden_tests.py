"""What the hidden tests cost per submission, side by side: the source notebook of a former revision and today's.

    python -m bench.bench_hidden_tests                   # 3 copies of the solution each, before = BEFORE below
    python -m bench.bench_hidden_tests -n 5 --before 8d17438

Issue 20 replaced the hidden ``model`` test's 2,500-iteration training run with
stand-ins (utils/stand_ins.py) and made every hidden test draw its own
instance and compute its expected values with the reference in the grader.
This builds two scratch courses in ``.build/bench-hidden-tests/`` (the real
course is never touched): one whose source notebook is the one of ``--before``
(read with ``git show``), one with today's; grades ``n`` copies of the
solution in each with ``python -m coursetools grade``'s batch, in alternating
rounds, and prints the best round's wall and busy CPU seconds per submission
(``/proc/stat``: run it on a quiet machine) and each total score.
"""

import argparse
import shutil
import subprocess
import time

from bench.bench_grading import ASSIGNMENT, NOTEBOOK
from bench.bench_grading_paths import busy_cpu_seconds
from coursetools.course import add_submission, make_course, run_nbgrader
from coursetools.grading.report import cell_scores
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from coursetools.settings import COURSE, ROOT

BEFORE = "8d17438"  # the last commit before issue 20: hidden model test trains 2,500 iterations
OUT = COURSE.scratch / "bench-hidden-tests"


def build(dest, n, notebook_text=None):
    """A scratch course (today's utils and data) whose source notebook is ``notebook_text`` (None: today's)."""
    course = make_course(dest, [ASSIGNMENT])
    if notebook_text is not None:
        (CourseLayout(course).source(ASSIGNMENT) / NOTEBOOK).write_text(notebook_text)
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    for i in range(n):
        add_submission(course, f"student{i:03d}", ASSIGNMENT, CourseLayout(course).source(ASSIGNMENT))
    return course


def grade_once(course):
    """(wall s, busy CPU s) of grading the whole course once."""
    shutil.rmtree(CourseLayout(course).autograded(), ignore_errors=True)
    cpu, t0 = busy_cpu_seconds(), time.perf_counter()
    grade_batch(course, ASSIGNMENT, log=lambda *a: None)
    return time.perf_counter() - t0, busy_cpu_seconds() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="copies of the solution per course (default 3)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", default=BEFORE, help=f"the git revision to compare with (default {BEFORE})")
    args = parser.parse_args(argv)
    path = f"source/{ASSIGNMENT}/{NOTEBOOK}"
    try:
        old = subprocess.run(["git", "show", f"{args.before}:{path}"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench_hidden_tests: cannot read {path} at {args.before!r} with git: {exc}") from None
    shutil.rmtree(OUT, ignore_errors=True)
    courses = {f"before ({args.before})": build(OUT / "before", args.n, old), "today": build(OUT / "today", args.n)}
    best = {}
    for _ in range(args.rounds):
        for label, course in courses.items():
            wall, cpu = grade_once(course)
            if label not in best or wall < best[label][0]:
                best[label] = (wall, cpu)
    print(f"hidden tests, {args.n} solution submissions per course, best of {args.rounds} rounds:")
    print(f"{'notebook':<22} {'wall s/submission':>18} {'busy CPU s/submission':>22} {'score':>7}")
    for label, course in courses.items():
        wall, cpu = best[label]
        scores = {}
        for row in cell_scores(course, ASSIGNMENT):
            scores[row.student] = scores.get(row.student, 0.0) + row.score
        print(f"{label:<22} {wall / args.n:>18.2f} {cpu / args.n:>22.2f} {min(scores.values()):>7.1f}")


if __name__ == "__main__":
    main()
