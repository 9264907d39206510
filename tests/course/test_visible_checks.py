"""Every visible graded test cell reads like nbgrader's example course: a docstring, then one call.

The logic lives in ``utils/checks.py`` (shipped to students, readable); the cell is at most
:data:`MAX_LINES` lines: a docstring that says what is checked, then one call of a ``check_*`` function
of that module (issue 22). In a release every graded test cell is checked (a hidden test cell is released
as its docstring and a print); in the source notebook, the cells without hidden tests.
"""

import ast

import nbformat
import pytest

from coursetools.security.hidden_tests import split_hidden
from coursetools.settings import ASSIGNMENTS, COURSE
from utils import checks

MAX_LINES = 5


def graded_test_cells(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield meta["grade_id"], cell.source


def notebooks(layout_folder):
    return [pytest.param(layout_folder(name) / nb, id=f"{name}/{nb}")
            for name, spec in ASSIGNMENTS.items() for nb in spec.notebooks]


def assert_short_and_documented(grade_id, source):
    lines = source.rstrip("\n").splitlines()
    assert len(lines) <= MAX_LINES, f"{grade_id}: {len(lines)} lines, at most {MAX_LINES}"
    body = ast.parse(source).body
    assert body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
        and isinstance(body[0].value.value, str), f"{grade_id}: does not open with a docstring"
    return body[1:]


@pytest.mark.parametrize("path", notebooks(COURSE.release))
def test_every_released_graded_test_cell_is_a_docstring_and_a_few_lines(path):
    for grade_id, source in graded_test_cells(path):
        assert_short_and_documented(grade_id, source)


@pytest.mark.parametrize("path", notebooks(COURSE.source))
def test_every_visible_test_cell_calls_one_check_of_utils_checks(path):
    cells = [(gid, src) for gid, src in graded_test_cells(path) if not split_hidden(src)[1]]
    for grade_id, source in cells:
        rest = assert_short_and_documented(grade_id, source)
        calls = [s for s in rest if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
        assert len(rest) == len(calls) == 1, f"{grade_id}: after the docstring, one call (found {ast.dump(rest[0]) if rest else 'nothing'})"
        name = calls[0].value.func
        assert isinstance(name, ast.Name) and name.id in checks.__all__, f"{grade_id}: calls {ast.unparse(name)}"


def test_the_graded_notebook_imports_the_checks_in_its_locked_imports_cell():
    path = COURSE.source("dinosaurus_island") / ASSIGNMENTS["dinosaurus_island"].notebooks[0]
    nb = nbformat.read(path, as_version=4)
    imports = next(c for c in nb.cells if c.get("id") == "imports")
    assert imports.metadata["nbgrader"]["locked"]
    assert f"from utils.checks import {', '.join(sorted(checks.__all__))}" in imports.source
    visible = [gid for gid, src in graded_test_cells(path) if not split_hidden(src)[1]]
    assert visible == ["test-clip-published", "test-sample-published", "test-optimize-published", "test-model-published"]
