"""The security core: what keeps a hostile submission from changing anything but its own grade.

A reviewer audits this package and :mod:`coursetools.kernel`; the rest of the
course calls it only through the surface below (docs/security.md, "The
security core", says what each part guarantees and which tests hold it).

* :mod:`.sandbox`: every grading kernel in bubblewrap (``SandboxedKernelMixin``,
  its ``Sandbox`` settings, ``check_available``, ``SandboxUnavailable``), with :mod:`.watchdog` (the
  memory cap across the sandbox's processes; ``ProcessTree``) and :mod:`.font_cache` (a
  read-only font list for the kernel);
* :mod:`.trusted_tests`: graded test cells run in the grader, calling the
  student's functions in the kernel through :mod:`.proxy` with plain data
  (``TrustedTestsMixin``); the kernel's client refuses oversized messages
  before they are decoded (:mod:`.channels`, ``BoundedKernelClient``);
* :mod:`.untrusted`: a submission's files: plain files only (``safe_copy``,
  ``sweep``, ``scan``, ``notebook_problem``, ``notes``);
* :mod:`.gradebook_guard`: only the grader writes the gradebook
  (``GradebookGuard``, ``GradebookError``, ``GradebookTampered``);
* :mod:`.hidden_tests` and :mod:`.feedback_html`: no hidden-test line and no
  script reach a student's or a TA's browser through feedback
  (``hide_in_cell``, ``hidden_lines``, ``find_encoded``, ``strip_ansi``,
  ``MIN_SECRET_LEN``; ``clean_notebook``, ``clean_autograded``,
  ``clean_student_html``, ``instructor_markdown``, ``is_nbgrader_file``).

Nothing here imports the course's runners, plugins or command line.
"""

# The names the rest of the course may use, by module: the whole surface. A test checks that code outside
# coursetools/security/ and coursetools/kernel/ uses no other name, and that docs/security.md lists these.
SURFACE = {
    "sandbox": ("Sandbox", "SandboxedKernelMixin", "SandboxUnavailable", "check_available"),
    "watchdog": ("ProcessTree",),
    "font_cache": ("font_cache",),
    "trusted_tests": ("TrustedTestsMixin", "TrustedSetupError", "refuse_disabled_asserts"),
    "channels": ("BoundedKernelClient",),
    "untrusted": ("safe_copy", "sweep", "scan", "notebook_problem", "notes"),
    "gradebook_guard": ("GradebookGuard", "GradebookError", "GradebookTampered"),
    "hidden_tests": ("hide_in_cell", "hidden_lines", "find_encoded", "strip_ansi", "MIN_SECRET_LEN"),
    "feedback_html": ("clean_notebook", "clean_autograded", "clean_student_html", "clean_mathml", "instructor_markdown",
                      "is_nbgrader_file", "is_test_cell", "test_cell_label", "tested_function"),
}
