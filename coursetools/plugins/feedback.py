"""What nbgrader loads to make feedback (``GenerateFeedback`` in ``nbgrader_config.py``).

``nbgrader generate_feedback`` turns the autograded notebook, student output
included, into the HTML that ``release_feedback`` hands to the student (and
that an instructor opens in the formgrader). The course plugs in, in order:

* :class:`SanitizeFeedback` (a preprocessor): outputs that show hidden-test
  code are replaced, then everything a submission wrote is made safe to
  render; the instructor's own Markdown cells are kept, their figures
  embedded; test cells get their names
  (:func:`coursetools.security.feedback_html.clean_notebook`).
* :class:`HideHiddenTests` (a preprocessor): the hidden tests' source, and the
  traceback frames and outputs that would show it, are removed
  (:func:`coursetools.security.hidden_tests.hide_in_cell`).
* The template ``templates/feedback/index.html.j2`` (:func:`template_basedirs`,
  found before nbgrader's own, so the formgrader's "generate feedback" uses it
  too) and the filters of :data:`FILTERS`: nbgrader's page, but first a
  summary of the score and of each failed test with its whole message and the
  student's function (``course_feedback_summary``), the instructor's formulas
  as MathML (``course_markdown_math``; no MathJax, nothing from the network),
  each test cell named, long messages wrapped, students' Markdown sanitised
  (``course_clean_html``); see :mod:`coursetools.plugins.feedback_page`.
* :func:`keep_only_notebook_html` (``GenerateFeedback.post_convert_hook``):
  only the notebooks' HTML, and nbgrader's own ``timestamp.txt`` and
  ``submission_secret.txt``, stay in ``feedback/<student>/<assignment>/``.
"""

import logging
import shutil
from pathlib import Path

import nbgrader
from nbgrader.preprocessors import NbGraderPreprocessor

from ..layout import CourseLayout
from ..security.feedback_html import clean_notebook, is_nbgrader_file
from ..security.hidden_tests import hide_in_cell

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"  # holds feedback/, found before nbgrader's own
FILTERS = {  # HTMLExporter.filters
    "course_clean_html": "coursetools.security.feedback_html.clean_student_html",
    "course_feedback_summary": "coursetools.plugins.feedback_page.feedback_summary",
    "course_markdown_math": "coursetools.plugins.feedback_page.instructor_markdown2html",
}
log = logging.getLogger("coursetools.feedback")


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test source, and tracebacks/outputs that would show it, from feedback."""

    def preprocess_cell(self, cell, resources, cell_index):
        if hide_in_cell(cell):
            self.log.debug("hid the hidden tests of cell %s", cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        return cell, resources


def source_folder_of(preprocessor, resources):
    """``source/<assignment>/`` of the course whose feedback is being made, or None."""
    nbg = resources.get("nbgrader") or {}
    if nbg.get("source_folder"):  # given by a preview that has no course folder (the tests)
        return Path(nbg["source_folder"])
    assignment = nbg.get("assignment")
    if not assignment:
        return None
    node = preprocessor
    while node is not None:  # the converter (GenerateFeedback) knows the course folder
        coursedir = getattr(node, "coursedir", None)
        if coursedir is not None:
            return Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        node = getattr(node, "parent", None)
    path = (resources.get("metadata") or {}).get("path")  # autograded/<student>/<assignment>
    return CourseLayout(Path(path).resolve().parents[2]).source(assignment) if path else None


class SanitizeFeedback(NbGraderPreprocessor):
    """Make an autograded notebook safe to render as feedback HTML (see :mod:`coursetools.security.feedback_html`).

    Listed before ``HideHiddenTests``: it needs the hidden tests' source to find outputs that show it."""

    def preprocess(self, nb, resources):
        notebook = (resources.get("nbgrader") or {}).get("notebook")
        redacted, labels = clean_notebook(nb, source_folder_of(self, resources), notebook)
        if redacted:
            self.log.warning("feedback: %d output(s) not shown: hidden test code, or produced after the hidden tests began",
                             redacted)
        resources["feedback_labels"] = labels
        return nb, resources


def keep_only_notebook_html(assignment=None, student=None, notebooks=(), **_):
    """``GenerateFeedback.post_convert_hook``: remove every file but ``<notebook>.html`` from the feedback folder.

    nbgrader copies every file of ``autograded/<student>/<assignment>/`` into
    ``feedback/<student>/<assignment>/``; those are files the kernel wrote.
    ``notebooks`` are the autograded notebooks' paths (``<course>/autograded/<student>/<assignment>/X.ipynb``).
    """
    if not notebooks:
        return
    first = Path(notebooks[0])
    folder = CourseLayout(first.parents[3]).feedback(first.parent.parent.name, first.parent.name)
    if not folder.is_dir():
        return
    keep = {Path(nb).stem + ".html" for nb in notebooks}
    for path in sorted(folder.iterdir()):
        if path.name in keep and path.is_file() and not path.is_symlink():
            continue
        if is_nbgrader_file(path):
            continue  # nbgrader's own files from submitted/: release_feedback reads them
        log.warning("feedback: removed %s (only the notebook's feedback page is released)", path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def template_basedirs():
    """``HTMLExporter.extra_template_basedirs``: ours (``feedback/``), then nbgrader's (its ``feedback/``,
    which ours replaces, and the formgrader's ``formgrade/``)."""
    nbgrader_templates = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
    return [str(TEMPLATE_DIR), str(nbgrader_templates)]
