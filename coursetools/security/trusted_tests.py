"""Trusted verdicts: every graded test cell runs in the grader's process, never in the student's kernel.

During ``nbgrader autograde`` (``NBGRADER_EXECUTION=autograde``) the course's
Execute preprocessor (:class:`coursetools.plugins.execute.GradingExecute`)
runs the notebook top to bottom as before, except that each **graded test
cell** (visible and hidden) is handed to :class:`TrustedRun`, which runs it in
the grader:

- **What runs** is the gradebook's copy of the cell (the instructor's, hidden
  tests included: :class:`Plan`), never the submission's.
- **Where**: one namespace per notebook (:class:`TrustedNamespace`), built
  from trusted material only: the gradebook's *locked* cells (imports, data,
  vocabulary), executed in the grader in notebook order with the course's own
  files (the working folder is ``source/<assignment>/`` and ``import utils``
  loads ``source/<assignment>/utils`` under a private name, never the
  submission's folder); and, for every function a solution cell defines
  (``clip``, ``sample``, ``optimize``, ``model``), a
  :class:`~coursetools.security.proxy.FunctionProxy` that calls the student's
  function in the kernel with plain data. Variables that a solution cell
  assigns are fetched from the kernel, as plain data, before each test cell.
- **Outputs**: what the test printed, then (if it failed) an error output:
  the exception type and the instructor's message; for a visible cell the
  failing lines of the cell, for a hidden cell no source at all; for an
  exception of the student's function, the kernel's traceback of the
  student's code. nbgrader's ``SaveAutoGrades`` scores the cell as before (an
  error output means 0 points). A call past the cell's time limit gives
  ``CellTimeoutError`` (the report's "timed out").
- **The kernel never sees a hidden test**: graded test cells are not sent to
  it (not in ``In``), and the notebook file in the kernel's working folder is
  rewritten, before the kernel starts, without the hidden blocks.
- **Validate-like state**: after a *visible* test cell, the variables it
  (re)bound, the containers it read (they may have changed) and numpy's random
  state are pushed to the kernel as plain data, and modules it imported are
  imported there, so a later student cell finds them as under Validate.
  Functions and other objects a test defines are not sent (a student cell
  reading them gets a ``NameError``). After a *hidden* test cell nothing is
  pushed and the kernel's random state is put back: under Validate a hidden
  cell runs only its visible part.
- **A kernel that dies or hangs during a call** fails that call (that test
  cell scores 0). The kernel is then restarted and the notebook's kernel cells
  run so far (and the pushes) are replayed silently, so that later tests and
  cells go on as before; at most ``max_restarts`` times per notebook. When a
  restart fails or the budget is spent, later test cells fail with the reason
  and later kernel cells are not run.

Graded test cells may use names from locked cells, from solution cells
(functions are proxied, assigned values fetched) and from earlier test cells;
anything else is a ``NameError`` in the grader (where under Validate the test
would have seen the student's variable).
"""

import ast
import asyncio
import builtins
import concurrent.futures
import contextlib
import hashlib
import importlib.util
import io
import os
import stat
import symtable
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from IPython.core.inputtransformer2 import TransformerManager
from nbclient.util import run_sync
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from traitlets import Bool, Integer
from traitlets.config import Configurable

from .. import hidden, settings
from ..kernel import plaindata
from ..kernel import stub as kernel_stub
from ..kernel.plaindata import NotPlainData
from .hidden_tests import PLACEHOLDER_FRAME, split_hidden
from .proxy import CallTimeout, FunctionProxy, KernelLink, KernelStopped

REPLAY_READY_TIMEOUT_S = 60


class TrustedSetupError(RuntimeError):
    """The trusted namespace cannot be built (the course's own material is broken): grading stops."""


def refuse_disabled_asserts(environ=None):
    """Stop grading when Python runs with ``-O`` or ``PYTHONOPTIMIZE``: every ``assert`` of the tests (and of
    ``utils/checks.py``) would be skipped, and every submission would pass every test.

    ``environ``: also refuse when it sets ``PYTHONOPTIMIZE`` (the environment that nbgrader, started by
    ``course grade``, will inherit)."""
    wanted = (environ or {}).get("PYTHONOPTIMIZE", "")
    if sys.flags.optimize > 0 or (wanted and wanted.strip() != "0"):
        raise TrustedSetupError("the grader runs Python with assertions disabled (python -O or PYTHONOPTIMIZE is set): "
                                "every test would pass; unset PYTHONOPTIMIZE and grade again")


# ----- what to run: the plan, from the gradebook ----------------------------------------


@dataclass
class TrustedCell:
    name: str
    kind: str  # "prelude" (a locked cell) or "test" (a graded test cell)
    source: str
    hidden: bool = False


@dataclass
class Plan:
    """The notebook's trusted cells in order, and the names its solution cells define."""

    cells: list
    functions: list = field(default_factory=list)
    values: list = field(default_factory=list)

    @property
    def tests(self):
        return {c.name: c for c in self.cells if c.kind == "test"}

    @classmethod
    def from_gradebook(cls, db_url, notebook, assignment):
        with Gradebook(db_url) as gb:
            nb = gb.find_notebook(notebook, assignment)
            graded = {c.name for c in nb.grade_cells}
            solution = {c.name for c in nb.solution_cells}
            rows = [(c.name, c.cell_type, bool(c.locked), c.source or "") for c in nb.source_cells]
        return cls.from_cells(rows, graded, solution)

    @classmethod
    def from_cells(cls, rows, graded, solution):
        """``rows``: ``(name, cell_type, locked, source)`` in notebook order."""
        cells, functions, values = [], [], []
        for name, cell_type, locked, source in rows:
            if cell_type != "code":
                continue
            if name in graded and name not in solution:
                cells.append(TrustedCell(name, "test", source, hidden=bool(split_hidden(source)[1])))
            elif name in solution:
                f, v = defined_names(source)
                functions += [n for n in f if n not in functions]
                values += [n for n in v if n not in values]
            elif locked:
                cells.append(TrustedCell(name, "prelude", source))
        values = [v for v in values if v not in functions]
        return cls(cells, functions, values)


def has_magic(source):
    """Whether a line of ``source`` is an IPython magic or a shell escape (``%...``, ``!...``)."""
    return any(line.lstrip().startswith(("%", "!")) for line in source.splitlines())


def python_source(source):
    """Cell source as plain Python: IPython magics become ``get_ipython()`` calls (IPython's own transformer)."""
    if not has_magic(source):
        return source
    return TransformerManager().transform_cell(source)


def defined_names(source):
    """``(functions, values)`` a cell defines at its top level (from its syntax tree; nothing is run)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return [], []
    functions, values = [], []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        values.append(n.id)
    return functions, values


def loaded_names(source):
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


# Names through which code reaches a variable without naming it: a cell that uses one may read anything.
DYNAMIC_ACCESS = {"globals", "locals", "vars", "eval", "exec", "compile", "__import__", "get_ipython", "__main__",
                  "__builtins__", "builtins", "sys", "inspect", "importlib", "gc", "ctypes"}


def global_reads(table):
    """Global names that code in the ``symtable`` scope ``table`` (and the scopes inside it) reads."""
    names = set()
    for sym in table.get_symbols():
        if sym.is_referenced() and (table.get_type() == "module" or sym.is_global()):
            names.add(sym.get_name())
    for child in table.get_children():
        names |= global_reads(child)
    return names


def names_the_kernel_reads(sources):
    """Global names the kernel's cells (``sources``) read, their functions' bodies included; ``None`` when a cell
    may read any name (dynamic access, an import of a dynamic module, a cell that does not parse, a magic other
    than ``%matplotlib``). A function's own parameters and locals are not global reads (Python's ``symtable``)."""
    names = set()
    for source in sources:
        kept = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%matplotlib"))
        if has_magic(kept):
            return None
        try:
            tree = ast.parse(kept)
            table = symtable.symtable(kept, "<cell>", "exec")
        except (SyntaxError, ValueError):
            return None
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        read = global_reads(table)
        if (read | imported) & DYNAMIC_ACCESS:
            return None
        names |= read
    return names


# ----- where it runs: the trusted namespace -------------------------------------------


class _Shell:
    """``get_ipython()`` for trusted cells: ``%matplotlib`` is a no-op, any other magic an error."""

    def run_line_magic(self, name, line, *args, **kwargs):
        if name == "matplotlib":
            return None
        raise TrustedSetupError(f"the trusted grader cannot run the magic %{name} of a locked or test cell")

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        raise TrustedSetupError(f"the trusted grader cannot run the cell magic %%{name}")

    def system(self, cmd, *args, **kwargs):
        raise TrustedSetupError("the trusted grader does not run shell commands (!...)")

    getoutput = system


def load_trusted_package(folder, name):
    """``folder/name`` (a package or module) imported under a private name; returns that name."""
    path = Path(folder) / name
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    alias = f"_course_trusted_{digest}_{name}"
    if alias in sys.modules:
        return alias
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(alias, path / "__init__.py", submodule_search_locations=[str(path)])
    else:
        spec = importlib.util.spec_from_file_location(alias, path.with_suffix(".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[alias]
        raise
    return alias


class TrustedNamespace:
    """The namespace graded tests run in: locked cells' names, proxies, the course's own ``utils``."""

    def __init__(self, source_dir):
        self.source_dir = Path(source_dir)
        if not self.source_dir.is_dir():
            raise TrustedSetupError(f"trusted grading needs the assignment's source folder {self.source_dir} "
                                    "(its data and utils): run `course release` first")
        self.aliases = {}  # public top-level name -> private module name
        for entry in sorted(self.source_dir.iterdir()):
            stem = entry.name[:-3] if entry.name.endswith(".py") else entry.name
            if (entry.is_dir() and (entry / "__init__.py").is_file()) or (entry.is_file() and entry.suffix == ".py"):
                if stem.isidentifier():
                    self.aliases[stem] = None  # loaded on first import
        self.public = {}  # private module name -> public name
        trusted_builtins = dict(vars(builtins))
        trusted_builtins["__import__"] = self._import
        self.ns = {"__name__": "__main__", "__builtins__": trusted_builtins}
        self.shell = _Shell()
        self.ns["get_ipython"] = lambda: self.shell

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            top, _, rest = name.partition(".")
            if top in self.aliases:
                if self.aliases[top] is None:
                    self.aliases[top] = load_trusted_package(self.source_dir, top)
                    self.public[self.aliases[top]] = top
                name = self.aliases[top] + ("." + rest if rest else "")
        return builtins.__import__(name, globals, locals, fromlist, level)

    @contextlib.contextmanager
    def in_folder(self):
        old = os.getcwd()
        os.chdir(self.source_dir)
        try:
            yield
        finally:
            os.chdir(old)

    def module_name(self, module):
        """The name a kernel imports ``module`` by (the public name of a trusted package)."""
        name = module.__name__
        top, _, rest = name.partition(".")
        if top in self.public:
            return self.public[top] + ("." + rest if rest else "")
        return name

    def run_prelude(self, cell):
        """Execute a locked cell (instructor's code) in the namespace; any error stops grading."""
        out = io.StringIO()
        try:
            code = compile(python_source(cell.source), f"<locked cell {cell.name}>", "exec")
            with self.in_folder(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(code, self.ns)
        except TrustedSetupError:
            raise
        except Exception as exc:
            raise TrustedSetupError(f"the locked cell {cell.name!r} fails in the grader: "
                                    f"{type(exc).__name__}: {exc}") from exc


# ----- running one test cell --------------------------------------------------------------


class _Capture(io.TextIOBase):
    """Collects what a test writes, as notebook stream outputs, keeping at most ``limit`` characters."""

    def __init__(self, name, chunks, budget):
        self.name, self.chunks, self.budget = name, chunks, budget

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        n, room = len(text), self.budget["left"]
        cut = n > room
        text = text[:max(room, 0)]
        self.budget["left"] -= len(text)
        self._add(self.name, text)
        if cut and not self.budget["cut"]:
            self.budget["cut"] = True
            self._add("stderr", "\n[grader: output cut, this cell printed too much]\n")
        return n

    def _add(self, name, text):
        if not text:
            return
        if self.chunks and self.chunks[-1][0] == name:
            self.chunks[-1] = (name, self.chunks[-1][1] + text)
        else:
            self.chunks.append((name, text))


ENAMES = {CallTimeout: "CellTimeoutError", KernelStopped: "KernelStopped"}


def error_output(exc, cell):
    """The notebook error output for an exception of a test cell: no hidden source, ever."""
    ename = ENAMES.get(type(exc), type(exc).__name__)
    evalue = getattr(exc, "kernel_message", None)
    evalue = str(exc) if evalue is None else evalue
    tb = []
    if not cell.hidden:
        lines = cell.source.splitlines()
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == _label(cell) and 0 < frame.lineno <= len(lines):
                tb.append(f"Cell {cell.name}, line {frame.lineno}:\n    {lines[frame.lineno - 1].strip()}")
    else:
        tb.append(PLACEHOLDER_FRAME)  # the student learns that a hidden check failed, never its code
    kernel_tb = getattr(exc, "kernel_traceback", "")
    if kernel_tb:
        tb.append("In your code (run in the grading kernel):\n" + kernel_tb.rstrip())
    tb.append(f"\x1b[0;31m{ename}\x1b[0m: {evalue}")
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=tb)


def _label(cell):
    return f"<graded test {cell.name}>"


def run_test(space, cell, max_output_chars):
    """Execute one test cell in ``space``; return its outputs (streams, then an error if it failed)."""
    chunks, budget = [], {"left": max_output_chars if max_output_chars > 0 else 1 << 62, "cut": False}
    error = None
    try:
        code = compile(python_source(cell.source), _label(cell), "exec")
    except SyntaxError as exc:
        raise TrustedSetupError(f"the graded cell {cell.name!r} is not valid Python: {exc}") from exc
    with space.in_folder(), contextlib.redirect_stdout(_Capture("stdout", chunks, budget)), \
            contextlib.redirect_stderr(_Capture("stderr", chunks, budget)):
        try:
            exec(code, space.ns)
        except TrustedSetupError:
            raise
        except BaseException as exc:  # noqa: B036 (CallTimeout and KernelStopped are BaseExceptions on purpose)
            error = exc
    outputs = [nbformat.v4.new_output("stream", name=name, text=text) for name, text in chunks]
    if error is not None:
        outputs.append(error_output(error, cell))
    return outputs, error


# ----- one notebook: the preprocessor's partner -----------------------------------------


def submission_identity(info, folder, max_chars=100):
    """``assignment/notebook/student/time``: what seeds this submission's hidden instances (:mod:`coursetools.hidden`).

    The time is the first line of the submission's ``timestamp.txt`` (the
    exchange writes the server's time there), read without following a link;
    none when there is no such plain file.
    """
    stamp = ""
    if folder:
        try:
            fd = os.open(Path(folder) / "timestamp.txt", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            fd = None
        if fd is not None:
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    stamp = os.read(fd, max_chars).decode("utf-8", "replace").strip().splitlines()[0:1]
                    stamp = stamp[0] if stamp else ""
            finally:
                os.close(fd)
    return f"{info['assignment']}/{info['notebook']}/{info['student']}/{stamp}"



class TrustedRun:
    """Runs a notebook's graded test cells in the grader; owned by the Execute preprocessor for one notebook."""

    def __init__(self, executor, plan, source_dir, log, max_output_chars, max_bytes, max_restarts):
        self.ex, self.plan, self.log = executor, plan, log
        self.tests = plan.tests
        self.space = TrustedNamespace(source_dir)
        self.max_output_chars, self.max_bytes, self.max_restarts = max_output_chars, max_bytes, max_restarts
        self.link = None
        self.pending = [c for c in plan.cells]  # trusted cells not yet reached
        self.history = []  # what the kernel ran, for a replay: ("cell", source) / ("push", payload)
        self.restarts = 0
        self.lost = None  # why the kernel is gone for good
        self.thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="trusted-test")
        self.kernel_reads = None  # names the kernel's cells read (None: any); set from the notebook
        np.random.seed()  # tests that do not seed meet fresh randomness, not a state a submission chose

    @classmethod
    def for_autograde(cls, executor, nb, resources):
        """The run for one notebook of ``nbgrader autograde`` (reads the gradebook and the course folder)."""
        refuse_disabled_asserts()
        info = resources["nbgrader"]
        plan = Plan.from_gradebook(info["db_url"], info["notebook"], info["assignment"])
        coursedir = CourseDirectory(config=executor.config)
        source_dir = coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
        run = cls(executor, plan, source_dir, executor.log, executor.max_output_bytes,
                  executor.call_max_bytes, executor.max_kernel_restarts)
        run.kernel_reads = names_the_kernel_reads(
            c.source for c in nb.cells if c.get("cell_type") == "code" and not run.is_test(c))
        folder = resources.get("metadata", {}).get("path")
        run.space.ns[hidden.SUBMISSION] = submission_identity(info, folder)
        if folder:
            hide_tests_on_disk(nb, Path(folder) / f"{info['notebook']}.ipynb", run.tests)
        return run

    def close(self):
        self.thread.shutdown(wait=False)

    def is_test(self, cell):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return cell.get("cell_type") == "code" and gid in self.tests

    # -- the kernel's side of the notebook ------------------------------------------------

    def _link(self):
        if self.link is None:
            self.link = KernelLink(self.ex.kc, self.ex.km, asyncio_loop(), self.log, self.max_bytes,
                                   self.max_output_chars if self.max_output_chars > 0 else 1 << 40)
            for name in self.plan.functions:
                self.space.ns[name] = FunctionProxy(name, self.link)
        else:
            self.link.loop = asyncio_loop()
        return self.link

    async def execute_cell(self, cell, cell_index):
        """Handle ``cell`` if it is ours (a test cell, or any cell once the kernel is lost); else False."""
        if cell.get("cell_type") != "code":
            return False
        if self.link is not None and self.link.stopped and not self.lost:
            await self._recover()  # the kernel went away between cells (during a fetch or a push)
        if self.is_test(cell):
            await self._run_test(cell)
            return True
        if self.lost and cell.source.strip():
            cell.outputs = [nbformat.v4.new_output(
                "stream", name="stderr", text=f"[grader: this cell was not run: {self.lost}]\n")]
            cell.execution_count = None
            return True
        if cell.source.strip():
            self.history.append(("cell", cell.source))
        return False

    async def _run_test(self, cell):
        test = self.tests[cell.metadata.nbgrader["grade_id"]]
        cell.execution_count = None
        if self.lost:
            exc = KernelStopped(f"not run: {self.lost}")
            cell.outputs = [error_output(exc, test)]
            return
        link = self._link()
        loop = asyncio_loop()
        # the locked cells up to this one, in notebook order
        while self.pending and self.pending[0] is not test:
            c = self.pending.pop(0)
            if c.kind == "prelude":
                await loop.run_in_executor(self.thread, self.space.run_prelude, c)
        if self.pending:
            self.pending.pop(0)
        link.start_cell(self.ex._get_timeout(cell))
        kernel_state = await self._before(test)
        before = dict(self.space.ns)
        outputs, error = await loop.run_in_executor(self.thread, run_test, self.space, test, self.max_output_chars)
        cell.outputs = outputs
        if link.restored:
            cell.metadata.setdefault("grading", {})["restored"] = sorted(set(link.restored))
        if link.stopped:
            await self._recover()
        elif not link.timed_out:
            await self._after(test, kernel_state, before)

    async def _request(self, op, payload, what):
        """A request from the event loop (between cells); returns the answer dict, or None on any failure."""
        try:
            return await self._link().ask(op, payload, self.ex._get_timeout(None), what)
        except (CallTimeout, KernelStopped, NotPlainData):
            return None

    async def _before(self, test):
        """Fetch what solution cells assigned (and, for a hidden cell, the kernel's random state)."""
        if not self.plan.values and not test.hidden:
            return None
        answer = await self._request("fetch", {"names": self.plan.values, "max_bytes": self.max_bytes},
                                     "reading the notebook's variables")
        if answer is None:
            return None
        try:
            values = plaindata.decode(answer.get("values"), self.max_bytes)
            state = answer.get("random_state")
        except NotPlainData:
            return None
        if type(values) is dict:
            for name in self.plan.values:
                if name in values and type(name) is str:
                    self.space.ns[name] = values[name]
                else:
                    self.space.ns.pop(name, None)
        return state

    async def _after(self, test, kernel_state, before):
        """Bring the kernel to where Validate would leave it after this cell."""
        if test.hidden:
            if kernel_state is not None:
                await self._push({"values": plaindata.encode({}), "modules": {}, "random_state": kernel_state})
            return
        payload = self._visible_changes(test, before)
        if payload is not None:
            await self._push(payload)

    def _visible_changes(self, test, snapshot):
        """The push that gives the kernel what a visible test cell (re)bound or may have changed."""
        ns, proxies = self.space.ns, set(self.plan.functions)
        names = set(ns) - {"__builtins__", "__name__", "get_ipython"} - proxies
        values, modules = {}, {}
        loaded = loaded_names(test.source)
        for name in sorted(names):
            if name.startswith("__"):
                continue
            value = ns[name]
            changed = name not in snapshot or snapshot[name] is not value
            if not changed and not (name in loaded and type(value) in (list, dict, np.ndarray)):
                continue
            if self.kernel_reads is not None and name not in self.kernel_reads:
                continue  # no cell of the kernel reads it: pushing it would only cost time
            if isinstance(value, types.ModuleType):
                modules[name] = self.space.module_name(value)
                continue
            try:
                plaindata.encode(value, self.max_bytes)
            except NotPlainData:
                continue
            values[name] = value
        try:
            node = plaindata.encode(values, self.max_bytes)
        except NotPlainData:
            return None
        return {"values": node, "modules": modules, "random_state": plaindata.encode(plaindata.random_state())}

    async def _push(self, payload):
        self.history.append(("push", payload))
        await self._request("push", payload, "setting the test's variables in the kernel")

    # -- a dead or hung kernel ----------------------------------------------------------------

    async def _recover(self):
        reason = self.link.stopped
        if self.restarts >= self.max_restarts:
            self.lost = f"{reason}; no more restarts for this notebook ({self.max_restarts} used)"
            return
        self.restarts += 1
        self.log.warning("grading: %s; restarting the kernel and replaying the notebook's cells (restart %d of %d)",
                         reason, self.restarts, self.max_restarts)
        try:
            await _maybe_await(self.ex.km.restart_kernel(now=True))
            await _maybe_await(self.ex.kc.wait_for_ready(timeout=REPLAY_READY_TIMEOUT_S))
            self.link.stopped = None
            await self.link.roundtrip(kernel_stub.install_code(self.max_output_chars), REPLAY_READY_TIMEOUT_S,
                                      "installing the grading stub")
            for op, item in self.history:
                if op == "cell":
                    await self._replay_cell(item)
                else:
                    with contextlib.suppress(NotPlainData):  # as in _push: a push's answer is not needed
                        await self.link.ask("push", item, self.ex._get_timeout(None),
                                            "setting the test's variables in the kernel")
        except (CallTimeout, KernelStopped, RuntimeError, TimeoutError) as exc:
            self.lost = f"{reason}, and the restarted kernel could not replay the notebook ({exc})"
            self.link.stopped = self.lost

    async def _replay_cell(self, source):
        msg_id = self.ex.kc.execute(source, silent=False, store_history=True, allow_stdin=False, stop_on_error=False)
        if await self.link._wait(msg_id, self.ex._get_timeout(None)) is None:
            raise CallTimeout("a cell ran past its time limit during the replay")


def asyncio_loop():
    return asyncio.get_running_loop()


async def _maybe_await(x):
    if asyncio.iscoroutine(x) or isinstance(x, asyncio.Future):
        return await x
    return x


def hide_tests_on_disk(nb, path, tests):
    """Rewrite the notebook file the kernel can read (its working folder) without hidden tests or test sources.

    nbgrader's sanitize step wrote the gradebook's cells, hidden tests
    included, to ``autograded/<student>/<assignment>/``, the kernel's working
    folder. The kernel gets the student-visible version instead; nbgrader
    writes the graded notebook over it at the end, after the kernel is gone.
    """
    if not path.is_file():
        return
    copy = nbformat.reads(nbformat.writes(nb), as_version=4)
    for cell in copy.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("cell_type") == "code" and gid in tests:
            cell.source = split_hidden(cell.source)[0]
            cell.outputs = []
    nbformat.write(copy, str(path))


# ----- the Execute preprocessor's part -----------------------------------------------------

MAX_KERNEL_RESTARTS = 2  # per notebook, after a kernel died or hung during a call


class TrustedTestsMixin(Configurable):
    """Mixed into the course's Execute preprocessor: graded test cells run in the grader under autograde.

    It also installs :mod:`coursetools.kernel.stub` in every grading
    kernel before the first cell (the output cap, and the calls' receiver).
    Under Validate (``NBGRADER_EXECUTION=validate``) or with
    ``trusted_tests = False`` every cell runs in the kernel, as in stock nbgrader.
    """

    trusted_tests = Bool(True, help="run graded test cells in the grader during autograde "
                                    "(the student's functions are called in the kernel with plain data)").tag(config=True)
    call_max_bytes = Integer(settings.PROXY_MAX_PAYLOAD_BYTES, help="largest payload of one call, either way, in bytes").tag(config=True)
    max_kernel_restarts = Integer(MAX_KERNEL_RESTARTS, help="kernel restarts per notebook after a kernel died "
                                                            "or hung during a call").tag(config=True)

    _trusted = None
    _stub_installed = False

    def preprocess(self, nb, resources=None, km=None):
        self._stub_installed = False
        self._trusted = None
        if (self.trusted_tests and os.environ.get("NBGRADER_EXECUTION") == "autograde"
                and resources and "nbgrader" in resources):
            self._trusted = TrustedRun.for_autograde(self, nb, resources)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._trusted is not None:
                self._trusted.close()

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.get("cell_type") == "code" and cell.source.strip() and not self._stub_installed:
            self._stub_installed = True
            msg_id = self.kc.execute(kernel_stub.install_code(self.max_output_bytes), silent=True, store_history=False)
            await self.async_wait_for_reply(msg_id, cell)
        if self._trusted is not None and await self._trusted.execute_cell(cell, cell_index):
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    execute_cell = run_sync(async_execute_cell)
