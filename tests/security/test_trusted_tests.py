"""The grader-side test runner: the plan from the gradebook's cells, the trusted namespace, outputs (no kernel).

The student's functions are stood in for by :class:`tests.plugins.test_proxy.FakeLink`,
which answers the way the kernel stub does; the real kernel path is exercised by
``tests/security/test_forging.py`` and the zoo.
"""

import io
from contextlib import redirect_stdout

import nbformat
import numpy as np
import pytest

from coursetools.security.hidden_tests import BEGIN, END, PLACEHOLDER_FRAME
from coursetools.security.proxy import CallTimeout, FunctionProxy
from coursetools.security.trusted_tests import (Plan, TrustedCell, TrustedNamespace, TrustedSetupError,
                                               defined_names, error_output, hide_tests_on_disk, run_test)
from tests.security.test_proxy import FakeLink

HIDDEN = f"""print("hidden tests run at grading")
{BEGIN}
_secret_expected = 27.578643144
assert clip(_secret_expected) == 1, "clip gives the wrong value here"
{END}
"""


def rows():
    return [
        ("intro", "markdown", True, "# hello"),
        ("imports", "code", True, "import numpy as np\nfrom utils import *\n%matplotlib inline"),
        ("clip", "code", False, "def clip(g, m):\n    raise NotImplementedError()\nhelper_rate = 0.5"),
        ("test-clip", "code", True, "assert clip(1, 2) == 1"),
        ("test-clip-hidden", "code", True, HIDDEN),
        ("free", "code", False, "x = 1"),
    ]


def test_plan_from_the_gradebook_cells():
    plan = Plan.from_cells(rows(), graded={"test-clip", "test-clip-hidden"}, solution={"clip"})
    assert [(c.name, c.kind, c.hidden) for c in plan.cells] == [
        ("imports", "prelude", False), ("test-clip", "test", False), ("test-clip-hidden", "test", True)]
    assert plan.functions == ["clip"] and plan.values == ["helper_rate"]


def test_defined_names_reads_the_syntax_tree_only():
    src = "import os\ndef f():\n    pass\nasync def g():\n    pass\na, (b, c) = 1, (2, 3)\nd: int = 4\ne += 1\n%time x = 1"
    assert defined_names(src) == (["f", "g"], ["a", "b", "c", "d", "e"])
    assert defined_names("def (:") == ([], [])


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A trusted source folder (utils, data) and, as the working folder, a hostile one with its own utils."""
    source = tmp_path / "source"
    (source / "utils").mkdir(parents=True)
    (source / "utils" / "__init__.py").write_text("from .core import *\n")
    (source / "utils" / "core.py").write_text("WHO = 'trusted'\n__all__ = ['WHO']\n")
    (source / "data").mkdir()
    (source / "data" / "words.txt").write_text("trusted data\n")
    hostile = tmp_path / "hostile"
    (hostile / "utils").mkdir(parents=True)
    (hostile / "utils" / "__init__.py").write_text("WHO = 'student'\n")
    (hostile / "data").mkdir()
    (hostile / "data" / "words.txt").write_text("student data\n")
    monkeypatch.chdir(hostile)
    monkeypatch.syspath_prepend(str(hostile))
    return source


def test_locked_cells_run_with_the_courses_own_utils_and_data(course):
    space = TrustedNamespace(course)
    space.run_prelude(TrustedCell("imports", "prelude", "from utils import *\nimport utils.core as uc\n%matplotlib inline"))
    space.run_prelude(TrustedCell("data", "prelude", "text = open('data/words.txt').read()"))
    assert space.ns["WHO"] == "trusted" and space.ns["uc"].WHO == "trusted"
    assert space.ns["text"] == "trusted data\n"
    assert space.module_name(space.ns["uc"]) == "utils.core"
    import sys
    assert "utils" not in sys.modules or getattr(sys.modules["utils"], "WHO", None) != "trusted"


def test_a_broken_locked_cell_or_an_unknown_magic_stops_grading_with_a_reason(course):
    space = TrustedNamespace(course)
    with pytest.raises(TrustedSetupError, match="'load'.*ZeroDivisionError"):
        space.run_prelude(TrustedCell("load", "prelude", "1 / 0"))
    with pytest.raises(TrustedSetupError, match="%timeit"):
        space.run_prelude(TrustedCell("x", "prelude", "%timeit 1"))
    with pytest.raises(TrustedSetupError, match="source folder"):
        TrustedNamespace(course / "missing")


def namespace_with(course, **functions):
    space = TrustedNamespace(course)
    space.run_prelude(TrustedCell("imports", "prelude", "import numpy as np"))
    for name, fn in functions.items():
        space.ns[name] = FunctionProxy(name, FakeLink(fn))
    return space


def test_a_passing_test_prints_what_it_and_the_function_printed(course):
    def clip(g, m):
        print("from the kernel")
        return 1

    cell = TrustedCell("t", "test", "print('before')\nassert clip(1, 2) == 1\nprint('after')")
    outputs, error = run_test(namespace_with(course, clip=clip), cell, 10000)
    assert error is None
    assert [o.output_type for o in outputs] == ["stream"]
    assert outputs[0].text == "before\nfrom the kernel\nafter\n"


def test_redirect_stdout_in_a_test_catches_what_the_function_printed(course):
    cell = TrustedCell("t", "test", "import contextlib, io\n_o = io.StringIO()\nwith contextlib.redirect_stdout(_o):\n"
                                    "    clip(1, 2)\nassert _o.getvalue() == 'Iteration: 0\\n', _o.getvalue()")
    outputs, error = run_test(namespace_with(course, clip=lambda *a: print("Iteration: 0")), cell, 10000)
    assert error is None and outputs == []


def test_a_failing_visible_test_shows_its_line_and_message(course):
    cell = TrustedCell("test-clip", "test", "x = 1\nassert clip(1, 2) == 1, 'clip should give 1'")
    outputs, error = run_test(namespace_with(course, clip=lambda *a: 2), cell, 10000)
    err = outputs[-1]
    assert err.output_type == "error" and err.ename == "AssertionError" and err.evalue == "clip should give 1"
    assert "assert clip(1, 2) == 1" in err.traceback[0]


def test_a_failing_hidden_test_shows_the_message_and_no_hidden_source(course):
    cell = TrustedCell("test-clip-hidden", "test", HIDDEN, hidden=True)
    outputs, error = run_test(namespace_with(course, clip=lambda *a: 2), cell, 10000)
    assert outputs[0].text == "hidden tests run at grading\n"
    err = outputs[-1]
    assert err.ename == "AssertionError" and err.evalue == "clip gives the wrong value here"
    text = "\n".join(err.traceback)
    assert PLACEHOLDER_FRAME in err.traceback
    assert "_secret_expected" not in text and "27.578643144" not in text and "assert clip" not in text


def test_the_students_exception_keeps_its_type_and_the_kernel_traceback(course):
    def clip(*a):
        raise NotImplementedError()

    outputs, _ = run_test(namespace_with(course, clip=clip), TrustedCell("t", "test", "clip(1, 2)"), 10000)
    err = outputs[-1]
    assert err.ename == "NotImplementedError"
    assert any("student's code" in line for line in err.traceback)


def test_a_timeout_is_a_cell_timeout_that_no_except_clause_in_a_test_swallows(course):
    class Slow(FakeLink):
        def request(self, op, payload, what):
            raise CallTimeout(f"{what} did not return within the cell's time limit")

    space = namespace_with(course)
    space.ns["sample"] = FunctionProxy("sample", Slow())
    cell = TrustedCell("t", "test", "try:\n    sample()\nexcept Exception:\n    pass\nprint('not reached')")
    outputs, _ = run_test(space, cell, 10000)
    assert [o.output_type for o in outputs] == ["error"]
    assert outputs[0].ename == "CellTimeoutError" and "sample(...)" in outputs[0].evalue


def test_output_is_capped(course):
    outputs, _ = run_test(namespace_with(course), TrustedCell("t", "test", "print('x' * 5000)"), 100)
    assert sum(len(o.text) for o in outputs) < 200 and "cut" in outputs[-1].text


def test_error_output_of_a_non_hidden_exception_inside_a_helper():
    cell = TrustedCell("t", "test", "def f():\n    raise ValueError('bad')\nf()")
    try:
        exec(compile(cell.source, "<graded test t>", "exec"), {})
    except ValueError as exc:
        out = error_output(exc, cell)
    assert out.ename == "ValueError" and "raise ValueError('bad')" in "\n".join(out.traceback)


def test_the_kernel_sees_the_notebook_without_hidden_tests(tmp_path):
    nb = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell(HIDDEN, metadata={"nbgrader": {"grade_id": "test-clip-hidden", "grade": True}})
    test.outputs = [nbformat.v4.new_output("stream", name="stdout", text="27.578643144")]
    nb.cells = [nbformat.v4.new_code_cell("def clip(): pass"), test]
    path = tmp_path / "nb.ipynb"
    path.write_text(nbformat.writes(nb))
    hide_tests_on_disk(nb, path, {"test-clip-hidden": None})
    text = path.read_text()
    assert "_secret_expected" not in text and "27.578643144" not in text and BEGIN not in text
    assert "def clip" in text and "hidden tests run at grading" in text
    assert "_secret_expected" in nb.cells[1].source, "the notebook being graded keeps its cells"


def test_a_function_that_mutates_a_test_variable_in_place_is_seen_by_the_test(course):
    def update(params, lr):
        params["W"] -= lr
        params["new"] = np.zeros(1)

    cell = TrustedCell("t", "test", "p = {'W': np.ones(2)}\nw = p['W']\nupdate(p, 0.5)\n"
                                    "assert w is p['W'] and np.array_equal(w, [0.5, 0.5]) and 'new' in p")
    outputs, error = run_test(namespace_with(course, update=update), cell, 10000)
    assert error is None, outputs


def test_the_random_state_travels_both_ways(course):
    def draw():
        return np.random.rand()

    cell = TrustedCell("t", "test", "np.random.seed(3)\na = draw()\nb = np.random.rand()\n"
                                    "np.random.seed(3)\nassert a == np.random.rand() and b == np.random.rand()")
    with redirect_stdout(io.StringIO()):
        outputs, error = run_test(namespace_with(course, draw=draw), cell, 10000)
    assert error is None, outputs


@pytest.mark.slow
def test_a_real_kernel_answers_calls_times_out_and_dies():
    """KernelLink + kernel stub + codec against a real IPython kernel (no nbgrader)."""
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    from coursetools.kernel import stub as kernel_stub
    from coursetools.security.proxy import KernelLink, KernelStopped

    code = ("import numpy as np\n"
            "def clip(g, m):\n    for v in g.values():\n        np.clip(v, -m, m, out=v)\n    print('clipped')\n    return g\n"
            "def slow():\n    while True:\n        pass\n"
            "def die():\n    import os\n    os._exit(1)\n"
            "def shell_name():\n    return type(get_ipython()).__name__\n")

    async def main():
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            loop = asyncio.get_running_loop()
            link = KernelLink(kc, km, loop, max_output_chars=1000)
            await link.roundtrip(kernel_stub.install_code(0), 60, "install")
            msg_id = kc.execute(code)
            assert await link._wait(msg_id, 60) is not None
            link.start_cell(30)
            grads = {"a": np.array([7.0, -1.0])}
            out = io.StringIO()
            with redirect_stdout(out):
                result = await loop.run_in_executor(None, FunctionProxy("clip", link), grads, 5)
            assert result is grads and grads["a"].tolist() == [5.0, -1.0] and out.getvalue() == "clipped\n"
            # a call meets the builtins of a cell (get_ipython), and a clean kernel has nothing to restore
            assert await loop.run_in_executor(None, FunctionProxy("shell_name", link)) == "ZMQInteractiveShell"
            assert link.restored == [], link.restored
            link.start_cell(2)
            with pytest.raises(CallTimeout):
                await loop.run_in_executor(None, FunctionProxy("slow", link))
            assert link.stopped is None, "an interrupted call leaves a usable kernel"
            link.start_cell(30)
            with pytest.raises(KernelStopped):
                await loop.run_in_executor(None, FunctionProxy("die", link))
            with pytest.raises(KernelStopped):
                await loop.run_in_executor(None, FunctionProxy("clip", link), grads, 5)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(main())


def test_only_names_a_kernel_cell_reads_are_pushed_unless_a_cell_reads_dynamically():
    from coursetools.security.trusted_tests import names_the_kernel_reads

    cells = ["%matplotlib inline\nimport numpy as np", "def f():\n    return parameters['b'] + np.ones(1)",
             "print(loss_history[-1])",
             "def g(gradients, X):\n    Y = X[1:]\n    return [y for y in Y] + [a_last for _ in gradients]"]
    reads = names_the_kernel_reads(cells)
    assert {"parameters", "loss_history", "np", "a_last"} <= reads
    assert not {"gradients", "X", "Y", "y"} & reads, "a function's parameters and locals are not global reads"
    for dynamic in ("print(globals()['gradients'])", "print(eval('gradients'))", "import __main__ as m\nm.x",
                    "%who", "!ls", "def broken(:", "get_ipython().user_ns['x']", "import sys as s\ns.modules",
                    "from inspect import currentframe", "def h():\n    return vars()"):
        assert names_the_kernel_reads([*cells, dynamic]) is None, dynamic


def test_grading_stops_when_python_skips_asserts(tmp_path):
    """With ``python -O`` (or PYTHONOPTIMIZE) every assert of the tests is skipped: the grader refuses to run,
    and ``course grade`` stops before the first submission."""
    import os
    import subprocess
    import sys

    code = "from coursetools.security.trusted_tests import refuse_disabled_asserts; refuse_disabled_asserts()"
    proc = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0 and "assertions disabled" in proc.stderr and "PYTHONOPTIMIZE" in proc.stderr
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

    for verb in ("grade", "grade-parallel"):
        env = dict(os.environ, PYTHONOPTIMIZE="1")
        proc = subprocess.run([sys.executable, "-m", "coursetools", verb, "--course", str(tmp_path)], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 1 and proc.stderr.startswith("error: the grader runs Python with assertions disabled")
        assert "Traceback" not in proc.stderr and not (tmp_path / "gradebook.db").exists()
