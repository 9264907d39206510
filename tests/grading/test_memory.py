"""PeakMemory reports the grading run's processes: each one's peak and their summed peak."""

import subprocess
import sys

MiB = 1024**2
HOLD = "import time; a = bytearray({n} * 2**20); a[::4096] = b'x' * len(a[::4096]); time.sleep(0.8)"
# A child holding 40 MiB that starts a grandchild holding 60 MiB (argv[1]: the child's code, argv[2]: the grandchild's).
CHILD = "import subprocess, sys; g = subprocess.Popen([sys.executable, '-c', sys.argv[2]]); exec(sys.argv[1]); g.wait()"
# Measured in a process of its own: the test runner's other descendants (a hub, kernels) are not ours.
MEASURE = """
import subprocess, sys
from coursetools.grading.memory import PeakMemory
with PeakMemory(interval=0.02) as mem:
    subprocess.run([sys.executable, "-c", *sys.argv[1:]], check=True, timeout=60)
print(mem.single, mem.tree)
"""


def test_peak_memory_sees_children_and_grandchildren():
    out = subprocess.run([sys.executable, "-c", MEASURE, CHILD, HOLD.format(n=40), HOLD.format(n=60)],
                         capture_output=True, text=True, timeout=120, check=True)
    single, tree = (int(x) for x in out.stdout.split())
    assert 60 * MiB <= single < 120 * MiB, single  # the grandchild alone
    assert 100 * MiB <= tree < 250 * MiB, tree  # child and grandchild together, nothing else
