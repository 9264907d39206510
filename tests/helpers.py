"""Helpers of several test modules: a scratch copy of the course, tiny nbgrader notebooks."""

import shutil
from pathlib import Path

from nbformat.v4 import new_code_cell, new_notebook

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


def graded_cell(grade_id, source, grade=True, solution=False, locked=True, points=1):
    cell = new_code_cell(source)
    meta = {"grade_id": grade_id, "grade": grade, "solution": solution, "locked": locked, "schema_version": 3}
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def release_notebook():
    nb = new_notebook(cells=[
        graded_cell("answer", "def f():\n    raise NotImplementedError()", grade=False, solution=True, locked=False),
        graded_cell("test-f", "assert f() == 1"),
        graded_cell("test-g", "assert f() + 1 == 2"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
