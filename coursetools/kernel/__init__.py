"""Code that runs inside the student's sandboxed kernel. Nothing here is trusted once it runs there.

* :mod:`.launch` starts the kernel under resource limits (run as a script by
  the kernel's command line, inside the sandbox, before the kernel);
* :mod:`.stub` is sent into the kernel and answers the grader's requests
  (call a student's function, push or fetch variables);
* :mod:`.plaindata` is the only form in which values cross between the
  grader and the kernel; the grader decodes it with its own copy.

These modules import nothing from the rest of ``coursetools``: they must run
in a kernel that has only the Python standard library and numpy.
"""

from pathlib import Path

LAUNCHER = Path(__file__).resolve().parent / "launch.py"  # the script that starts every grading kernel

# What the course outside coursetools/security/ may use of this package (checked like security.SURFACE).
SURFACE = {"": ("LAUNCHER",)}
