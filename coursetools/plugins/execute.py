"""Caps for grading kernels: memory, CPU, output size, and the monkeypatch guard.

nbgrader runs each submission with its ``Execute`` preprocessor. The course's
``nbgrader_config.py`` replaces it with :class:`GradingExecute`, which

- starts kernels through :class:`CappedKernelManager`: the kernel command is
  prefixed with ``python coursetools/plugins/kernel_launch.py --memory N --cpu S --``,
  which applies ``setrlimit(RLIMIT_AS / RLIMIT_CPU / RLIMIT_FSIZE)`` in the
  kernel process and then ``exec``s the kernel (same pid, so interrupts on a
  cell timeout still work). Past the memory cap, allocations fail with
  ``MemoryError`` inside the kernel; the machine and the batch are unharmed;
- keeps at most ``max_output_bytes`` of output per cell, twice: inside the
  kernel (``sys.stdout``/``sys.stderr`` drop the excess before it is buffered
  or sent) and in the grader (other outputs); a note says the output was cut.
  A cell printing hundreds of megabytes fills neither memory nor the
  autograded notebook;
- runs :mod:`coursetools.plugins.kernel_guard` in the kernel: before every graded
  test cell it restores the numpy/builtins/utils functions a submission may
  have replaced, and records what it restored in the cell's metadata
  (``metadata.grading.restored``), which the grade report shows.

The wall-clock limit per cell is nbgrader's own ``Execute.timeout`` (with
``interrupt_on_timeout``): the cell is interrupted and grading goes on with the
next cell. Every value is a traitlets option, set in ``nbgrader_config.py`` from
``coursetools/settings.py``; the defaults here are the same settings.
"""

import json
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from .. import settings
from . import kernel_guard
from .sandbox import SandboxedKernelMixin

LAUNCHER = Path(__file__).resolve().parent / "kernel_launch.py"


class CappedKernelManager(SandboxedKernelMixin, AsyncKernelManager):
    """A kernel manager whose kernels start under ``setrlimit`` limits (see ``kernel_launch.py``),
    in the grading sandbox (``sandbox.py``: bubblewrap, ``c.Sandbox.*``)."""

    memory_limit_bytes = Integer(settings.KERNEL_MEMORY_LIMIT_BYTES, help="RLIMIT_AS of the kernel in bytes (0: no limit)").tag(config=True)
    cpu_limit_s = Integer(settings.KERNEL_CPU_LIMIT_S, help="RLIMIT_CPU of the kernel in seconds (0: no limit)").tag(config=True)
    file_size_limit_bytes = Integer(settings.KERNEL_FILE_SIZE_LIMIT_BYTES, help="RLIMIT_FSIZE of the kernel in bytes (0: no limit)").tag(config=True)
    blas_threads = Integer(settings.KERNEL_BLAS_THREADS, help="BLAS/OpenMP threads of the kernel (0: leave the environment as it is)").tag(config=True)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return self.sandbox_wrap([
            sys.executable, str(LAUNCHER),
            "--memory", str(int(self.memory_limit_bytes)),
            "--cpu", str(int(self.cpu_limit_s)),
            "--file-size", str(int(self.file_size_limit_bytes)),
            "--threads", str(int(self.blas_threads)),
            "--", *cmd,
        ])


def is_graded_test(cell):
    """True for a code cell that nbgrader grades automatically (a test cell)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _message_size(msg):
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", ""))
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


class GradingExecute(Execute):
    """nbgrader's ``Execute`` with capped kernels, capped output and the monkeypatch guard."""

    max_output_bytes = Integer(settings.MAX_OUTPUT_BYTES, help="output kept per cell, in bytes (-1: no limit)").tag(config=True)
    guard_tests = Bool(True, help="restore monkeypatched numpy/builtins/utils functions before each graded test cell").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", CappedKernelManager)
        super().__init__(*args, **kwargs)
        self._reset()

    def _reset(self):
        self._output_bytes = {}
        self._truncated = set()
        self._guard_installed = False

    def preprocess(self, nb, resources=None, km=None):
        self._reset()
        return super().preprocess(nb, resources, km)

    async def _silent(self, code, cell, user_expressions=None):
        msg_id = self.kc.execute(code, silent=True, store_history=False, user_expressions=user_expressions or {})
        return await self.async_wait_for_reply(msg_id, cell)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.get("cell_type") == "code" and cell.source.strip() and self.guard_tests:
            if not self._guard_installed:
                self._guard_installed = True
                await self._silent(kernel_guard.install_code(self.max_output_bytes), cell)
            if is_graded_test(cell):
                reply = await self._silent(kernel_guard.RESTORE_CODE, cell, {"last": kernel_guard.LAST_EXPR})
                restored = _restored_names(reply)
                if restored:
                    cell.metadata.setdefault("grading", {})["restored"] = restored
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        if self.max_output_bytes < 0 or msg.get("msg_type") == "error":
            return super().output(outs, msg, display_id, cell_index)
        used = self._output_bytes.get(cell_index, 0) + _message_size(msg)
        self._output_bytes[cell_index] = used
        # The kernel already cut stdout/stderr at max_output_bytes: this is the backstop (rich outputs,
        # a submission that undid the kernel-side cap), with room for the kernel's own cut output.
        if used <= 2 * self.max_output_bytes + 65536:
            return super().output(outs, msg, display_id, cell_index)
        if cell_index not in self._truncated:
            self._truncated.add(cell_index)
            note = NotebookNode(output_type="stream", name="stderr",
                                text=f"\n[grader: output cut, this cell printed more than {self.max_output_bytes} bytes]\n")
            outs.append(note)
        return None


def _restored_names(reply):
    """The list the guard reported in ``user_expressions`` (empty when it could not run)."""
    broken = ["(the grading guard could not run: the submission removed or broke it)"]
    if not reply or reply.get("content", {}).get("status") != "ok":
        return broken
    try:
        expr = reply["content"]["user_expressions"]["last"]
        if expr.get("status") != "ok":
            return broken
        text = expr["data"]["text/plain"]
    except (KeyError, TypeError):
        return []
    import ast
    try:
        return [str(x) for x in ast.literal_eval(text)]
    except (ValueError, SyntaxError):
        return [text]
