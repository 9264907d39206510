"""Start a grading kernel under resource limits: ``python kernel_launch.py --memory N -- CMD...``.

The grading kernel manager (:mod:`coursetools.plugins.execute`) puts this
script in front of the kernel's command line. It lowers the process's own
limits with :func:`resource.setrlimit`, then replaces itself with the kernel
(``os.execv``), so the kernel keeps the same process id (interrupts and the
liveness check still reach it) and inherits the limits, as do any processes
the student's code starts.

- ``--memory BYTES``: ``RLIMIT_AS``, the size of the address space. An
  allocation past it fails inside the kernel (``MemoryError`` in numpy or
  Python) instead of exhausting the machine.
- ``--cpu SECONDS``: ``RLIMIT_CPU``, CPU seconds for the whole kernel; past it
  the kernel is killed (a wall-clock cell timeout normally fires first).
- ``--file-size BYTES``: ``RLIMIT_FSIZE``, the largest file the kernel may write.
- ``--threads N``: sets ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` to N. OpenBLAS reserves a buffer per thread, so on a
  machine with many cores a kernel could reach the memory cap just by
  importing numpy; and one thread per kernel is what parallel grading wants.

Only the standard library is imported here: this runs before every kernel.
"""

import argparse
import os
import resource
import sys


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _limit(kind, value):
    """Lower the soft and hard limit ``kind`` to ``value`` (never raise an existing lower limit)."""
    if not value or value <= 0:
        return
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=0, help="address-space limit in bytes (0: none)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU-time limit in seconds (0: none)")
    parser.add_argument("--file-size", type=int, default=0, help="largest file the kernel may write, in bytes (0: none)")
    parser.add_argument("--threads", type=int, default=0, help="BLAS/OpenMP threads of the kernel (0: unchanged)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the kernel's command line")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no kernel command given after --")
    _limit(resource.RLIMIT_AS, args.memory)
    _limit(resource.RLIMIT_CPU, args.cpu)
    _limit(resource.RLIMIT_FSIZE, args.file_size)
    if args.threads > 0:
        for var in THREAD_VARIABLES:
            os.environ[var] = str(args.threads)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
