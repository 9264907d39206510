"""Helpers for tests that need a scratch copy of the course."""

import shutil
from pathlib import Path

from coursetools.settings import ROOT

COURSE_PARTS = ("nbgrader_config.py", "coursetools", "utils", "data", "models", "source")


def copy_course(dest, parts=COURSE_PARTS):
    """Copy the course's sources of truth (no release/, no gradebook) into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    for part in parts:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest
