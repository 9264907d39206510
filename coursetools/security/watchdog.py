"""The grading sandbox's watchdog: a memory cap across all the sandbox's processes.

``RLIMIT_AS`` caps each process of a sandbox; four children just under the
cap would together hold four times the cap. :class:`Watchdog` sums the
resident memory of every process of one sandbox, 20 times a second, and kills
the sandbox (SIGKILL to its outer ``bwrap``; ``--die-with-parent`` takes every
process inside with it) when the sum passes the cap, or when the kernel writes
more than a few sockets' worth into its connection folder.

Finding the sandbox's processes is the costly part. A scan of the whole
process tree (``psutil``'s ``children(recursive=True)``) reads every
``/proc/PID/stat`` of the machine, 20 times a second: a real share of a core
per kernel (``bench/bench_sandbox.py`` prints both costs). :class:`ProcessTree` looks at each process once
instead: a process is the sandbox's when it lives in the sandbox's PID
namespace (``bwrap --unshare-pid``; a submission cannot leave it, nor make a
new one: no capabilities, ``--disable-userns``), or when its parent is
already one of the sandbox's. A process keeps its verdict for as long as it
is listed in ``/proc``; a scan then costs one listing of ``/proc`` and one
``statm`` read per process of the sandbox (``bench/bench_sandbox.py``).
"""

import os
import signal
import sys
import threading

MiB = 1024**2
WATCH_INTERVAL_S = 0.05
WATCH_SLACK_BYTES = 64 * MiB  # bwrap's own processes, over the cap (one process alone is held by RLIMIT_AS)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _stat_fields(pid):
    """(state, ppid) from ``/proc/PID/stat`` (the command name may hold spaces and parentheses)."""
    raw = _read(f"/proc/{pid}/stat")
    rest = raw[raw.rindex(b")") + 2:].split()
    return rest[0].decode(), int(rest[1])


def _pid_namespace(pid):
    return os.readlink(f"/proc/{pid}/ns/pid")


def _rss_bytes(pid):
    return int(_read(f"/proc/{pid}/statm").split()[1]) * PAGE_BYTES


def _listed_pids():
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


class ProcessTree:
    """``root`` and the processes under it, found incrementally; for a sandbox, ``root`` is its outer ``bwrap``
    (a host PID) and its PID namespace is learnt from bwrap's child."""

    def __init__(self, root):
        self.root = root
        self.namespace = None  # "pid:[N]": the sandbox's PID namespace, once bwrap's child is seen
        self.verdicts = {}  # pid -> whether it is the sandbox's, for the pids listed at the last scan

    def _is_ours(self, pid, members):
        try:
            if self.namespace is not None:
                try:
                    if _pid_namespace(pid) == self.namespace:
                        return True
                except PermissionError:
                    pass  # not ours to inspect: decide by its parent
            _, ppid = _stat_fields(pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return None  # gone already
        if ppid == self.root and self.namespace is None:
            self._learn_namespace(pid)
        return ppid in members

    def _learn_namespace(self, child):
        """Take ``child``'s PID namespace as the sandbox's, if bwrap made it one (unlike ``root``'s own)."""
        try:
            namespace = _pid_namespace(child)
            if namespace != _pid_namespace(self.root):
                self.namespace = namespace
        except OSError:
            pass

    def scan(self):
        """The pids of the sandbox now (``root`` first); an empty list once ``root`` has ended."""
        listed = _listed_pids()
        if self.root not in listed:
            return []
        self.verdicts = {pid: v for pid, v in self.verdicts.items() if pid in listed}
        self.verdicts[self.root] = True
        new = sorted(listed - set(self.verdicts))
        # a parent is usually listed before its child; repeat while verdicts change (a chain born in one interval)
        while new:
            members = {pid for pid, v in self.verdicts.items() if v}
            undecided = []
            for pid in new:
                verdict = self._is_ours(pid, members)
                if verdict is None:
                    continue
                if verdict:
                    self.verdicts[pid] = True
                    members.add(pid)
                else:
                    undecided.append(pid)
            if len(undecided) == len(new):
                break
            new = undecided
        for pid in new:
            self.verdicts[pid] = False
        return [self.root, *sorted(pid for pid, v in self.verdicts.items() if v and pid != self.root)]

    def rss_bytes(self, pids):
        return sum(self.rss_each(pids).values())

    def rss_each(self, pids):
        """{pid: resident bytes} of ``pids`` (those still running)."""
        sizes = {}
        for pid in pids:
            try:
                sizes[pid] = _rss_bytes(pid)
            except (OSError, ValueError, IndexError):
                pass  # ended between the listing and the read
        return sizes

    def root_ended(self):
        try:
            return _stat_fields(self.root)[0] in ("Z", "X")
        except (OSError, ValueError):
            return True


class Watchdog(threading.Thread):
    """Kill the sandbox (SIGKILL to bwrap) when its processes together pass ``memory_bytes`` of RSS,
    or when its connection folder holds more than ``folder_bytes``. ``reason`` says why it killed."""

    def __init__(self, pid, memory_bytes, folder=None, folder_bytes=None, interval=WATCH_INTERVAL_S, log=None):
        super().__init__(daemon=True, name=f"sandbox-watchdog-{pid}")
        self.pid, self.memory_bytes, self.folder, self.folder_bytes = pid, memory_bytes, folder, folder_bytes
        self.interval, self.log, self.reason, self.peak = interval, log, None, 0
        self.processes = ProcessTree(pid)
        self._halt = threading.Event()

    def stop(self):
        self._halt.set()

    def _folder_bytes(self):
        total, n = 0, 0
        for dirpath, dirs, files in os.walk(self.folder):
            for name in dirs + files:
                n += 1
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
            if n > 64:
                return max(total, self.folder_bytes + 1)
        return total

    def sample(self):
        """The sandbox's processes' summed RSS now, in bytes; None once the sandbox has ended."""
        pids = self.processes.scan()
        if not pids or self.processes.root_ended():
            return None
        return self.processes.rss_bytes(pids)

    def run(self):
        while not self._halt.wait(self.interval):
            rss = self.sample()
            if rss is None:
                return
            self.peak = max(self.peak, rss)
            why = None
            if self.memory_bytes and rss > self.memory_bytes + WATCH_SLACK_BYTES:
                why = (f"grading sandbox: the submission's processes used {rss / MiB:.0f} MiB together, "
                       f"past the {self.memory_bytes / MiB:.0f} MiB cap: kernel stopped")
            elif self.folder and self.folder_bytes is not None and self._folder_bytes() > self.folder_bytes:
                why = "grading sandbox: the kernel wrote files into its connection folder: kernel stopped"
            if why:
                self.reason = why
                if self.log:
                    self.log.error(why)
                print(why, file=sys.stderr, flush=True)
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
