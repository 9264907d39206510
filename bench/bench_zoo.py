"""Wall time of autograding the submission zoo with the robust batch (sequential, capped kernels).

    python -m bench.bench_zoo                 # the whole zoo (a few minutes)
    python -m bench.bench_zoo correct untouched   # some entries

Prints the time per submission, per status, the total, and the machine's load
average (the figures depend on it: other jobs share the CPUs).
"""

import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from coursetools.grading.sequential import grade_batch
from zoo.build import ASSIGNMENT, ZOO, ZOO_SUBMISSION_TIMEOUT_S, build_zoo


def main(names):
    zoo = [e for e in ZOO if not names or e.name in names]
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        t0 = time.perf_counter()
        build_zoo(course, zoo=zoo)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = grade_batch(course, ASSIGNMENT, timeout_s=ZOO_SUBMISSION_TIMEOUT_S, log=lambda *_: None)
        wall = time.perf_counter() - t0
    by_status = defaultdict(list)
    for r in results:
        by_status[r.status].append(r.seconds)
        print(f"{r.student:26s} {r.status:18s} {r.seconds:6.1f} s")
    print()
    for status, secs in sorted(by_status.items()):
        print(f"{status:18s} {len(secs):3d} submission(s), {sum(secs):6.1f} s, {sum(secs) / len(secs):5.1f} s each")
    print(f"build (generate_assignment + {len(zoo)} notebooks): {built:.1f} s")
    print(f"autograde of {len(results)} submissions: {wall:.1f} s")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main(sys.argv[1:])
