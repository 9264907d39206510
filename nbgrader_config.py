"""nbgrader configuration of the Dinosaurus Island course.

Course facts (course id, limits) come from ``coursetools/settings.py`` so that
nbgrader and the course's own commands always agree. Run nbgrader from this
folder (the course root) with the course's virtual environment activated.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coursetools import settings  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = settings.COURSE_ID
# Files that never travel with an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".DS_Store", "feedback"]

# What students see in place of a solution block.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Grading: a wall-clock limit per cell; restore graded cells a student deleted.
c.Execute.timeout = settings.CELL_TIMEOUT_S
c.Execute.interrupt_on_timeout = True
c.OverwriteCells.add_missing_cells = True
