"""The pieces of the robust autograder, one by one (fast; the zoo test runs them together)."""

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets.config import Config

from coursetools import grading, kernel_guard
from coursetools.feedback import PLACEHOLDER_FRAME, PLACEHOLDER_SOURCE, hide_in_cell, hidden_lines, scan_for_leaks
from coursetools.kernel_limits import LAUNCHER, CappedKernelManager, GradingExecute
from coursetools.release import run_nbgrader
from coursetools.report import _error_status
from coursetools.sanitize import DropEmptyNbgraderMetadata
from coursetools.settings import ROOT

PY = sys.executable


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


# ----- pre-checks ----------------------------------------------------------------------------


@pytest.fixture
def folders(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    nbformat.write(release_notebook(), release / "A.ipynb")
    sub = tmp_path / "sub"
    sub.mkdir()
    return release, sub


def test_precheck_accepts_a_good_notebook(folders):
    release, sub = folders
    nbformat.write(release_notebook(), sub / "A.ipynb")
    assert grading.precheck(sub, ["A.ipynb"], release, release) == (grading.GRADED, "", [])


@pytest.mark.parametrize("content, status, words", [
    (b"", grading.INVALID, "empty file"),
    (b"   \n", grading.INVALID, "empty file"),
    (b'{"cells": [', grading.INVALID, "not valid JSON"),
    (b"\xff\xfe\x00", grading.INVALID, "not UTF-8"),
    (b'{"hello": 1}', grading.INVALID, "not an nbformat-4 notebook"),
    (b'[1, 2]', grading.INVALID, "not an nbformat-4 notebook"),
])
def test_precheck_rejects_broken_files_with_a_reason(folders, content, status, words):
    _, sub = folders
    (sub / "A.ipynb").write_bytes(content)
    got_status, reason, _ = grading.precheck(sub, ["A.ipynb"])
    assert got_status == status and words in reason


def test_precheck_names_a_renamed_notebook(folders):
    _, sub = folders
    nbformat.write(release_notebook(), sub / "A (copy).ipynb")
    status, reason, _ = grading.precheck(sub, ["A.ipynb"])
    assert status == grading.MISSING and "A (copy).ipynb" in reason and "renamed" in reason
    (sub / "A (copy).ipynb").unlink()
    assert grading.precheck(sub, ["A.ipynb"])[1] == "A.ipynb not found; the submission has no notebook"
    assert grading.precheck(sub / "nope", ["A.ipynb"])[0] == grading.MISSING


def test_precheck_notes_kernelspec_and_tampering(folders):
    release, sub = folders
    nb = release_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.cells[1].source = "pass  # edited"
    del nb.cells[2]
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(nb.cells[0]))))
    nb.cells[-1]["id"] = "copy"
    nbformat.write(nb, sub / "A.ipynb")
    status, _, notes = grading.precheck(sub, ["A.ipynb"], release, release)
    assert status == grading.GRADED
    assert notes == [
        "kernelspec 'ir' replaced by 'python3'",
        "edited locked cell test-f: nbgrader restored it",
        "deleted graded cell test-g: nbgrader added it back",
        "duplicated cell answer (2 copies): only the last one counts",
    ]


def test_the_instructors_own_solution_is_no_tampering(folders, tmp_path):
    release, sub = folders
    source = tmp_path / "source"
    source.mkdir()
    src = release_notebook()
    src.cells[1].source = "assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f() != 2\n### END HIDDEN TESTS"
    nbformat.write(src, source / "A.ipynb")
    nbformat.write(src, sub / "A.ipynb")
    assert grading.precheck(sub, ["A.ipynb"], source, release) == (grading.GRADED, "", [])


def test_precheck_never_writes(folders):
    release, sub = folders
    (sub / "A.ipynb").write_bytes(b'{"cells": [')
    before = {p: p.read_bytes() for p in sub.rglob("*") if p.is_file()}
    grading.precheck(sub, ["A.ipynb"], release, release)
    assert {p: p.read_bytes() for p in sub.rglob("*") if p.is_file()} == before


# ----- kernel launcher and caps ----------------------------------------------------------------


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


def test_grading_execute_caps_output_memory_time_and_undoes_monkeypatches(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfor _ in range(50):\n    print('x' * 100_000)"),
        new_code_cell("def grow(xs):\n    while True:\n        xs = xs + xs\ngrow(list(range(1000)))"),
        new_code_cell("np.allclose = lambda *a, **k: True\nnp.random.seed = lambda *a: None"),
        graded_cell("test-real", "np.random.seed(0)\nassert not np.allclose(np.random.rand(3), 7.0)\nprint('ok')"),
        new_code_cell("while True:\n    pass"),
        new_code_cell("print('after the timeout')"),
        new_code_cell("import sys\ndel sys.modules['_course_grading_guard']"),
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
    assert set(nb.cells[3].metadata["grading"]["restored"]) >= {"numpy.allclose", "numpy.random.seed"}
    assert _error_status(nb.cells[4].outputs)[0] == "timed out"
    assert nb.cells[5].outputs[0]["text"] == "after the timeout\n"
    assert "could not run" in nb.cells[7].metadata["grading"]["restored"][0]
    assert nb.cells[7].outputs[0]["text"] == "still graded\n"


def test_a_whole_submission_timeout_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = ("import subprocess, sys, time\n"
            f"p = subprocess.Popen(['sleep', '60']); open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(60)")
    code_, out = grading.run_in_group([PY, "-c", code], tmp_path, timeout_s=2)
    assert code_ is None
    child = int(pidfile.read_text())
    time.sleep(0.5)
    state = Path(f"/proc/{child}/stat")
    assert not state.exists() or state.read_text().split()[2] == "Z", "the grandchild (a kernel) must be killed too"


def test_grade_student_reports_a_timeout_and_leaves_no_trace(tmp_path, monkeypatch):
    course = tmp_path
    (course / "source" / "a").mkdir(parents=True)
    nbformat.write(release_notebook(), course / "source" / "a" / "A.ipynb")
    sub = course / "submitted" / "s1" / "a"
    sub.mkdir(parents=True)
    nbformat.write(release_notebook(), sub / "A.ipynb")
    stale = course / "autograded" / "s1" / "a"
    stale.mkdir(parents=True)
    monkeypatch.setattr(grading, "run_autograde", lambda *a, **k: (None, "...killed"))
    r = grading.grade_student(course, "a", "s1", timeout_s=7)
    assert (r.status, r.reason) == (grading.TIMED_OUT, "the submission ran past the 7 s limit for a whole notebook")
    assert not stale.exists()
    monkeypatch.setattr(grading, "run_autograde", lambda *a, **k: (1, "x\nnbclient.exceptions.DeadKernelError: Kernel died\n"))
    assert grading.grade_student(course, "a", "s1").status == grading.KERNEL_DIED
    monkeypatch.setattr(grading, "run_autograde", lambda *a, **k: (1, "Traceback\nValueError: odd\n[Autograde] done"))
    r = grading.grade_student(course, "a", "s1")
    assert (r.status, r.reason) == (grading.ERROR, "ValueError: odd")


# ----- the monkeypatch guard, in this process -------------------------------------------------


def test_guard_restores_module_functions_and_notebook_bindings():
    import numpy

    real_allclose, real_seed = numpy.allclose, numpy.random.seed
    guard = kernel_guard.install()
    ns = {"np": numpy}
    try:
        numpy.allclose = lambda *a, **k: True
        numpy.random.seed = lambda *a, **k: None
        ns["np"] = object()
        done = guard.restore(ns)
        assert numpy.allclose is real_allclose and numpy.random.seed is real_seed and ns["np"] is numpy
        assert set(done) >= {"numpy.allclose", "numpy.random.seed", "np"}
        assert guard.restore(ns) == []  # nothing left to restore
    finally:
        numpy.allclose, numpy.random.seed = real_allclose, real_seed
        sys.modules.pop(kernel_guard.GUARD_MODULE, None)
    assert np.allclose([1.0], [1.0 + 1e-12])


def test_capped_write_keeps_the_budget_then_one_note():
    seen = []
    write = kernel_guard.capped_write(seen.append, 10, "[cut]")
    write("12345")
    write("67890abc")
    write("more")
    assert "".join(seen) == "1234567890[cut]"


# ----- feedback ---------------------------------------------------------------------------------


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


# ----- small pieces ----------------------------------------------------------------------------


def test_drop_empty_nbgrader_metadata():
    cell = new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {}
    keep = graded_cell("t", "pass")
    pp = DropEmptyNbgraderMetadata()
    assert "nbgrader" not in pp.preprocess_cell(cell, {}, 0)[0].metadata
    assert pp.preprocess_cell(keep, {}, 1)[0].metadata["nbgrader"]["grade_id"] == "t"


def test_error_status_prefers_timeout_and_memory():
    outs = [new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[]),
            new_output("error", ename="CellTimeoutError", evalue="", traceback=[])]
    assert _error_status(outs)[0] == "timed out"
    assert _error_status([new_output("error", ename="AssertionError", evalue="x wrong\nmore", traceback=[])]) \
        == ("failed", "AssertionError: x wrong")
    assert _error_status([new_output("stream", name="stdout", text="hi")]) == (None, "")


def test_zip_collect_understands_a_canvas_export(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text()
                                               .replace("os.path.dirname(os.path.abspath(__file__))", repr(str(ROOT))))
    good = nbformat.writes(release_notebook()).encode()
    archive = course / "downloaded" / "dinosaurus_island" / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as z:
        z.writestr("smithjane_12345_67890_Dinosaurus_Island.ipynb", good)
        z.writestr("doejohn_LATE_222_333_Dinosaurus_Island-1.ipynb", good + b" ")
        z.writestr("readme.txt", b"not a notebook")
    proc = run_nbgrader(["zip_collect", "dinosaurus_island", "--force"], course, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    jane = course / "submitted" / "smithjane" / "dinosaurus_island" / "Dinosaurus_Island.ipynb"
    john = course / "submitted" / "doejohn" / "dinosaurus_island" / "Dinosaurus_Island.ipynb"
    assert jane.read_bytes() == good and john.read_bytes() == good + b" "
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["doejohn", "smithjane"]


def test_cli_grade_reports_a_clear_error_for_an_unknown_course(tmp_path, capsys):
    from coursetools.__main__ import main

    assert main(["grade", "dinosaurus_island", "--course", str(tmp_path)]) == 1
    assert "generate_assignment" in capsys.readouterr().err
