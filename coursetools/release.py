"""Build the student release: ``course release`` (``python -m coursetools release``).

For every assignment of :data:`coursetools.settings.ASSIGNMENTS`:

1. copy what it ships (``utils`` modules, data, models: its ``shared`` list)
   from the repository's top level into ``source/<assignment>/``
   (:func:`coursetools.course.copy_shared`; those copies are not in git);
2. run ``nbgrader generate_assignment <assignment> --force``, which strips the
   solutions and hidden tests into ``release/<assignment>/``.

``release/`` is committed: a test checks that it equals what this command builds.
"""

import filecmp
import fnmatch
import os
from pathlib import Path

from .course import CourseError, copy_shared, run_nbgrader
from .settings import ASSIGNMENTS, CACHE_PATTERNS, ROOT


class ReleaseError(CourseError):
    """The release could not be built; the message says what to fix."""


def _ignored(name):
    return any(fnmatch.fnmatch(name, pattern) for pattern in CACHE_PATTERNS)


def tree_files(path):
    """Relative paths of the files under ``path`` (or ``["."]`` for a file), caches ignored."""
    path = Path(path)
    if path.is_file():
        return ["."]
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for f in sorted(filenames):
            if not _ignored(f):
                out.append(str((Path(dirpath) / f).relative_to(path)))
    return sorted(out)


def tree_differences(a, b):
    """Relative paths that exist in only one of ``a`` and ``b`` or whose bytes differ."""
    fa, fb = set(tree_files(a)), set(tree_files(b))
    diffs = sorted(fa ^ fb)
    for rel in sorted(fa & fb):
        pa = Path(a) if rel == "." else Path(a) / rel
        pb = Path(b) if rel == "." else Path(b) / rel
        if not filecmp.cmp(pa, pb, shallow=False):
            diffs.append(rel)
    return diffs


def available_assignments(root=ROOT):
    """Assignments whose source notebooks exist (optional ones may not be built yet)."""
    return [
        name
        for name, spec in ASSIGNMENTS.items()
        if all((Path(root) / "source" / name / nb).exists() for nb in spec.notebooks)
    ]


def build_release(names=None, root=ROOT, log=print):
    """Sync shared files and run ``nbgrader generate_assignment`` for ``names`` (default: all available)."""
    root = Path(root)
    names = list(names) if names else available_assignments(root)
    unknown = [n for n in names if n not in ASSIGNMENTS]
    if unknown:
        raise ReleaseError(f"unknown assignment(s): {', '.join(unknown)}; known: {', '.join(ASSIGNMENTS)}")
    for name in names:
        copy_shared(name, root / "source" / name)
        run_nbgrader(["generate_assignment", name, "--force"], root)
        log(f"released {name} -> {(root / 'release' / name).relative_to(root)}/")
    return names
