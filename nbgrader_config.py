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

# --- Caps for grading kernels (coursetools/kernel_limits.py; docs/grading.md) ---
# GradingExecute replaces nbgrader's Execute: kernels start under setrlimit
# limits, output per cell is capped, and monkeypatched numpy/builtins/utils
# functions are restored before every graded test cell. Execute.timeout above
# still applies per cell (it is inherited by GradingExecute).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "coursetools.sanitize.DropEmptyNbgraderMetadata",  # nbgrader 0.9 crashes on duplicated cells without it
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "coursetools.kernel_limits.GradingExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.CappedKernelManager.memory_limit_bytes = 4 * 1024**3  # address space of a grading kernel
c.CappedKernelManager.cpu_limit_s = 3600  # CPU seconds of a grading kernel (backstop)
c.CappedKernelManager.file_size_limit_bytes = 1024**3  # largest file a grading kernel may write
c.CappedKernelManager.blas_threads = 1  # one BLAS thread per kernel (OpenBLAS reserves memory per thread)
c.GradingExecute.max_output_bytes = 10 * 1024**2  # output kept per cell
c.GradingExecute.guard_tests = True

# --- Feedback without hidden tests (coursetools/feedback.py) ---
# The notebook's figures (images/ next to it) go inside the feedback HTML: release_feedback sends the .html only.
c.HTMLExporter.embed_images = True
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursetools.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# --- LMS downloads: `nbgrader zip_collect <assignment>` (docs/grading.md) ---
# Canvas-style file names inside the zip in downloaded/<assignment>/archive/:
#   <login>_[LATE_]<user id>_<submission id>_<original name>[-<n>].ipynb
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.zipcollect.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9.\-]+)_(?:LATE_|late_)?\d+_\d+_(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb$"
)
