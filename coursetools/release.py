"""Build the student release: ``course release`` (``python -m coursetools release``).

For every assignment of :data:`coursetools.settings.ASSIGNMENTS`:

1. copy what it ships (``utils`` modules, data, models: its ``shared`` list)
   from the repository's top level into ``source/<assignment>/``
   (:func:`coursetools.course.copy_shared`; those copies are not in git);
2. run ``nbgrader generate_assignment <assignment> --force``, which strips the
   solutions and hidden tests into ``release/<assignment>/``.

``release/`` is committed: a test checks that it equals what this command builds.
"""

from pathlib import Path

from .course import CourseError, copy_shared, run_nbgrader
from .layout import CourseLayout
from .settings import ASSIGNMENTS, ROOT


class ReleaseError(CourseError):
    """The release could not be built; the message says what to fix."""


def available_assignments(root=ROOT):
    """Assignments whose source notebooks exist (optional ones may not be built yet)."""
    return [
        name
        for name, spec in ASSIGNMENTS.items()
        if all((CourseLayout(root).source(name) / nb).exists() for nb in spec.notebooks)
    ]


def build_release(names=None, root=ROOT, log=print):
    """Sync shared files and run ``nbgrader generate_assignment`` for ``names`` (default: all available)."""
    root, course = Path(root), CourseLayout(root)
    names = list(names) if names else available_assignments(root)
    unknown = [n for n in names if n not in ASSIGNMENTS]
    if unknown:
        raise ReleaseError(f"unknown assignment(s): {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    for name in names:
        copy_shared(name, course.source(name))
        run_nbgrader(["generate_assignment", name, "--force"], root)
        log(f"released {name} -> {course.release(name).relative_to(root)}/")
    return names
