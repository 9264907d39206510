"""Peak memory of the processes a grading run starts (nbgrader and its kernels)."""

import os
import threading

from ..security.watchdog import ProcessTree


def _is_kernel(pid):
    """Whether process ``pid`` is a grading kernel or its sandbox (its command line names ipykernel)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"ipykernel" in f.read()
    except OSError:
        return False


class PeakMemory:
    """Peak RSS of this process's descendants (nbgrader and its kernel), sampled in a thread.

    ``tree`` is the peak of their summed RSS (plus this process's own with
    ``include_self``), ``single`` the peak RSS of any one of them, ``grader``
    the peak RSS of any one that is not a kernel (nbgrader, where verdicts are
    computed: what a flooding kernel must not grow).

    A figure for reports, not a limit (the sandbox's watchdog enforces the
    cap). The descendants are found as the watchdog finds a sandbox's
    processes (:class:`~coursetools.security.watchdog.ProcessTree`: each
    process of the machine looked at once, not at every sample), so a sample
    is cheap (``bench/bench_sandbox.py`` prints its cost).
    """

    def __init__(self, interval=0.1, include_self=False):
        self.interval, self.include_self, self.tree, self.single, self.grader = interval, include_self, 0, 0, 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = os.getpid()
        processes = ProcessTree(me)
        while not self._halt.is_set():
            sizes = processes.rss_each(processes.scan())
            own = sizes.pop(me, 0)
            if sizes:
                self.single = max(self.single, max(sizes.values()))
                graders = [rss for pid, rss in sizes.items() if not _is_kernel(pid)]
                self.grader = max([self.grader, *graders])
            self.tree = max(self.tree, sum(sizes.values()) + (own if self.include_self else 0))
            self._halt.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._halt.set()
        self._thread.join()
