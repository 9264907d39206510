"""Course tooling for Dinosaurus Island: release build, grading, reports, feedback.

One audience per sub-package (docs/architecture.md): :mod:`.grading` (the grader),
:mod:`.plugins` (what nbgrader loads), :mod:`.security` (the security core a reviewer
audits), :mod:`.kernel` (what runs inside the student's kernel); the modules at the top
level know the course folder (:mod:`.settings`, :mod:`.layout`, :mod:`.course`,
:mod:`.release`, :mod:`.solution`, :mod:`.figures`) and the command line (:mod:`.cli`).

Notebooks never import this package; students never receive it.
"""
