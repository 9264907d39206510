"""The nbgrader plugins one by one: the kernel launcher and its caps, the grading executor, the
kernel stub, feedback without hidden tests, the sanitizing step (fast; the zoo runs them together)."""

import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets.config import Config

from coursetools.grading.report import _error_status
from coursetools.grading.feedback import scan_for_leaks
from coursetools.kernel import LAUNCHER
from coursetools.plugins.execute import CappedKernelManager, GradingExecute
from coursetools.security.hidden_tests import PLACEHOLDER_FRAME, PLACEHOLDER_SOURCE, hide_in_cell, hidden_lines
from coursetools.plugins.notebook_metadata import DropEmptyNbgraderMetadata
from tests.helpers import graded_cell

PY = sys.executable


def test_launcher_sets_the_limits_then_runs_the_command():
    code = ("import os, resource; print(resource.getrlimit(resource.RLIMIT_AS)[0], "
            "resource.getrlimit(resource.RLIMIT_CPU)[0], os.environ['OPENBLAS_NUM_THREADS'])")
    out = subprocess.run([PY, str(LAUNCHER), "--memory", str(800 * 2**20), "--cpu", "50", "--threads", "1",
                          "--", PY, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(800 * 2**20), "50", "1"]


def test_launcher_memory_cap_turns_a_huge_allocation_into_memory_error():
    code = "import numpy as np\ntry:\n    np.ones(2 * 10**9 // 8 * 4)\nexcept MemoryError:\n    print('MemoryError')"
    out = subprocess.run([PY, str(LAUNCHER), "--memory", str(1024 * 2**20), "--", PY, "-c", code],
                         capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == "MemoryError"


def test_launcher_requires_a_command():
    proc = subprocess.run([PY, str(LAUNCHER), "--memory", "1000"], capture_output=True, text=True)
    assert proc.returncode != 0 and "no kernel command" in proc.stderr


@pytest.mark.slow
def test_grading_execute_caps_output_memory_and_time(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfor _ in range(50):\n    print('x' * 100_000)"),
        new_code_cell("def grow(xs):\n    while True:\n        xs = xs + xs\ngrow(list(range(1000)))"),
        new_code_cell("x = 1"),
        graded_cell("test-real", "np.random.seed(0)\nassert not np.allclose(np.random.rand(3), 7.0)\nprint('ok')"),
        new_code_cell("while True:\n    pass"),
        new_code_cell("print('after the timeout')"),
        new_code_cell("import sys\ndel sys.modules['_course_grading']"),
        graded_cell("test-after", "print('still graded')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
    config.CappedKernelManager.memory_limit_bytes = 1024 * 2**20
    ep = GradingExecute(config=config, timeout=5, max_output_bytes=200_000)
    assert ep.kernel_manager_class is CappedKernelManager
    ep.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert 200_000 <= len(printed) < 201_000 and "[grader: output cut" in printed
    assert _error_status(nb.cells[1].outputs)[0] == "out of memory"
    assert [o.get("text") for o in nb.cells[3].outputs] == ["ok\n"]
    assert _error_status(nb.cells[4].outputs)[0] == "timed out"
    assert nb.cells[5].outputs[0]["text"] == "after the timeout\n"
    assert nb.cells[7].outputs[0]["text"] == "still graded\n"


@pytest.mark.slow
def test_display_updates_and_widgets_cannot_get_past_the_output_cap(tmp_path):
    """``update_display`` replaces an earlier output without passing the per-cell cap; widget messages fill the
    notebook's metadata. Neither makes the graded notebook bigger than the caps allow."""
    nb = new_notebook(cells=[
        new_code_cell("from IPython.display import HTML, display\nh = display(HTML('small'), display_id=True)"),
        new_code_cell("for _ in range(4):\n    h.update(HTML('x' * 3_000_000))"),
        new_code_cell("import ipywidgets as w\nsliders = [w.IntSlider(value=i, description='y' * 20_000) for i in range(100)]"),
        new_code_cell("print('still running')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    GradingExecute(config=Config(), timeout=60, max_output_bytes=200_000).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    shown = nb.cells[0].outputs[0]["data"]
    assert "display update cut" in shown["text/plain"] and "text/html" not in shown, shown
    assert "widgets" not in nb.metadata
    assert nb.cells[3].outputs[0]["text"] == "still running\n"
    assert len(nbformat.writes(nb)) < 500_000


@pytest.mark.slow
def test_grading_kernels_are_killed_not_waited_for(tmp_path, monkeypatch):
    """A kernel whose exit hook never returns: the grader stops it at once after the last cell."""
    calls = []
    real = CappedKernelManager._async_shutdown_kernel

    async def shutdown(self, now=False, restart=False):
        calls.append(now)
        return await real(self, now=now, restart=restart)

    monkeypatch.setattr(CappedKernelManager, "_async_shutdown_kernel", shutdown)
    monkeypatch.setattr(CappedKernelManager, "shutdown_kernel", shutdown)
    nb = new_notebook(cells=[new_code_cell("import atexit, time\natexit.register(time.sleep, 600)\nprint('hook set')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    GradingExecute(config=Config(), timeout=60).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert nb.cells[0].outputs[0]["text"] == "hook set\n"
    assert calls == [True]


HIDDEN_CELL = '''"""Check f."""
### BEGIN HIDDEN TESTS
_secret_input = [3, 1, 4, 1, 5]
assert f(_secret_input) == 14, "f should add the numbers"
### END HIDDEN TESTS'''


def test_hide_in_cell_removes_hidden_source_outputs_and_quoting_frames():
    cell = new_code_cell(HIDDEN_CELL)
    tb_test = "Cell In[5], line 3\n----> 3 assert f(_secret_input) == 14, \"f should add the numbers\""
    tb_student = "Cell In[2], line 2, in f(xs)\n----> 2     return sum(xs) + undefined"
    cell.outputs = [
        new_output("stream", name="stdout", text="debug: [3, 1, 4, 1, 5]\n"),
        new_output("error", ename="NameError", evalue="name 'undefined' is not defined",
                   traceback=["\x1b[0;31m---------\x1b[0m", tb_test, tb_student, "NameError: name 'undefined' is not defined"]),
    ]
    assert hide_in_cell(cell)
    assert cell.source == '"""Check f."""\n' + PLACEHOLDER_SOURCE
    texts = json.dumps(cell.outputs)
    assert "_secret_input" not in texts and "[3, 1, 4, 1, 5]" not in texts
    tb = cell.outputs[1]["traceback"]
    assert PLACEHOLDER_FRAME in tb and tb_student in tb
    assert tb[-1].endswith("NameError\x1b[0m: name 'undefined' is not defined")
    assert not hide_in_cell(new_code_cell("print(1)"))


def test_hidden_lines_skip_public_and_short_lines():
    lines = hidden_lines(HIDDEN_CELL + "\n", public_text='_secret_input = [3, 1, 4, 1, 5]\n')
    assert lines == ['assert f(_secret_input) == 14, "f should add the numbers"']


def test_scan_matches_whole_lines_in_visible_html_text(tmp_path):
    page = tmp_path / "f.html"
    page.write_text('<span class="n">_x</span> <span class="o">=</span> [&quot;a&quot;]<br>loss_y = []')
    assert scan_for_leaks([page], ['_x = ["a"]']) == [(str(page), '_x = ["a"]')]
    assert scan_for_leaks([page], ["_y = []"]) == []  # only inside a longer name


def test_drop_empty_nbgrader_metadata():
    cell = new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {}
    keep = graded_cell("t", "pass")
    pp = DropEmptyNbgraderMetadata()
    assert "nbgrader" not in pp.preprocess_cell(cell, {}, 0)[0].metadata
    assert pp.preprocess_cell(keep, {}, 1)[0].metadata["nbgrader"]["grade_id"] == "t"


def test_the_report_notes_a_cell_whose_output_was_cut(tmp_path):
    from coursetools.grading.report import notebook_details

    nb = new_notebook(cells=[
        graded_cell("clip", "print('x' * 10**9)", grade=False, solution=True, locked=False),
        graded_cell("test-clip", "assert True"),
    ])
    nb.cells[0].outputs = [new_output("stream", name="stdout", text="xxx\n[grader: output cut, this cell printed more than 10 bytes]\n")]
    nb.cells[1].outputs = [new_output("display_data", data={"text/plain": "[grader: display update cut, it was more than 10 bytes]"})]
    nbformat.write(nb, tmp_path / "n.ipynb")
    _, notes = notebook_details(tmp_path / "n.ipynb")
    assert [n.split(" printed")[0] for n in notes] == ["output limit: cell clip", "output limit: cell test-clip"]
