"""Where things are in a course folder: nbgrader's layout, written once.

A *course folder* is what nbgrader calls the course root. The repository is
one; the demo, parallel grading, the tests and the JupyterHub launcher make
scratch ones (:func:`coursetools.course.make_course`). Every path of a course
that the course's code needs comes from a :class:`CourseLayout`::

    course = CourseLayout(root)
    course.submitted("alice", "dinosaurus_island")   # <root>/submitted/alice/dinosaurus_island
    course.gradebook_url                             # sqlite:////abs/path/gradebook.db

``student`` and ``assignment`` may be omitted to get the folder above them.
The folder names are nbgrader's defaults (``CourseDirectory.*_directory``),
which the course's ``nbgrader_config.py`` keeps.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CourseLayout:
    """The paths of the course folder ``root`` (nothing is created or checked)."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # --- nbgrader's folders ---
    def source(self, assignment=None):
        """``source/<assignment>/``: the instructor's notebooks (solutions and hidden tests)."""
        return self._under("source", None, assignment)

    def release(self, assignment=None):
        """``release/<assignment>/``: the student version."""
        return self._under("release", None, assignment)

    def submitted(self, student=None, assignment=None):
        """``submitted/<student>/<assignment>/``: what a student handed in (never written by grading)."""
        return self._under("submitted", student, assignment)

    def autograded(self, student=None, assignment=None):
        """``autograded/<student>/<assignment>/``: the graded copy nbgrader writes."""
        return self._under("autograded", student, assignment)

    def feedback(self, student=None, assignment=None):
        """``feedback/<student>/<assignment>/``: the feedback pages released to the student."""
        return self._under("feedback", student, assignment)

    def downloaded(self, assignment=None):
        """``downloaded/<assignment>/``: an LMS download for ``nbgrader zip_collect``."""
        return self._under("downloaded", None, assignment)

    @property
    def config(self):
        """``nbgrader_config.py``."""
        return self.root / "nbgrader_config.py"

    @property
    def gradebook(self):
        """``gradebook.db``: written only by the grader."""
        return self.root / "gradebook.db"

    @property
    def gradebook_url(self):
        """The SQLAlchemy URL of the gradebook (an absolute path)."""
        return f"sqlite:///{self.gradebook.resolve()}"

    # --- the course's own files ---
    @property
    def reports(self):
        """``reports/``: the grade reports and the grading statuses."""
        return self.root / "reports"

    def report_csv(self, assignment):
        """``reports/<assignment>.csv``: the per-cell grade report."""
        return self.reports / f"{assignment}.csv"

    def grades_csv(self, assignment):
        """``reports/<assignment>.grades.csv``: one row per student, for an LMS (docs/grading.md)."""
        return self.reports / f"{assignment}.grades.csv"

    def summary_html(self, assignment):
        """``reports/<assignment>.summary.html``: the class summary, for a browser."""
        return self.reports / f"{assignment}.summary.html"

    def status_file(self, assignment):
        """``reports/<assignment>.status.json``: how each submission's grading went."""
        return self.reports / f"{assignment}.status.json"

    @property
    def scratch(self):
        """``.build/``: scratch folders (scratch courses, templates); never in git."""
        return self.root / ".build"

    def parallel_template(self, assignment):
        """``.build/parallel-template/<assignment>/``: the scratch course that parallel grading copies per student."""
        return self.scratch / "parallel-template" / assignment

    def _under(self, top, student, assignment):
        path = self.root / top
        if student is not None:
            path = path / student
        if assignment is not None:
            path = path / assignment
        return path
