"""The sandbox watchdog finds every process of one sandbox, and only those, without rescanning the machine."""

import subprocess
import sys
import time

import pytest

from coursetools.security import watchdog as sandbox_watchdog
from coursetools.security.watchdog import ProcessTree, Watchdog

from .test_sandbox import MiB

TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                          "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                          "print(g.pid, flush=True); g.wait(); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(60)
"""


@pytest.fixture
def tree():
    """A process with a child and a grandchild; yields (root, child, grandchild) pids."""
    root = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    child, grandchild = (int(x) for x in root.stdout.readline().split())
    yield root.pid, child, grandchild
    for pid in (grandchild, child):
        try:
            subprocess.run(["kill", "-9", str(pid)], check=False)
        except OSError:
            pass
    root.kill()
    root.wait()


def test_scan_finds_the_tree_and_nothing_else(tree):
    root, child, grandchild = tree
    outsider = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        procs = ProcessTree(root)
        assert procs.scan() == [root, *sorted((child, grandchild))]
        assert procs.namespace is None  # no bwrap here: the children share the root's PID namespace
        assert outsider.pid not in procs.verdicts or procs.verdicts[outsider.pid] is False
        assert procs.rss_bytes(procs.scan()) > 3 * MiB  # three Python processes
    finally:
        outsider.kill()
        outsider.wait()


def test_scan_looks_at_each_process_once_and_forgets_ended_ones(tree, monkeypatch):
    root, child, grandchild = tree
    procs = ProcessTree(root)
    procs.scan()
    reads = []
    real = sandbox_watchdog._stat_fields
    monkeypatch.setattr(sandbox_watchdog, "_stat_fields", lambda pid: reads.append(pid) or real(pid))
    assert grandchild in procs.scan()
    assert not set(reads) & {root, child, grandchild}, "a second scan reads no known process's state again"
    subprocess.run(["kill", "-9", str(grandchild)], check=True)
    for _ in range(100):
        if grandchild not in procs.scan():
            break
        time.sleep(0.05)
    assert grandchild not in procs.scan() and grandchild not in procs.verdicts


def test_scan_of_an_ended_root_is_empty():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    procs = ProcessTree(p.pid)
    assert procs.scan() == []
    watchdog = Watchdog(p.pid, 10 * MiB)
    assert watchdog.sample() is None


def test_watchdog_kills_a_tree_past_the_cap(tree, monkeypatch):
    """Three idle interpreters against a 1 MiB cap with no slack: the watchdog kills the root and says why."""
    root, _, _ = tree
    monkeypatch.setattr(sandbox_watchdog, "WATCH_SLACK_BYTES", 0)
    watchdog = Watchdog(root, 1 * MiB, interval=0.01)
    watchdog.start()
    watchdog.join(10)
    assert not watchdog.is_alive()
    assert "past the 1 MiB cap" in watchdog.reason
    assert watchdog.peak > 3 * MiB


def test_a_bwrap_pid_namespace_is_learnt_and_its_processes_found():
    """bwrap --unshare-pid: the scan learns the sandbox's namespace from bwrap's child and finds every process."""
    cmd = ["bwrap", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "--die-with-parent",
           "--", "sh", "-c", "sleep 30 & sleep 30 & echo ready; wait"]
    bwrap = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert bwrap.stdout.readline().strip() == "ready"
        procs = ProcessTree(bwrap.pid)
        pids = procs.scan()
        assert procs.namespace is not None and procs.namespace.startswith("pid:[")
        inside = [p for p in pids if p != bwrap.pid]
        assert len(inside) == 4, pids  # bwrap's init, sh, two sleeps
        assert all(sandbox_watchdog._pid_namespace(p) == procs.namespace for p in inside)
    finally:
        bwrap.kill()
        bwrap.wait()
