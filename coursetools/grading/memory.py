"""Peak memory of the processes a grading run starts (nbgrader and its kernels)."""

import threading


class PeakMemory:
    """Peak RSS of this process's descendants (nbgrader and its kernel), sampled in a thread.

    ``tree`` is the peak of their summed RSS (plus this process's own with
    ``include_self``), ``single`` the peak RSS of any one of them.

    A figure for reports, not a limit (the sandbox's watchdog enforces the
    cap): sampled every ``interval`` seconds, because each sample reads every
    process of the machine (psutil finds descendants through ``/proc``, about
    2 ms here), and 20 samples a second cost a grading worker 4% of a core.
    """

    def __init__(self, interval=0.2, include_self=False):
        self.interval, self.include_self, self.tree, self.single = interval, include_self, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss if self.include_self else 0
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.single = max(self.single, rss)
            self.tree = max(self.tree, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
