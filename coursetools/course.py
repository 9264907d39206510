"""Course folders: running nbgrader in one, making scratch ones, copying what an assignment ships.

A *course folder* is what nbgrader calls the course root (its paths:
:class:`coursetools.layout.CourseLayout`). The repository is one; the demo, parallel grading, the tests,
the JupyterHub launcher and the submission zoo make scratch ones with
:func:`make_course`, so that they never touch the real gradebook.

``source/<assignment>/`` holds only the instructor's notebooks (and their
figures) in git. What an assignment ships besides (its ``shared`` list in
:mod:`coursetools.settings`: ``utils`` modules, data, models) is copied from the
repository's top level by :func:`copy_shared` right before nbgrader needs it,
so the top-level files are the only copy anyone edits.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .layout import CourseLayout
from .settings import ASSIGNMENTS, CACHE_PATTERNS, ROOT

# The config of a scratch course: the repository's own nbgrader_config.py, loaded as is.
CONFIG_STUB = "c = get_config()  # noqa: F821\nload_subconfig({config!r})  # noqa: F821\n"

ignore_caches = shutil.ignore_patterns(*CACHE_PATTERNS)


class CourseError(RuntimeError):
    """A course folder cannot be built or used; the message says what to fix."""


class NbgraderError(CourseError):
    """An nbgrader command failed; the message holds the command and the end of its output."""


def tool_env():
    """Environment for nbgrader subprocesses: this Python's ``bin/`` first on PATH.

    nbgrader shells out to ``alembic``, which lives next to the interpreter.
    """
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(args, course, check=True):
    """Run ``nbgrader <args>`` in the course folder ``course``; return the CompletedProcess."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=course, env=tool_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NbgraderError(
            f"`nbgrader {' '.join(args)}` failed in {course} (exit {proc.returncode}):\n"
            + (proc.stderr or proc.stdout)[-3000:]
        )
    return proc


def shared_folders(name):
    """The top folders that hold what assignment ``name`` ships (e.g. ``utils``, ``data``): generated, never edited."""
    return sorted({Path(rel).parts[0] for rel in ASSIGNMENTS[name].shared if len(Path(rel).parts) > 1})


def copy_shared(name, folder, root=ROOT):
    """Copy what assignment ``name`` ships (its ``shared`` paths under ``root``) into ``folder``.

    The folders that hold the copies are emptied first, so a file that is no
    longer shared does not linger. Nothing is touched when a shared file is missing.
    """
    folder, root = Path(folder), Path(root)
    for rel in ASSIGNMENTS[name].shared:
        if not (root / rel).exists():
            raise CourseError(f"{rel} is missing, but assignment {name!r} ships it. "
                              "Restore it from git, or build it with the command that makes it (see README).")
    for top in shared_folders(name):
        if (folder / top).is_dir() and not (folder / top).is_symlink():
            shutil.rmtree(folder / top)
    for rel in ASSIGNMENTS[name].shared:
        src, dst = root / rel, folder / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore_caches)
        else:
            shutil.copy2(src, dst)


def make_course(dest, assignments=None, root=ROOT):
    """A fresh course folder at ``dest`` that uses the config and sources of the course ``root``.

    ``assignments``: the names whose ``source/<name>/`` folder is copied
    (default: every assignment of the course); each gets the files it ships
    (:func:`copy_shared`, from the repository). Anything at ``dest`` is removed first.
    """
    dest, root = Path(dest), CourseLayout(root)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    new = CourseLayout(dest)
    new.config.write_text(CONFIG_STUB.format(config=str(root.config)))
    names = assignments if assignments is not None else [n for n in ASSIGNMENTS if root.source(n).is_dir()]
    for name in names:
        shutil.copytree(root.source(name), new.source(name), ignore=ignore_caches)
        copy_shared(name, new.source(name))
    return dest


def add_submission(course, student, assignment, folder):
    """Copy an assignment folder as ``submitted/<student>/<assignment>/`` of ``course``."""
    dest = CourseLayout(course).submitted(student, assignment)
    shutil.copytree(folder, dest, ignore=ignore_caches)
    return dest
