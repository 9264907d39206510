"""A warm nbgrader: its start-up paid once per batch (or per worker), one forked process per student.

Starting ``python -m nbgrader`` costs more than grading a short notebook: the
imports of nbgrader, nbconvert, jupyter_client, SQLAlchemy, alembic, numpy,
matplotlib and the course's plugins are paid again by every process. A
:class:`WarmNbgrader` starts one server process that imports all of that once
(and nothing else: no application, no gradebook, no kernel, no thread), then
for each request **forks** a child that runs ``nbgrader <argv>`` exactly as the
command line does, in a session of its own, with its output in a log file.

So every student still gets a fresh nbgrader process (fresh traitlets
singletons, a fresh gradebook connection, its own kernel in the sandbox, its own
exit code), and a submission that runs past its time limit is stopped the same
way: the child's whole process group is killed. Only the imports are shared,
and they are the grader's own code, loaded before any submission is read.

    with WarmNbgrader(env=tool_env()) as warm:
        code, log = warm.run(["autograde", "ps1", "--student=alice", "--force"], cwd=course, timeout_s=600)

``code`` is nbgrader's exit status (``None`` when the time limit was hit, a
negative number when a signal ended the child). The server stops when its
client closes it or goes away (end of file on its stdin).
"""

import importlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from ..security.font_cache import font_cache

# What one `nbgrader autograde` with the course's config imports (measured with -X importtime), and what the
# trusted tests import in the grader when they run the notebook's locked cells.
PRELOAD = (
    "nbgrader.apps.nbgraderapp",
    "nbgrader.apps.autogradeapp",
    "nbgrader.converters.autograde",
    "nbgrader.preprocessors",
    "nbgrader.api",
    "nbconvert",
    "nbclient",
    "jupyter_client",
    "sqlalchemy",
    "alembic.config",
    "alembic.command",
    "coursetools.plugins.execute",
    "coursetools.plugins.untrusted_files",
    "coursetools.plugins.notebook_metadata",
    "coursetools.plugins.safe_notebook",
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "tqdm.auto",
)


class WarmNbgraderError(RuntimeError):
    """The warm server could not start or stopped answering; the message says why."""


class WarmNbgrader:
    """Client of a warm nbgrader server (see the module's docstring). Not thread-safe: one request at a time."""

    def __init__(self, env=None, python=sys.executable, start_timeout_s=120):
        self.env = env
        self.python = python
        self.start_timeout_s = start_timeout_s
        self.proc = None
        self.ready = False
        self.broken = None  # why the server could not start (then every request says so at once)
        self._buffer = b""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def spawn(self):
        """Start the server's imports and return at once (:meth:`start` or the first :meth:`run` waits for them)."""
        if self.proc is None or self.proc.poll() is not None:
            self._buffer, self.ready = b"", False
            self.proc = subprocess.Popen([self.python, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         env=self.env, start_new_session=True)
        return self

    def start(self):
        """Start the server (if needed) and wait until it has imported nbgrader."""
        if self.broken:
            raise WarmNbgraderError(self.broken)
        self.spawn()
        if not self.ready:
            hello = self._read_line(self.start_timeout_s)
            if hello is None or hello.get("ready") is not True:
                self.close()
                self.broken = f"the warm nbgrader server did not start: {hello}"  # do not pay for it again
                raise WarmNbgraderError(self.broken)
            self.ready = True
        return self

    def close(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def _read_line(self, timeout_s):
        """One JSON message from the server, or ``None`` when none came within ``timeout_s`` (or it ended)."""
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def run(self, argv, cwd, timeout_s):
        """Run ``nbgrader <argv>`` in ``cwd`` in a forked child; return ``(exit code, or None on timeout, log)``."""
        self.start()
        with tempfile.NamedTemporaryFile(prefix="nbgrader-", suffix=".log", delete=False) as log:
            log_path = log.name
        try:
            request = {"argv": [str(a) for a in argv], "cwd": str(cwd), "log": log_path}
            try:
                self.proc.stdin.write((json.dumps(request) + "\n").encode())
                self.proc.stdin.flush()
            except OSError as exc:  # it ended after start() saw it alive; the next request starts a new one
                self.close()
                raise WarmNbgraderError(f"the warm nbgrader server stopped before the request ({exc})") from None
            started = self._read_line(30)
            if not started or "pid" not in started:
                self.close()
                raise WarmNbgraderError(f"the warm nbgrader server did not start a grading process: {started}")
            done = self._read_line(timeout_s)
            timed_out = done is None
            if timed_out:
                try:
                    os.killpg(started["pid"], signal.SIGKILL)  # nbgrader and what it started in its session
                except ProcessLookupError:
                    pass
                done = self._read_line(30)
                if done is None:
                    self.close()
                    raise WarmNbgraderError("the warm nbgrader server did not reap a killed grading process")
            text = Path(log_path).read_text(errors="replace")
            return (None if timed_out else done["code"]), text
        finally:
            os.unlink(log_path)


# ----- the server ----------------------------------------------------------------------------


def _child(request, channels):
    """In the forked child: become ``nbgrader <argv>`` in a session of its own; never returns."""
    code = 1
    try:
        os.setsid()
        for fd in channels:
            os.close(fd)
        log = os.open(request["log"], os.O_WRONLY | os.O_TRUNC)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        sys.argv = ["nbgrader", *request["argv"]]
        # Imported here, in the forked child, not in the grader: the server imported it already (PRELOAD).
        from nbgrader.apps.nbgraderapp import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 (the log says what happened; the exit code says it failed)
        traceback.print_exc()
        code = 1
    finally:
        try:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve():
    """Import what nbgrader needs, then fork one child per request read from stdin (JSON lines)."""
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints of an import never corrupt the replies
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional part (the course's plugins outside a course checkout): loaded later
            pass
    font_cache()  # found or built once here (it is memoized): no forked nbgrader probes for it, or retries a failed build
    if threading.active_count() != 1:  # forking a threaded process is unsafe: say so rather than risk it
        replies.write(json.dumps({"ready": False, "why": f"{threading.active_count()} threads after imports"}) + "\n")
        return
    replies.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    channels = (requests.fileno(), replies.fileno())
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request, channels)
        replies.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        try:
            os.killpg(pid, signal.SIGKILL)  # whatever the child left in its session
        except (ProcessLookupError, PermissionError):
            pass
        replies.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")


if __name__ == "__main__":
    serve()
