"""Grading paths side by side, in one run: stock nbgrader against the course's safe path.

    python -m bench.bench_grading_paths                 # N = 6 copies of the solution submission, 2 rounds
    python -m bench.bench_grading_paths -n 20 --rounds 3

Prints, for scratch courses in ``.build/bench-grading-paths/`` (the real course
is never touched), seconds per submission and peak memory of:

1. **stock nbgrader**: a minimal ``nbgrader_config.py`` (course id, cell
   timeout, restore deleted cells), nbgrader's own Execute: tests run in the
   student's kernel; one ``nbgrader autograde`` for the class;
2. **the course's config, one ``nbgrader autograde`` for the class**: the
   safe path (sandboxed kernels, graded tests in the grader, caps);
3. **``python -m coursetools grade``**: the same, one nbgrader process per
   student (forked from a warm server that paid nbgrader's imports once),
   with pre-checks, clean copies, gradebook checks and statuses (what
   instructors run);
4. **``grade-parallel``** with 1 and 2 Dask workers, and the speed-up, next to
   the machine's ceiling (two CPU-bound processes against one).

Memory: the peak summed RSS of everything the run started (nbgrader, kernels,
sandboxes, workers), and per worker for grade-parallel. CPU: the machine's busy
CPU seconds per submission (``/proc/stat``, every process of the machine: run it
on a quiet machine), the figure that bounds a batch on 2 cores: a path that keeps
more than one core busy cannot run twice as fast with 2 workers. The machine's load is
printed with the figures: on a shared machine, compare rows of one run only.
The paths run one after the other in rounds, and each path's best round is
reported, so a slow minute of the machine does not fall on one path only.
"""

import argparse
import os
import shutil
import time

from bench.bench_grading import ASSIGNMENT, build_course
from coursetools.course import run_nbgrader
from coursetools.grading import parallel
from coursetools.grading.sequential import grade_batch
from coursetools.grading.memory import PeakMemory
from coursetools.grading.report import cell_scores
from coursetools.layout import CourseLayout
from coursetools.settings import CELL_TIMEOUT_S, COURSE, COURSE_ID

BENCH_DIR = COURSE.scratch / "bench-grading-paths"
STOCK_CONFIG = f"""c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {COURSE_ID!r}
c.Execute.timeout = {CELL_TIMEOUT_S}
c.OverwriteCells.add_missing_cells = True
"""


def _spin(_=None):
    t0, x = time.perf_counter(), 0
    for i in range(15_000_000):
        x += i
    return time.perf_counter() - t0


def parallel_ceiling(workers=2):
    """How much faster ``workers`` CPU-bound processes finish than one after the other, on this machine now.

    Two vCPUs that are hyperthreads of one core, or a shared host, give less than 2x: no grader can beat this.
    """
    import multiprocessing

    alone, together = [], []
    with multiprocessing.Pool(workers) as pool:
        for _ in range(3):  # interleaved, best of three: the machine's speed drifts
            alone.append(_spin())
            t0 = time.perf_counter()
            pool.map(_spin, range(workers), chunksize=1)
            together.append(time.perf_counter() - t0)
    return workers * min(alone) / min(together)


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (Linux ``/proc/stat``; 0 elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # without guest time (counted in user already)


def _total(course):
    rows = cell_scores(course, ASSIGNMENT)
    students = {r.student for r in rows}
    return sum(r.score for r in rows), len(students)


def _reset(course):
    shutil.rmtree(CourseLayout(course).autograded(), ignore_errors=True)


def _stock(course, stock):
    run_nbgrader(["autograde", ASSIGNMENT, "--force"], stock)


def _safe(course, stock):
    run_nbgrader(["autograde", ASSIGNMENT, "--force"], course)


def _grade(course, stock):
    _reset(course)
    grade_batch(course, ASSIGNMENT, log=lambda *a: None)


def _parallel(workers):
    def run(course, stock):
        _reset(course)
        parallel.grade_parallel(course, ASSIGNMENT, workers=workers, progress=False, log=lambda *a: None)
    return run


PATHS = {  # name: (what it runs, whether the grader process itself counts in the memory figure)
    "stock nbgrader (one autograde, minimal config)": (_stock, False),
    "safe path (one autograde, course config)": (_safe, False),
    "python -m coursetools grade (per student)": (_grade, False),
    "grade-parallel, 1 worker": (_parallel(1), True),
    "grade-parallel, 2 workers": (_parallel(2), True),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=6, help="copies of the solution submission (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds of all paths, interleaved; the best round of each path is reported "
                         "(the machine's speed drifts; default: %(default)s)")
    args = ap.parse_args(argv)
    n = args.n
    print(f"building {n} submissions in {BENCH_DIR} ...")
    course = build_course(n, BENCH_DIR / "course")
    stock = BENCH_DIR / "stock"
    if stock.exists():
        shutil.rmtree(stock)
    shutil.copytree(course, stock)
    CourseLayout(stock).config.write_text(STOCK_CONFIG)
    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}\n")
    seconds = {name: [] for name in PATHS}
    cpu = {name: [] for name in PATHS}
    memory = {name: 0 for name in PATHS}
    for r in range(args.rounds):
        for name, (run, include_self) in PATHS.items():
            with PeakMemory(include_self=include_self) as mem:
                t0, c0 = time.perf_counter(), busy_cpu_seconds()
                run(course, stock)
                seconds[name].append(time.perf_counter() - t0)
                cpu[name].append(busy_cpu_seconds() - c0)
            memory[name] = max(memory[name], mem.tree)
            print(f"round {r + 1}: {name:<48} {seconds[name][-1] / n:6.2f} s/submission, "
                  f"{cpu[name][-1] / n:5.1f} CPU s/submission", flush=True)
    print(f"\nbest of {args.rounds} round(s), {n} submissions each (scores: stock {_total(stock)[0]:g}, "
          f"course {_total(course)[0]:g}):")
    best = {name: min(times) / n for name, times in seconds.items()}
    for name in PATHS:
        workers = 2 if name.endswith("2 workers") else 1
        per_worker = f"  ({memory[name] / workers / 2**20:.0f} MiB per worker)" if name.startswith("grade-parallel") else ""
        print(f"{name:<48} {best[name]:6.2f} s/submission  {min(cpu[name]) / n:5.1f} CPU s/submission  "
              f"peak memory {memory[name] / 2**20:6.0f} MiB{per_worker}")
    stock_s = best["stock nbgrader (one autograde, minimal config)"]
    print(f"\nsafe path / stock: {best['safe path (one autograde, course config)'] / stock_s:.2f}x the time; "
          f"course grade / stock: {best['python -m coursetools grade (per student)'] / stock_s:.2f}x the time; "
          f"grade-parallel 2 workers over 1: "
          f"{best['grade-parallel, 1 worker'] / best['grade-parallel, 2 workers']:.2f}x faster "
          f"(the machine's ceiling: two CPU-bound processes finish {parallel_ceiling(2):.2f}x faster than one "
          f"after the other); load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
