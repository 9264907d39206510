"""What happened to each submission: its status, and the status file the report reads.

Both runners (:mod:`.sequential` and :mod:`.parallel`) record one
:class:`StudentResult` per student in ``reports/<assignment>.status.json``;
:mod:`.report` joins that file with the gradebook. Nothing here runs nbgrader.
"""

import json
from dataclasses import asdict, dataclass, field

from ..layout import CourseLayout

GRADED = "graded"
# Why a submission could not be graded (the report groups them under these words).
MISSING = "missing notebook"
INVALID = "invalid notebook"
KERNEL_DIED = "kernel died"
TIMED_OUT = "timed out"
ERROR = "grading error"


@dataclass
class StudentResult:
    """What happened to one student's submission."""

    student: str
    assignment: str
    status: str
    reason: str = ""
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def graded(self):
        return self.status == GRADED


def students_of(course, assignment):
    """Students with a ``submitted/<student>/<assignment>/`` folder, sorted."""
    root = CourseLayout(course).submitted()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())


def write_statuses(course, assignment, results):
    """Merge ``results`` into the status file; students no longer submitted are dropped."""
    path = CourseLayout(course).status_file(assignment)
    known = {r["student"]: r for r in read_statuses(course, assignment)}
    known.update({r.student: asdict(r) for r in results})
    present = set(students_of(course, assignment))
    rows = [known[s] for s in sorted(known) if s in present]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_statuses(course, assignment):
    """The recorded results of ``assignment``, as dicts (empty before the first grading)."""
    path = CourseLayout(course).status_file(assignment)
    if not path.exists():
        return []
    return json.loads(path.read_text())
