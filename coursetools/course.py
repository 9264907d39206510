"""The course folder: its gradebook, running nbgrader in it, and scratch courses.

A *course folder* is what nbgrader calls the course root: ``nbgrader_config.py``,
``source/``, ``release/``, ``submitted/``, ``autograded/``, ``feedback/`` and
``gradebook.db``. The repository is one; the demo, parallel grading, the tests,
the JupyterHub launcher and the submission zoo make scratch ones with
:func:`make_course`, so that they never touch the real gradebook.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .settings import CACHE_PATTERNS, ROOT

# The config of a scratch course: the repository's own nbgrader_config.py, loaded as is.
CONFIG_STUB = "c = get_config()  # noqa: F821\nload_subconfig({config!r})  # noqa: F821\n"

ignore_caches = shutil.ignore_patterns(*CACHE_PATTERNS)


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds the command and the end of its output."""


def gradebook_url(course):
    """The SQLAlchemy URL of the gradebook of ``course``."""
    return f"sqlite:///{(Path(course) / 'gradebook.db').resolve()}"


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


def make_course(dest, assignments=None, root=ROOT):
    """A fresh course folder at ``dest`` that uses the course's config and sources.

    ``assignments``: the names whose ``source/<name>/`` folder is copied
    (default: all of them). Anything at ``dest`` is removed first.
    """
    dest, root = Path(dest), Path(root)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "nbgrader_config.py").write_text(CONFIG_STUB.format(config=str(root / "nbgrader_config.py")))
    names = assignments if assignments is not None else sorted(p.name for p in (root / "source").iterdir() if p.is_dir())
    for name in names:
        shutil.copytree(root / "source" / name, dest / "source" / name, ignore=ignore_caches)
    return dest


def add_submission(course, student, assignment, folder):
    """Copy an assignment folder as ``submitted/<student>/<assignment>/`` of ``course``."""
    dest = Path(course) / "submitted" / student / assignment
    shutil.copytree(folder, dest, ignore=ignore_caches)
    return dest
