"""Autograding speed and memory: N copies of the solution, sequential and on Dask.

    python -m bench.bench_grading              # N = 20 copies of the solution submission
    python -m bench.bench_grading -n 6         # quicker

Prints, for a scratch course in ``.build/bench-grading/`` (the real course is
never touched):

1. ``nbgrader autograde`` of all N submissions in one nbgrader process (its
   own batch): seconds per submission, amortised;
2. where the time of one submission goes: nbgrader's start-up, the kernel's
   start, and the notebook's cells grouped as imports, training/model tests,
   other tests (from the cell timings nbgrader records);
3. ``python -m coursetools grade-parallel`` (one isolated ``nbgrader
   autograde`` per student, on a Dask LocalCluster) with 1 and 2 workers:
   seconds per submission and the speed-up of 2 workers over 1;
4. memory: the peak RSS of one grading kernel and of nbgrader with its
   kernel, and the peak RSS of the whole batch (client, scheduler, workers,
   nbgrader processes and kernels), sampled every 50 ms.
"""

import argparse
import os
import shutil
import time
from datetime import datetime
from coursetools.grading import parallel
from coursetools.grading.memory import PeakMemory
from coursetools.course import add_submission, make_course, run_nbgrader
from coursetools.grading.report import cell_scores
from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
BENCH_DIR = COURSE.scratch / "bench-grading"
TRAINING_CELLS = {"test-model-published", "test-model-hidden", "train", "plot-loss"}


def build_course(n, dest):
    """Scratch course with the current top-level utils/ and data (what the release command ships)."""
    course = make_course(dest, [ASSIGNMENT])
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    for i in range(n):
        add_submission(course, f"student{i:03d}", ASSIGNMENT, CourseLayout(course).source(ASSIGNMENT))
    return course


def _ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def cell_breakdown(course, student):
    """Seconds per group of cells of one autograded notebook, from nbgrader's recorded cell timings."""
    import nbformat

    nb = nbformat.read(CourseLayout(course).autograded(student, ASSIGNMENT) / NOTEBOOK, as_version=4)
    groups = {"imports": 0.0, "training (model tests, train cell)": 0.0, "other cells and tests": 0.0}
    first = last = None
    for cell in nb.cells:
        ex = cell.metadata.get("execution") or {}
        if cell.cell_type != "code" or "iopub.execute_input" not in ex:
            continue
        start, end = _ts(ex["iopub.execute_input"]), _ts(ex["shell.execute_reply"])
        first, last = first if first is not None else start, end
        gid = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id")
        if gid == "imports":
            groups["imports"] += end - start
        elif gid in TRAINING_CELLS:
            groups["training (model tests, train cell)"] += end - start
        else:
            groups["other cells and tests"] += end - start
    return groups, (last - first) if first is not None else 0.0


def kernel_start_seconds(repeat=3):
    from jupyter_client import KernelManager

    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        km = KernelManager(kernel_name="python3")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        dt = time.perf_counter() - t
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        best = dt if best is None else min(best, dt)
    return best


def _children_cpu():
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def nbgrader_batch(course, n):
    """Wall and CPU seconds (nbgrader and its kernels) of one ``nbgrader autograde`` of everything."""
    shutil.rmtree(CourseLayout(course).autograded(), ignore_errors=True)
    t, c = time.perf_counter(), _children_cpu()
    run_nbgrader(["autograde", ASSIGNMENT, "--force"], course)
    total, cpu = time.perf_counter() - t, _children_cpu() - c
    scores = {(r.student, r.cell): r.score for r in cell_scores(course, ASSIGNMENT)}
    full = all(scores[(f"student{i:03d}", c)] > 0 for i in range(n) for c in {c for _, c in scores})
    return total, cpu, full


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--submissions", type=int, default=20)
    ap.add_argument("--skip-parallel", action="store_true")
    args = ap.parse_args(argv)
    n = args.submissions
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; {n} copies of the solution submission")

    course = build_course(n, BENCH_DIR / "course")
    t = time.perf_counter()
    run_nbgrader(["autograde", ASSIGNMENT, "--student=nobody", "--force"], course, check=False)
    nbgrader_start = time.perf_counter() - t  # start-up, config, gradebook, no notebook
    kernel_start = kernel_start_seconds()

    print("\n== nbgrader autograde, all submissions in one nbgrader process")
    total, cpu, full = nbgrader_batch(course, n)
    per = [cell_breakdown(course, f"student{i:03d}") for i in range(n)]  # averaged over the class
    groups = {g: sum(p[0][g] for p in per) / n for g in per[0][0]}
    cells = sum(p[1] for p in per) / n
    print(f"{total:6.1f} s for {n} -> {total / n:5.2f} s per submission, "
          f"CPU {cpu / n:5.2f} s per submission (all full marks: {full})")

    print("\n== where the time of one submission goes, wall clock, mean of the class")
    print(f"nbgrader start-up, no submission (per process) {nbgrader_start:5.2f} s")
    print(f"kernel start (jupyter_client, per notebook)     {kernel_start:5.2f} s")
    for g in groups:
        print(f"{g:46s}  {groups[g]:5.2f} s")
    print(f"{'all cells':46s}  {cells:5.2f} s")

    if args.skip_parallel:
        return
    print("\n== grade-parallel: one isolated nbgrader per student, Dask LocalCluster")
    timing = {}
    for workers in (1, 2):
        shutil.rmtree(CourseLayout(course).autograded(), ignore_errors=True)
        with PeakMemory(include_self=True) as mem:
            rep = parallel.grade_parallel(course, ASSIGNMENT, workers=workers, progress=False, log=lambda *a: None)
        ok = sum(o.result["status"] == "graded" for o in rep.outcomes)
        timing[workers] = rep.seconds
        kernel_peak = max(o.peak_kernel_rss for o in rep.outcomes)
        tree_peak = max(o.peak_tree_rss for o in rep.outcomes)
        print(f"{workers} worker(s): {rep.seconds:6.1f} s -> {rep.seconds / n:5.2f} s per submission ({ok}/{n} graded)")
        print(f"   peak RSS: one grading kernel {kernel_peak / 2**20:5.0f} MiB, nbgrader + kernel "
              f"{tree_peak / 2**20:5.0f} MiB, whole batch {mem.tree / 2**20:5.0f} MiB")
    print(f"speed-up of 2 workers over 1: {timing[1] / timing[2]:.2f}x")


if __name__ == "__main__":
    main()
