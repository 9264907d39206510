"""Grade a class one submission after the other: ``course grade <assignment>``.

A thin loop over :func:`.submission.grade_submission`: it checks the course
and the sandbox once, starts one warm nbgrader server for the class
(:mod:`.warm_nbgrader`) and the gradebook guard
(:class:`~coursetools.security.gradebook_guard.GradebookGuard`), grades every
``submitted/<student>/<assignment>/`` and writes the statuses
(:mod:`.statuses`), which :mod:`.report` joins with the gradebook. One bad
submission never stops the batch; running it again regrades everything from
``submitted/`` and gives the same result.
"""

from pathlib import Path

from ..course import tool_env
from ..security.gradebook_guard import GradebookGuard
from ..settings import SUBMISSION_TIMEOUT_S
from .statuses import students_of, write_statuses
from .submission import (
    check_sandbox,
    ensure_assignment,
    expected_notebooks,
    grade_submission,
)
from .warm_nbgrader import WarmNbgrader


def grade_batch(course, assignment, students=None, timeout_s=SUBMISSION_TIMEOUT_S, log=print, unsafe=False,
                accept_renamed=False):
    """Grade ``students`` (default: every submission) one after the other; return their results.

    Every kernel runs in the grading sandbox; when none can be made the batch
    stops with the reason (:class:`~.submission.GradingError`), unless ``unsafe``.
    """
    course = Path(course)
    check_sandbox(unsafe)
    if unsafe:
        log("WARNING: grading WITHOUT the sandbox (--unsafe-no-sandbox): submissions run with your rights")
    ensure_assignment(course, assignment)
    notebooks = expected_notebooks(course, assignment)
    students = list(students) if students else students_of(course, assignment)
    warm = WarmNbgrader(env=tool_env()).spawn()  # nbgrader's imports, paid once for the class, while the guard starts
    try:
        guard = GradebookGuard(course, assignment).start()  # the gradebook is written only by the grader
        results = []
        for i, student in enumerate(students, 1):
            r = grade_submission(course, assignment, student, timeout_s, notebooks, unsafe, warm, accept_renamed)
            results.append(r)
            guard.check(student)
            extra = f": {r.reason}" if r.reason else ""
            log(f"[{i}/{len(students)}] {student}: {r.status}{extra} ({r.seconds:.1f} s)")
    finally:
        warm.close()
    write_statuses(course, assignment, results)
    return results
