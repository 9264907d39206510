"""All performance figures of docs/performance.md in one run: training, then grading.

    python bench/bench_all.py            # 35,000 iterations; 20 submissions
    python bench/bench_all.py --quick    # 5,000 iterations; 4 submissions

Runs ``bench_training.py`` (plain textbook engine vs utils, ratios,
bit-identity, start-up cost) and ``bench_grading.py`` (seconds per submission,
where the time goes, 1 vs 2 Dask workers, peak memory).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_grading  # noqa: E402
import bench_training  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer iterations and submissions")
    args = ap.parse_args(argv)
    print("######## training ########")
    bench_training.main(["--iterations", "5000"] if args.quick else [])
    print("\n######## grading ########")
    bench_grading.main(["-n", "4"] if args.quick else [])


if __name__ == "__main__":
    main()
