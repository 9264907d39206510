"""All performance figures of docs/performance.md in one run: training, then grading.

    python -m bench.bench_all            # 35,000 iterations; 20 submissions
    python -m bench.bench_all --quick    # 5,000 iterations; 4 submissions

Runs ``bench_training.py`` (plain textbook engine vs utils, ratios,
bit-identity, start-up) and ``bench_grading.py`` (seconds per submission,
where the time goes, 1 vs 2 Dask workers, peak memory).
"""

import argparse

from bench import bench_grading, bench_training


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
