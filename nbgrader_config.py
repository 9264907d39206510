"""nbgrader configuration of the Dinosaurus Island course.

Course facts (course id, limits) come from ``coursetools/settings.py`` so that
nbgrader and the course's own commands always agree. Run nbgrader from this
folder (the course root) with the course's virtual environment activated
(``coursetools`` is installed in it: ``pip install -e .``).
"""

from coursetools import settings

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = settings.COURSE_ID
# Files that never travel with an assignment.
c.CourseDirectory.ignore = [*settings.CACHE_PATTERNS, "feedback"]

# What students see in place of a solution block.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Grading: a wall-clock limit per cell; restore graded cells a student deleted.
c.Execute.timeout = settings.CELL_TIMEOUT_S
c.Execute.interrupt_on_timeout = True
c.OverwriteCells.add_missing_cells = True

# --- Caps for grading kernels (coursetools/plugins/execute.py; docs/grading.md) ---
# GradingExecute replaces nbgrader's Execute: kernels start under setrlimit
# limits, output per cell is capped, and during autograde every graded test
# cell runs in the grader, calling the student's functions in the kernel with
# plain data (docs/grading.md, "Trusted verdicts"). Execute.timeout above
# still applies per cell (it is inherited by GradingExecute).
c.Autograde.sanitize_preprocessors = [
    "coursetools.plugins.sandbox.DropUntrustedFiles",  # symlinked notebook: invalid; links never kept (docs/security.md)
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "coursetools.plugins.sanitize.DropEmptyNbgraderMetadata",  # nbgrader 0.9 crashes on duplicated cells without it
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "coursetools.plugins.execute.GradingExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "coursetools.plugins.sandbox.DropUntrustedFiles",  # before nbgrader's permission step
]
c.CappedKernelManager.memory_limit_bytes = settings.KERNEL_MEMORY_LIMIT_BYTES
c.CappedKernelManager.cpu_limit_s = settings.KERNEL_CPU_LIMIT_S
c.CappedKernelManager.file_size_limit_bytes = settings.KERNEL_FILE_SIZE_LIMIT_BYTES
c.CappedKernelManager.blas_threads = settings.KERNEL_BLAS_THREADS
c.GradingExecute.max_output_bytes = settings.MAX_OUTPUT_BYTES
c.GradingExecute.trusted_tests = True  # graded tests run in the grader (autograde only; Validate unchanged)

# --- Feedback without hidden tests (coursetools/plugins/feedback.py) ---
# The notebook's figures (images/ next to it) go inside the feedback HTML: release_feedback sends the .html only.
c.HTMLExporter.embed_images = True
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursetools.plugins.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# --- LMS downloads: `nbgrader zip_collect <assignment>` (docs/grading.md) ---
# Canvas-style file names inside the zip in downloaded/<assignment>/archive/:
#   <login>_[LATE_]<user id>_<submission id>_<original name>[-<n>].ipynb
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.zipcollect.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9.\-]+)_(?:LATE_|late_)?\d+_\d+_(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb$"
)
