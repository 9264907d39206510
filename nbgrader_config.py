"""nbgrader configuration of the Dinosaurus Island course.

Course facts (course id, limits) come from ``coursetools/settings.py`` so that
nbgrader and the course's own commands always agree. Run nbgrader from this
folder (the course root) with the course's virtual environment activated
(``coursetools`` is installed in it: ``pip install -e .``).
"""

from coursetools import settings
from coursetools.plugins import validate

# `nbgrader validate` shows each failing test's whole message first (coursetools/plugins/validate.py).
validate.install()

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

# --- Caps for grading kernels (coursetools/plugins/execute.py; docs/grading.md, docs/architecture.md) ---
# GradingExecute replaces nbgrader's Execute: kernels start under setrlimit
# limits, output per cell is capped, and during autograde every graded test
# cell runs in the grader, calling the student's functions in the kernel with
# plain data (docs/grading.md, "Trusted verdicts"). Execute.timeout above
# still applies per cell (it is inherited by GradingExecute).
c.Autograde.sanitize_preprocessors = [
    "coursetools.plugins.untrusted_files.DropUntrustedFiles",  # symlinked notebook: invalid; links never kept (docs/security.md)
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "coursetools.plugins.notebook_metadata.DropEmptyNbgraderMetadata",  # nbgrader 0.9 crashes on duplicated cells without it
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
    "coursetools.plugins.safe_notebook.SanitizeAutograded",  # the formgrader shows autograded/ unsanitised
    "coursetools.plugins.untrusted_files.DropUntrustedFiles",  # before nbgrader's permission step
]
c.CappedKernelManager.memory_limit_bytes = settings.KERNEL_MEMORY_LIMIT_BYTES
c.CappedKernelManager.cpu_limit_s = settings.KERNEL_CPU_LIMIT_S
c.CappedKernelManager.file_size_limit_bytes = settings.KERNEL_FILE_SIZE_LIMIT_BYTES
c.CappedKernelManager.blas_threads = settings.KERNEL_BLAS_THREADS
c.GradingExecute.max_output_bytes = settings.MAX_OUTPUT_BYTES
c.GradingExecute.call_max_bytes = settings.PROXY_MAX_PAYLOAD_BYTES  # the kernel's client refuses larger replies
c.GradingExecute.trusted_tests = True  # graded tests run in the grader (autograde only; Validate unchanged)

# --- Feedback (coursetools/plugins/feedback.py, coursetools/security/feedback_html.py; docs/security.md) ---
# SanitizeFeedback comes first: it needs the hidden tests' source to remove other outputs that show them
# (base64 and other encodings too); then HideHiddenTests removes the hidden tests. The course's feedback
# template (test cells named, long messages wrapped, nothing loaded from a CDN) is found before nbgrader's;
# student HTML passes the course_clean_html filter. nbgrader copies every file the kernel left next to the
# notebook into feedback/: the post-convert hook keeps only the notebooks' HTML.
from coursetools.plugins import feedback  # noqa: E402

c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursetools.plugins.feedback.SanitizeFeedback",
    "coursetools.plugins.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.GenerateFeedback.post_convert_hook = "coursetools.plugins.feedback.keep_only_notebook_html"
c.HTMLExporter.extra_template_basedirs = feedback.template_basedirs()
c.HTMLExporter.filters = feedback.FILTERS

# --- The exchange: `nbgrader collect` (and the formgrader's Collect button) (coursetools/plugins/exchange.py) ---
# A submission is the Unix owner's, whatever its folder's name says; its time is the server's; only plain
# files are copied, never through a link (docs/security.md, "The exchange").
c.ExchangeFactory.collect = "coursetools.plugins.exchange.OwnerCollect"

# --- LMS downloads: `nbgrader zip_collect <assignment>` (coursetools/plugins/zip_collect.py; docs/grading.md) ---
# Safe extraction (regular files only, mode 0644, nothing outside extracted/, no nested archives, size and
# count caps) and collection (student ids and file names validated; of several uploads the latest is kept).
# Canvas-style file names inside the zip in downloaded/<assignment>/archive/:
#   <login>_[LATE_]<user id>_<submission id>_<original name>[-<n>].ipynb   (-<n>: the n-th re-upload)
c.ZipCollectApp.extractor_plugin = "coursetools.plugins.zip_collect.SafeExtractorPlugin"
c.ZipCollectApp.collector_plugin = "coursetools.plugins.zip_collect.SafeCollectorPlugin"
c.SafeCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[^/_]+)_(?:LATE_|late_)?\d+_\d+_(?P<file_id>[^/]+?)(?:-(?P<upload>\d+))?\.ipynb$"
)
