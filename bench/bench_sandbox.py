"""What the grading sandbox costs: time per submission and memory of a sandboxed kernel.

    python -m bench.bench_sandbox            # 6 kernels each way
    python -m bench.bench_sandbox -n 12

Prints:

1. the start of an empty sandbox (``bwrap ... true``) and, when run as root,
   the user namespace made for each kernel;
2. a grading kernel's life (start, one cell importing numpy and the course's
   ``utils``, shutdown) with the sandbox and without (``unsafe_no_sandbox``),
   alternating, median of ``n`` each: the difference is the sandbox's cost
   per submission (goal: at most 0.2 s);
3. memory: the resident memory of the sandbox's processes (two ``bwrap``
   processes and the kernel) next to the same kernel unsandboxed;
4. the memory cap across processes: four children of 930 MiB each under a
   1.5 GiB cap, the peak the watchdog saw and how long it took to stop them;
5. one watchdog sample (find the sandbox's processes, sum their memory) next
   to a ``psutil`` scan of the process tree, which reads every process of the
   machine: the watchdog samples 20 times a second for every kernel.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from coursetools.layout import CourseLayout
from coursetools.settings import COURSE, DEFAULT_ASSIGNMENT

ASSIGNMENT = DEFAULT_ASSIGNMENT
MiB = 1024**2


def scratch_course(dest):
    """source/<assignment>/ with the course's utils and data, and one submission folder: what the kernel sees."""
    src = COURSE.source(ASSIGNMENT)
    scratch = CourseLayout(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.ipynb", ".ipynb_checkpoints")
    shutil.copytree(src, scratch.source(ASSIGNMENT), ignore=ignore)
    sub = scratch.submitted("alice", ASSIGNMENT)
    shutil.copytree(src, sub, ignore=ignore)
    return dest, sub


def kernel_life(course, cwd, unsafe, cells, memory=1536 * MiB):
    """Seconds for start + cells + shutdown; the peak RSS of the kernel's processes; the watchdog."""
    import psutil
    from nbclient import NotebookClient
    from traitlets.config import Config

    from coursetools.plugins.execute import CappedKernelManager

    c = Config()
    c.CourseDirectory.root = str(course)
    c.Sandbox.unsafe_no_sandbox = unsafe
    c.CappedKernelManager.memory_limit_bytes = memory
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    client = NotebookClient(nb, kernel_manager_class=CappedKernelManager, timeout=120, config=c, allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    rss, km = 0, None
    t0 = time.perf_counter()
    try:
        with client.setup_kernel():
            km = client.km
            for i, cell in enumerate(nb.cells):
                client.execute_cell(cell, i)
            proc = psutil.Process(client.km.provisioner.process.pid)
            rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except Exception as exc:  # a kernel the watchdog stopped
        return time.perf_counter() - t0, rss, km.last_watchdog if km else None, exc
    return time.perf_counter() - t0, rss, km.last_watchdog, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=6, help="kernels each way (default: %(default)s)")
    args = parser.parse_args(argv)

    from coursetools.security import sandbox

    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, running as uid {os.geteuid()}, "
          f"bwrap {subprocess.run(['bwrap', '--version'], capture_output=True, text=True).stdout.split()[-1]}")
    exe = sandbox.check_available()
    true = shutil.which("true")
    times = []
    for _ in range(20):
        fd = sandbox.root_userns() if sandbox.runs_as_root() else None
        t0 = time.perf_counter()
        subprocess.run([exe, *sandbox._namespace_args(fd), *sandbox._system_args(), "--", true],
                       check=True, pass_fds=(fd,) if fd else ())
        times.append(time.perf_counter() - t0)
        if fd:
            os.close(fd)
    print(f"1. empty sandbox (bwrap ... true): median {statistics.median(times) * 1000:.1f} ms")
    if sandbox.runs_as_root():
        ns = []
        for _ in range(20):
            t0 = time.perf_counter()
            os.close(sandbox.root_userns())
            ns.append(time.perf_counter() - t0)
        print(f"   user namespace per kernel (grader is root): median {statistics.median(ns) * 1000:.1f} ms")

    cells = ["import numpy as np\nfrom utils import *\nprint(softmax(np.zeros((3, 1))).sum())"]
    with tempfile.TemporaryDirectory() as tmp:
        course, cwd = scratch_course(Path(tmp))
        kernel_life(course, cwd, True, cells)  # warm the file cache
        box, plain, box_rss, plain_rss = [], [], [], []
        for _ in range(args.n):
            s, r, _, err = kernel_life(course, cwd, False, cells)
            assert err is None, err
            box.append(s), box_rss.append(r)
            s, r, _, err = kernel_life(course, cwd, True, cells)
            assert err is None, err
            plain.append(s), plain_rss.append(r)
        mb, mp = statistics.median(box), statistics.median(plain)
        print(f"2. kernel start + one cell + shutdown, median of {args.n}: sandboxed {mb:.2f} s, "
              f"unsandboxed {mp:.2f} s: the sandbox costs {mb - mp:+.2f} s per submission (goal <= 0.2 s)")
        print(f"3. memory after numpy + utils: sandboxed kernel with its bwrap processes "
              f"{statistics.median(box_rss) / MiB:.0f} MiB, unsandboxed kernel {statistics.median(plain_rss) / MiB:.0f} MiB")
        hog = ("import subprocess, sys, time\n"
               "code = 'import numpy as np, time; a = np.ones(930 * 2**20 // 8); time.sleep(60)'\n"
               "procs = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(4)]\n"
               "time.sleep(40)")
        s, _, watchdog, err = kernel_life(course, cwd, False, [hog])
        peak = watchdog.peak / MiB if watchdog else float("nan")
        print(f"4. four children of 930 MiB, cap 1536 MiB: stopped={err is not None}, peak seen {peak:.0f} MiB "
              f"(without the watchdog: about {4 * 930 + 60} MiB), kernel life {s:.1f} s")
    incremental, tree = watchdog_sample_ms(exe)
    print(f"5. one watchdog sample: {incremental:.2f} ms (a psutil scan of the process tree: {tree:.2f} ms; "
          f"{len(os.listdir('/proc'))} entries in /proc): {incremental * 20 / 10:.2f}% of a core at 20 samples a second")


def watchdog_sample_ms(exe, repeat=200):
    """Milliseconds per watchdog sample of a bwrap PID namespace holding three processes, and per psutil tree scan."""
    import psutil

    from coursetools.security.watchdog import Watchdog

    cmd = [exe, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "--die-with-parent",
           "--", "sh", "-c", "sleep 60 & sleep 60 & echo ready; wait"]
    box = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        box.stdout.readline()
        watchdog = Watchdog(box.pid, 0)
        watchdog.sample()
        t0 = time.perf_counter()
        for _ in range(repeat):
            watchdog.sample()
        incremental = (time.perf_counter() - t0) / repeat * 1000
        proc = psutil.Process(box.pid)
        t0 = time.perf_counter()
        for _ in range(repeat):
            sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
        return incremental, (time.perf_counter() - t0) / repeat * 1000
    finally:
        box.kill()
        box.wait()


if __name__ == "__main__":
    main()
