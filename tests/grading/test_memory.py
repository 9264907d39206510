"""PeakMemory reports the grading run's processes: each one's peak and their summed peak."""

import subprocess
import sys
import time

from coursetools.grading.memory import PeakMemory

MiB = 1024**2
HOLD = "import sys, time; a = bytearray({n} * 2**20); a[::4096] = b'x' * len(a[::4096]); print('ok', flush=True); time.sleep(0.8)"


def test_peak_memory_sees_children_and_grandchildren():
    code = ("import subprocess, sys; g = subprocess.Popen([sys.executable, '-c', {inner!r}]); "
            "exec({outer!r}); g.wait()").format(inner=HOLD.format(n=60), outer=HOLD.format(n=40))
    with PeakMemory(interval=0.02) as mem:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        proc.communicate(timeout=60)
        time.sleep(0.05)
    assert mem.single >= 60 * MiB, mem.single  # the grandchild alone
    assert mem.tree >= 100 * MiB, mem.tree  # child and grandchild together
    assert mem.tree < 400 * MiB
