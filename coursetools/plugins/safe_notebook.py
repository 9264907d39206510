"""What nbgrader loads so that the graded notebook it writes is safe to open, whoever opens it.

``nbgrader autograde`` writes ``autograded/<student>/<assignment>/`` with every
output the submission produced; the formgrader shows that notebook to a TA with
nbconvert and no sanitiser. :class:`SanitizeAutograded`, the last step but one
of ``Autograde.autograde_preprocessors`` in ``nbgrader_config.py`` (after the
scores are saved), cleans it with
:func:`coursetools.security.feedback_html.clean_autograded`: no script, event
handler, SVG, widget state or borrowed page class reaches a TA's browser, while
the instructor's own Markdown cells stay as written.
"""

from nbgrader.preprocessors import NbGraderPreprocessor

from ..security.feedback_html import clean_autograded, instructor_markdown
from .feedback import source_folder_of


class SanitizeAutograded(NbGraderPreprocessor):
    """Make the autograded notebook safe for the formgrader, nbconvert and JupyterLab (see the module)."""

    def preprocess(self, nb, resources):
        folder = source_folder_of(self, resources)
        notebook = (resources.get("nbgrader") or {}).get("notebook")
        trusted = instructor_markdown(folder, notebook) if folder and notebook else set()
        changed = clean_autograded(nb, trusted)
        if changed:
            student = (resources.get("nbgrader") or {}).get("student")
            self.log.info("%s: %d cell(s) of the graded copy made safe to display", student, changed)
        return nb, resources
