"""Build the student release: copy the shared files, then run nbgrader.

``python -m coursetools release`` does, for every assignment of
:data:`coursetools.settings.ASSIGNMENTS`:

1. copy the top-level sources of truth it ships (``utils/``, files under
   ``data/`` or ``models/``) into ``source/<assignment>/``, replacing the old
   copies, so that the released folder is self-contained;
2. run ``nbgrader generate_assignment <assignment> --force``, which strips the
   solutions and hidden tests into ``release/<assignment>/``.

Nothing under ``source/<assignment>/`` other than those copies is touched.
"""

import filecmp
import fnmatch
import os
import shutil
from pathlib import Path

from .course import ignore_caches, run_nbgrader
from .settings import ASSIGNMENTS, CACHE_PATTERNS, ROOT


class ReleaseError(RuntimeError):
    """The release could not be built; the message says what to fix."""


def _ignored(name):
    return any(fnmatch.fnmatch(name, pattern) for pattern in CACHE_PATTERNS)


def shared_copies(name, root=ROOT):
    """Pairs ``(top-level path, its copy inside source/<name>/)`` for an assignment."""
    spec = ASSIGNMENTS[name]
    return [(Path(root) / rel, Path(root) / "source" / name / rel) for rel in spec.shared]


def shared_folders(name, root=ROOT):
    """The top folders of the shared copies in ``source/<name>/`` (e.g. ``utils``, ``data``)."""
    tops = {Path(rel).parts[0] for rel in ASSIGNMENTS[name].shared if len(Path(rel).parts) > 1}
    return [Path(root) / "source" / name / top for top in sorted(tops)]


def sync_shared(name, root=ROOT):
    """Copy the shared files of assignment ``name`` into ``source/<name>/``.

    The folders that hold the copies are emptied first, so a file that is no
    longer shared does not linger in the release.
    """
    copies = shared_copies(name, root)
    for src, _ in copies:
        if not src.exists():
            raise ReleaseError(
                f"{src.relative_to(root)} is missing, but assignment {name!r} ships it. "
                "Restore it from git, or build it with the command that makes it (see README)."
            )
    for folder in shared_folders(name, root):
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
    for src, dst in copies:
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        elif dst.exists() or dst.is_symlink():
            dst.unlink()
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore_caches)
        else:
            shutil.copy2(src, dst)


def stale_copies(name, root=ROOT):
    """Shared copies in ``source/<name>/`` that differ from the top-level files, or are not shared."""
    copies = shared_copies(name, root)
    stale = [
        str(dst.relative_to(root))
        for src, dst in copies
        if not dst.exists() or tree_differences(src, dst)
    ]
    expected = set()
    for _, dst in copies:
        expected.update({dst} if dst.is_file() or not dst.exists() else {dst / f for f in tree_files(dst)})
    for folder in shared_folders(name, root):
        for rel in tree_files(folder) if folder.is_dir() else []:
            if folder / rel not in expected:
                stale.append(str((folder / rel).relative_to(root)))
    return stale


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
        sync_shared(name, root)
        run_nbgrader(["generate_assignment", name, "--force"], root)
        log(f"released {name} -> {(root / 'release' / name).relative_to(root)}/")
    return names
