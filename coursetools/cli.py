"""The instructor's command line: ``course <command>`` (or ``python -m coursetools <command>``).

Every instructor job has a verb here. The model-training scripts are not part
of the grading package: ``expected-output``, ``evaluate`` and
``shakespeare-model`` run ``python -m training.<script>`` in the repository
(extra arguments go to the script, e.g. ``course evaluate --train``).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from . import demo, figures
from .course import CourseError, run_nbgrader
from .grading import parallel, report, summary
from .grading.dask_security import add_tls_arguments, tls_from_args
from .grading.feedback import generate_feedback
from .grading.parallel import DEFAULT_RETRIES, ParallelGradingError
from .grading.sequential import grade_batch
from .grading.submission import GradingError
from .layout import CourseLayout
from .release import build_release
from .security.gradebook_guard import GradebookError
from .security.trusted_tests import TrustedSetupError, refuse_disabled_asserts
from .settings import DEFAULT_ASSIGNMENT, ROOT, SUBMISSION_TIMEOUT_S
from .solution import SolutionError

PROG = "course"
# verb -> (module under training/, help). They run in the repository: training/ sits beside the package.
TRAINING = {
    "expected-output": ("expected_output", "rewrite the notebook's expected training output from the reference solution"),
    "evaluate": ("evaluate", "test NLL of every dinosaur-name model (Going further); --train, --train-lstm, --notebook retrain"),
    "shakespeare-model": ("shakespeare_train", "retrain the Shakespeare LSTM and its n-gram baselines (slow: docs/shakespeare.md)"),
}


def _course_arguments(p):
    p.add_argument("assignment", nargs="?", default=DEFAULT_ASSIGNMENT, help="assignment name (default: %(default)s)")
    p.add_argument("--course", default=str(ROOT),
                   help="course folder with submitted/ and gradebook.db (default: the repository)")


def parser():
    """The argparse parser of every verb."""
    top = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="copy the shipped utils/data/models into source/ and build release/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    sub.add_parser("demo", help="build the release, autograde sample submissions (solution, blank, broken), print the report")
    p = sub.add_parser("figures", help="draw the Dinosaurus Island notebook's teaching figures (coursetools/figures.py)")
    p.add_argument("--out", help="folder for the PNG files (default: source/dinosaurus_island/images/)")
    for verb, (module, text) in TRAINING.items():  # main() hands their arguments to the script untouched
        sub.add_parser(verb, help=f"{text} (python -m training.{module})", add_help=False)

    p = sub.add_parser("grade", help="autograde every submission robustly, then print the grade report")
    _course_arguments(p)
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--accept-renamed", action="store_true",
                   help="grade a submission's only notebook as the expected one when it was renamed (noted in the report)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run grading kernels WITHOUT the sandbox (trusted submissions only; the report says so)")
    p.add_argument("--submission-timeout", type=float, default=SUBMISSION_TIMEOUT_S,
                   help="wall-clock seconds for one whole submission (default: %(default)s)")

    p = sub.add_parser("grade-parallel", help="autograde every submission on a Dask cluster (local by default)")
    _course_arguments(p)
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, TLS only: tls://10.0.0.5:8786 "
                   "(default: a local cluster with temporary credentials)")
    add_tls_arguments(p)
    p.add_argument("--workers", type=int, help="local cluster: number of worker processes (default: one per CPU core)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES, help="extra attempts for a failed task (default: %(default)s)")
    p.add_argument("--accept-renamed", action="store_true",
                   help="grade a submission's only notebook as the expected one when it was renamed (noted in the report)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run grading kernels WITHOUT the sandbox (trusted submissions only; the report says so)")
    p.add_argument("--submission-timeout", type=float, default=SUBMISSION_TIMEOUT_S,
                   help="wall-clock seconds for one whole submission (default: %(default)s)")
    p.add_argument("--json", help="also write the per-student outcomes (status, seconds, memory, worker) to this file")

    p = sub.add_parser("report", help="print the grade report; write reports/<assignment>.csv and .grades.csv (LMS)")
    _course_arguments(p)
    p.add_argument("--summary", action="store_true",
                   help="also print the class summary and write reports/<assignment>.summary.html")
    p = sub.add_parser("feedback", help="nbgrader generate_feedback with hidden tests removed, then a leak scan")
    _course_arguments(p)
    p = sub.add_parser("zip-collect", help="LMS zip in downloaded/<assignment>/archive/ -> submitted/ (nbgrader zip_collect)")
    _course_arguments(p)
    return top


def print_report(course, assignment, with_summary=False):
    """Print the grade report; write ``reports/<assignment>.csv`` (per cell) and ``.grades.csv`` (per student).

    ``with_summary``: also print the class summary and write its HTML page.
    """
    layout = CourseLayout(course)
    reports = report.grade_report(course, assignment)
    print()
    print(report.format_report(reports))
    path = report.write_report_csv(reports, layout.report_csv(assignment))
    grades = summary.write_grades_csv(reports, layout.grades_csv(assignment))
    print(f"\nreport written to {path}; grades for an LMS in {grades}")
    if with_summary:
        s = summary.summarize(reports, assignment, summary.hidden_cells(course, assignment))
        print()
        print(summary.format_summary(s))
        print(f"\nclass summary page: {summary.write_summary_html(s, layout.summary_html(assignment))}")
    else:
        print(f"the class at a glance: course report {assignment} --summary")


def grade_parallel(args):
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    rep = parallel.grade_parallel(Path(args.course), args.assignment, args.student, args.scheduler, args.workers,
                                  args.submission_timeout, args.retries, tls=tls_from_args(args),
                                  unsafe=args.unsafe_no_sandbox, accept_renamed=args.accept_renamed)
    for line in parallel.format_summary(rep):
        print(line)
    if args.json:
        rows = [dict(o.result, worker=o.worker, attempt=o.attempt, peak_tree_rss=o.peak_tree_rss,
                     peak_kernel_rss=o.peak_kernel_rss) for o in rep.outcomes]
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    print_report(Path(args.course), args.assignment)
    return 0


def run(args):
    """Run one parsed command; return the exit status."""
    course = Path(getattr(args, "course", ROOT))
    if hasattr(args, "course") and not course.is_dir():
        raise CourseError(f"no course folder {course}: give --course the folder that holds gradebook.db and submitted/")
    if args.command in ("grade", "grade-parallel"):
        refuse_disabled_asserts(os.environ)  # before any submission is graded, not once per student
    if args.command == "release":
        build_release(args.assignments or None)
    elif args.command == "demo":
        demo.run()
    elif args.command == "figures":
        return figures.main(["--out", args.out] if args.out else [])
    elif args.command in TRAINING:
        # training/ lives beside the package, not in it: run it as a module from the repository root.
        module = f"training.{TRAINING[args.command][0]}"
        return subprocess.run([sys.executable, "-m", module, *args.args], cwd=ROOT).returncode
    elif args.command == "grade":
        grade_batch(course, args.assignment, args.student, args.submission_timeout, unsafe=args.unsafe_no_sandbox,
                    accept_renamed=args.accept_renamed)
        print_report(course, args.assignment)
    elif args.command == "grade-parallel":
        return grade_parallel(args)
    elif args.command == "report":
        print_report(course, args.assignment, with_summary=args.summary)
    elif args.command == "feedback":
        leaks = generate_feedback(course, args.assignment)
        for path, line in leaks:
            print(f"LEAK: {path}: {line}", file=sys.stderr)
        return 1 if leaks else 0
    elif args.command == "zip-collect":
        proc = run_nbgrader(["zip_collect", args.assignment], course, check=False)
        print(proc.stdout + proc.stderr, end="")
        return proc.returncode
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in TRAINING:
        args = argparse.Namespace(command=argv[0], args=argv[1:])
    else:
        args = parser().parse_args(argv)
    try:
        return run(args)
    except (CourseError, GradingError, GradebookError, ParallelGradingError, SolutionError, TrustedSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
