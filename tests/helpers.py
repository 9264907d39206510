"""Helpers of several test modules: tiny nbgrader notebooks."""

from nbformat.v4 import new_code_cell, new_notebook


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
