"""Caps for grading kernels (memory, CPU, output size) and trusted verdicts.

nbgrader runs each submission with its ``Execute`` preprocessor. The course's
``nbgrader_config.py`` replaces it with :class:`GradingExecute`, which

- starts kernels through :class:`CappedKernelManager`: the kernel command is
  prefixed with ``python coursetools/kernel/launch.py --memory N --cpu S --``,
  which applies ``setrlimit(RLIMIT_AS / RLIMIT_CPU / RLIMIT_FSIZE)`` in the
  kernel process and then ``exec``s the kernel (same pid, so interrupts on a
  cell timeout still work). Past the memory cap, allocations fail with
  ``MemoryError`` inside the kernel; the machine and the batch are unharmed;
- keeps at most ``max_output_bytes`` of output per cell, twice: inside the
  kernel (``sys.stdout``/``sys.stderr`` drop the excess before it is buffered
  or sent) and in the grader (other outputs, and display updates, which
  replace an earlier output); a note says the output was cut. Widget messages
  are not kept at all, and the kernel's client refuses any message larger than
  its channel's bound before decoding it (:mod:`coursetools.security.channels`).
  A cell printing hundreds of megabytes fills neither memory nor the
  autograded notebook;
- during ``nbgrader autograde`` runs every graded test cell in the grader, not in the
  kernel, and calls the student's functions in the kernel with plain data
  (:mod:`coursetools.security.trusted_tests`, docs/grading.md "Trusted verdicts");
  it installs :mod:`coursetools.kernel.stub` in every kernel (the
  kernel-side output cap and the calls' receiver).

A kernel is stopped at once after the notebook's last cell (``shutdown_kernel =
"immediate"``): nothing of it is kept, and a graceful shutdown would wait for it.

The wall-clock limit per cell is nbgrader's own ``Execute.timeout`` (with
``interrupt_on_timeout``): the cell is interrupted and grading goes on with the
next cell. Every value is a traitlets option, set in ``nbgrader_config.py`` from
``coursetools/settings.py``; the defaults here are the same settings.
"""

import json
import sys

from jupyter_client.manager import AsyncKernelManager
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import DottedObjectName, Integer, default

from .. import settings
from ..kernel import LAUNCHER
from ..security.sandbox import SandboxedKernelMixin
from ..security.trusted_tests import TrustedTestsMixin


class CappedKernelManager(SandboxedKernelMixin, AsyncKernelManager):
    """A kernel manager whose kernels start under ``setrlimit`` limits (see :mod:`coursetools.kernel.launch`),
    in the grading sandbox (``sandbox.py``: bubblewrap, ``c.Sandbox.*``)."""

    memory_limit_bytes = Integer(settings.KERNEL_MEMORY_LIMIT_BYTES, help="RLIMIT_AS of the kernel in bytes (0: no limit)").tag(config=True)
    cpu_limit_s = Integer(settings.KERNEL_CPU_LIMIT_S, help="RLIMIT_CPU of the kernel in seconds (0: no limit)").tag(config=True)
    file_size_limit_bytes = Integer(settings.KERNEL_FILE_SIZE_LIMIT_BYTES, help="RLIMIT_FSIZE of the kernel in bytes (0: no limit)").tag(config=True)
    blas_threads = Integer(settings.KERNEL_BLAS_THREADS, help="BLAS/OpenMP threads of the kernel (0: leave the environment as it is)").tag(config=True)
    # Its client refuses oversized messages before they are decoded (coursetools/security/channels.py).
    client_class = DottedObjectName("coursetools.security.channels.BoundedKernelClient")

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


def _message_size(msg):
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", ""))
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


class GradingExecute(TrustedTestsMixin, Execute):
    """nbgrader's ``Execute`` with capped kernels, capped output, and graded tests run in the grader."""

    max_output_bytes = Integer(settings.MAX_OUTPUT_BYTES, help="output kept per cell, in bytes (-1: no limit)").tag(config=True)

    @default("shutdown_kernel")
    def _immediate_shutdown(self):
        # A grading kernel is disposable (its sandbox and scratch copy go with it) and every output has
        # arrived once the last cell is done: kill it, rather than wait for nbclient's graceful shutdown.
        return "immediate"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", CappedKernelManager)
        super().__init__(*args, **kwargs)
        self._reset()

    def _reset(self):
        self._output_bytes = {}
        self._truncated = set()

    def preprocess(self, nb, resources=None, km=None):
        self._reset()
        return super().preprocess(nb, resources, km)

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

    def _update_display_id(self, display_id, msg):
        # ``update_display`` replaces an earlier output's data without going through output(): the same cap.
        if self.max_output_bytes >= 0 and _message_size(msg) > self.max_output_bytes:
            content = msg.setdefault("content", {})
            content["data"] = {"text/plain": f"[grader: display update cut, it was more than {self.max_output_bytes} bytes]"}
            content["metadata"] = {}
        return super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs, msg, cell_index):
        # Widget state is not graded and no grading page shows it: keep none of it, however much a kernel sends.
        return None
