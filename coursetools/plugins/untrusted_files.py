"""What nbgrader loads to keep a submission's links and special files out of grading.

:class:`DropUntrustedFiles` is listed first among the ``Autograde``
sanitize steps and last among its autograde steps in ``nbgrader_config.py``,
so it holds for ``course grade``, plain ``nbgrader autograde`` and the
formgrader alike. The files are judged by :mod:`coursetools.security.untrusted`.
"""

import os

from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from ..security import untrusted


class UntrustedFilesError(ValueError):
    """A submitted notebook is not a plain file (a symlink, a fifo...): the submission is invalid."""


class DropUntrustedFiles(NbGraderPreprocessor):
    """nbgrader step: what the student submitted and what the kernel left are untrusted (:mod:`coursetools.security.untrusted`).

    Listed first among ``Autograde.sanitize_preprocessors`` and last among
    ``Autograde.autograde_preprocessors`` in ``nbgrader_config.py``, so it
    holds for plain ``nbgrader autograde`` and the formgrader too:

    - a submitted notebook that is a symlink (to a classmate's work) or any
      other non-regular file stops the grading of that student with the reason;
    - every entry of ``submitted/<student>/<assignment>/`` that is a link, a
      special file or oversized is removed from ``autograded/`` (nbgrader's
      own copy followed the link: the target's content never stays there);
    - after the kernel ran, the ``autograded/`` folder is swept again, before
      nbgrader's permission step could ``chmod`` through a link.
    """

    def preprocess(self, nb, resources):
        meta = resources.get("nbgrader", {})
        student, assignment, notebook = meta.get("student"), meta.get("assignment"), meta.get("notebook")
        if not (student and assignment):
            return nb, resources
        cd = CourseDirectory(config=self.config)
        submitted = cd.format_path(cd.submitted_directory, student, assignment)
        autograded = cd.format_path(cd.autograded_directory, student, assignment)
        if notebook:
            problem = untrusted.notebook_problem(submitted, f"{notebook}.ipynb")
            if problem:
                raise UntrustedFilesError(problem)
        for d in untrusted.scan(submitted):
            target = os.path.join(autograded, d.path)
            if os.path.lexists(target) and not os.path.isdir(target) or os.path.islink(target):
                os.unlink(target)
                self.log.warning("%s: %s", student, d)
        for d in untrusted.sweep(autograded):
            self.log.warning("%s: %s", student, d)
        return nb, resources
