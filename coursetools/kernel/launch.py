"""Start a grading kernel under resource limits: ``python launch.py --memory N -- CMD...``.

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
- in the grading sandbox (``sandbox.py``): ``--scratch-from``/``--scratch-into``
  copy the submission (regular files only, never through a link) into the
  sandbox's writable tmpfs, except the ``--scratch-skip`` entries (the
  course's read-only files mounted there); ``--seed SRC DEST`` copies a
  folder the grader prepared (matplotlib's font list) into a writable one;
  ``--drop-to UID`` switches from the namespace's root to the real
  unprivileged uid first (a grader running as root); ``--processes N``
  sets ``RLIMIT_NPROC`` (processes and threads of the sandbox: Linux counts
  it per user namespace).
- ``--threads N``: sets ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` to N. OpenBLAS reserves a buffer per thread, so on a
  machine with many cores a kernel could reach the memory cap just by
  importing numpy; and one thread per kernel is what parallel grading wants.

Only the standard library is imported here: this runs before every kernel.
"""

import argparse
import os
import resource
import stat
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


def copy_scratch(src, dest, skip=()):
    """Copy folder ``src`` into ``dest`` (the sandbox's scratch tmpfs): folders and regular files only.

    Entries named in ``skip`` (the course's read-only files mounted there)
    are left alone; links and special files are never followed; a full
    scratch folder stops the copy with a note on stderr (the kernel starts anyway).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    for dirpath, dirs, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip]
        target = dest if rel == "." else os.path.join(dest, rel)
        os.makedirs(target, exist_ok=True)
        for name in files:
            try:
                fd = os.open(os.path.join(dirpath, name), flags)
            except OSError:
                continue  # a link (O_NOFOLLOW) or unreadable
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                out = os.open(os.path.join(target, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                try:
                    while chunk := os.read(fd, 1 << 20):
                        os.write(out, chunk)
                finally:
                    os.close(out)
            except OSError as exc:
                print(f"grading sandbox: the submission's files do not fit in the scratch folder ({exc.strerror})",
                      file=sys.stderr)
                return
            finally:
                os.close(fd)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=0, help="address-space limit in bytes (0: none)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU-time limit in seconds (0: none)")
    parser.add_argument("--file-size", type=int, default=0, help="largest file the kernel may write, in bytes (0: none)")
    parser.add_argument("--threads", type=int, default=0, help="BLAS/OpenMP threads of the kernel (0: unchanged)")
    parser.add_argument("--processes", type=int, default=0, help="processes and threads (RLIMIT_NPROC; 0: none)")
    parser.add_argument("--drop-to", type=int, default=None, help="sandbox started by root: switch to this uid/gid first")
    parser.add_argument("--scratch-from", help="sandbox: copy this folder's files into --scratch-into first")
    parser.add_argument("--scratch-into", help="sandbox: the kernel's writable working folder")
    parser.add_argument("--scratch-skip", action="append", default=[], help="sandbox: an entry not to copy (repeatable)")
    parser.add_argument("--seed", nargs=2, action="append", default=[], metavar=("SRC", "DEST"),
                        help="sandbox: copy folder SRC into DEST, made if missing (repeatable)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the kernel's command line")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no kernel command given after --")
    if args.drop_to is not None:  # never run a submission as the real uid 0: RLIMIT_NPROC would not hold
        os.setgroups([])
        os.setresgid(args.drop_to, args.drop_to, args.drop_to)
        os.setresuid(args.drop_to, args.drop_to, args.drop_to)
    if args.scratch_from and args.scratch_into:
        copy_scratch(args.scratch_from, args.scratch_into, set(args.scratch_skip))
    for src, dest in args.seed:
        copy_scratch(src, dest)
    _limit(resource.RLIMIT_NPROC, args.processes)
    _limit(resource.RLIMIT_AS, args.memory)
    _limit(resource.RLIMIT_CPU, args.cpu)
    _limit(resource.RLIMIT_FSIZE, args.file_size)
    if args.threads > 0:
        for var in THREAD_VARIABLES:
            os.environ[var] = str(args.threads)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
