"""The one place for the course's facts: paths, course id, assignments, limits.

``nbgrader_config.py`` reads its values from here, so nbgrader and the
course's own commands always agree.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from .layout import CourseLayout

ROOT = Path(__file__).resolve().parent.parent
# The repository is a course folder; the paths inside any course folder come from a CourseLayout.
COURSE = CourseLayout(ROOT)
DATA_DIR = ROOT / "data"
MODELS_DIR = ROOT / "models"
SOURCE_DIR = COURSE.source()

# What the grader works out once per machine and package versions (a fresh gradebook's schema): never
# in a course folder, never seen by a kernel (the sandbox does not mount the home folder).
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dinosaurus-course"

COURSE_ID = "dinosaurus-island"
DEFAULT_ASSIGNMENT = "dinosaurus_island"  # what the grading commands work on unless told otherwise

# Never copied, never compared, never released: what Python and Jupyter leave behind.
CACHE_PATTERNS = ("__pycache__", ".ipynb_checkpoints", "*.pyc", ".DS_Store")

# Grading limits (nbgrader_config.py and coursetools/plugins/execute.py apply them).
GiB, MiB = 1024**3, 1024**2
CELL_TIMEOUT_S = 120  # wall-clock seconds per cell while grading
SUBMISSION_TIMEOUT_S = 1800  # wall-clock seconds for one whole submission (all its cells)
KERNEL_MEMORY_LIMIT_BYTES = 4 * GiB  # address space of one grading kernel
KERNEL_CPU_LIMIT_S = 3600  # CPU seconds of one grading kernel (a backstop; cell timeouts come first)
KERNEL_FILE_SIZE_LIMIT_BYTES = 1 * GiB  # largest file a grading kernel may write
KERNEL_BLAS_THREADS = 1  # one BLAS thread per kernel (OpenBLAS reserves memory per thread)
MAX_OUTPUT_BYTES = 10 * MiB  # output kept per cell
PROXY_MAX_PAYLOAD_BYTES = 64 * MiB  # one call's arguments or answer between grader and kernel (JSON text)


@dataclass(frozen=True)
class Assignment:
    """An nbgrader assignment: its folder under ``source/`` and what it ships.

    ``shared`` lists paths relative to the repository root (a folder or a
    file) that are copied into ``source/<name>/`` before nbgrader runs
    (:func:`coursetools.course.copy_shared`), so that the released folder is
    self-contained; the folders they sit in (``utils/``, ``data/``, ``models/``
    there) are generated, hold nothing else and are not in git.
    """

    name: str
    notebooks: tuple
    shared: tuple = field(default_factory=tuple)
    graded: bool = True
    packages: tuple = ()  # what a student installs to run it on a laptop (requirements.txt, at the lock's versions)


# The helper modules every notebook needs (`from utils import *`: the numpy RNN).
# Each assignment ships these plus the modules of its own.
CORE_UTILS = ("utils/__init__.py", "utils/rnn.py")
# The packages every notebook needs on a student's laptop (the release's requirements.txt; versions from the lock).
STUDENT_PACKAGES = ("jupyterlab", "ipywidgets", "numpy", "matplotlib", "tqdm")
STUDENT_REQUIREMENTS = "requirements.txt"  # written into source/<assignment>/ by `course release`, then released
LOCK_FILE = ROOT / "requirements.lock"

ASSIGNMENTS = {
    "dinosaurus_island": Assignment(
        name="dinosaurus_island",
        notebooks=("Dinosaurus_Island.ipynb",),
        shared=(*CORE_UTILS, "utils/stand_ins.py", "utils/checks.py", "data/dinos.txt"),
        packages=STUDENT_PACKAGES,
    ),
    # Optional, ungraded: the Keras 3 LSTM (issue "Writing like Shakespeare").
    "writing_like_shakespeare": Assignment(
        name="writing_like_shakespeare",
        notebooks=("Writing_Like_Shakespeare.ipynb",),
        shared=(*CORE_UTILS, "utils/shakespeare.py", "data/shakespeare.txt", "models/shakespeare_lstm.keras", "models/shakespeare_lstm.json"),
        graded=False,
        packages=(*STUDENT_PACKAGES, "tensorflow", "keras"),
    ),
    # Optional, ungraded: honest evaluation and a better name model (issue "Going further").
    "going_further": Assignment(
        name="going_further",
        notebooks=("Going_Further.ipynb",),
        shared=(*CORE_UTILS, "utils/name_eval.py", "utils/name_models.py", "utils/name_plots.py",
                "utils/ngram.py", "data/dinos.txt", "models/course_rnn.npz"),
        graded=False,
        packages=STUDENT_PACKAGES,
    ),
}
