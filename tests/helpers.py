"""Helpers of several test modules: tiny nbgrader notebooks, folder comparison, feedback previews, the class
summary checked against the gradebook."""

import filecmp
import fnmatch
import os
from pathlib import Path

import nbformat
import nbgrader
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config.loader import PyFileConfigLoader

from coursetools.grading import report, summary
from coursetools.settings import CACHE_PATTERNS, COURSE


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


def feedback_html(notebook, source_folder, config=None, score=0.0, max_score=0.0):
    """The feedback page of the notebook file ``notebook`` as ``nbgrader generate_feedback`` makes it with ``config`` (default:
    the course's ``nbgrader_config.py``), less the gradebook's scores: for tests and previews.
    ``source_folder`` is the instructor's ``source/<assignment>/`` (its Markdown is trusted, its figures embedded)."""
    if config is None:
        config = PyFileConfigLoader(COURSE.config.name, path=str(COURSE.root)).load_config()
    config = config.copy()
    config.HTMLExporter.template_name = "feedback"  # as GenerateFeedback sets it
    config.HTMLExporter.extra_template_paths = [str(Path(nbgrader.__file__).resolve().parent / "server_extensions" /
                                                    "formgrader" / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=config)
    for pp in config.GenerateFeedback.preprocessors:
        if "GetGrades" not in str(pp):  # it needs a gradebook
            exporter.register_preprocessor(pp)  # as nbgrader's converters do (enabled by the preprocessor itself)
    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # what GetGrades would add
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            meta.setdefault("score", 0.0)
            meta.setdefault("points", 0.0)
    resources = {"nbgrader": {"notebook": notebook.stem, "assignment": Path(source_folder).name, "student": "",
                              "score": score, "max_score": max_score, "late_penalty": 0,
                              "source_folder": str(source_folder)},
                 "metadata": {"path": str(notebook.parent)}}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return page


def summary_checked_against_gradebook(course, assignment):
    """``(class summary, {student: total})`` of ``course``, the totals read straight from the gradebook; asserts
    that the summary's totals and every test cell's pass rate are the gradebook's."""
    s = summary.class_summary(course, assignment)
    rows = report.cell_scores(course, assignment)
    totals = {}
    for row in rows:
        totals[row.student] = totals.get(row.student, 0.0) + row.score
    assert s.totals == totals
    for cell, passed, graded in s.pass_rates:
        assert graded == len(totals)
        assert passed == sum(1 for row in rows if row.cell == cell and row.score == row.max_score), cell
    return s, totals
