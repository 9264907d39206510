"""How far the notebook's 35,000-iteration training drifts between OpenBLAS kernels.

The numpy RNN with N(0, 1)-scaled weights is chaotic: a last-bit difference in a
BLAS kernel's summation order grows until, some thousands of iterations in, the
printed loss and sampled names differ between machines. This runs the reference
solution's training once per ``OPENBLAS_CORETYPE`` (each in its own subprocess;
only kernels this CPU can execute) and prints, per checkpoint, every kernel's
loss, the spread, and whether the sampled names agree.

Its figures set ``EXACT_UNTIL`` and ``LATE_LOSS_RANGE`` in
``training/expected_output.py``: what the notebook's Expected output marks as
machine-dependent and what the tests accept there. The tests never set
``OPENBLAS_CORETYPE``; only this benchmark does, in its subprocesses.

    python bench/bench_blas_spread.py [--kernels HASWELL ZEN ...] [--iterations 35000]
"""

import argparse
import json
import os
import subprocess
import sys

# x86_64 kernels of numpy's OpenBLAS (DYNAMIC_ARCH) that need at most AVX2.
DEFAULT_KERNELS = ("PRESCOTT", "NEHALEM", "SANDYBRIDGE", "HASWELL", "ZEN")

CHILD = """
import json, sys
from threadpoolctl import threadpool_info
from training.expected_output import checkpoints, reference_training_output
text = reference_training_output(int(sys.argv[1]))
arch = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
print(json.dumps({"kernel": arch[0] if arch else None, "checkpoints": checkpoints(text)}))
"""


def run_kernel(kernel, iterations):
    env = dict(os.environ)
    if kernel != "default":
        env["OPENBLAS_CORETYPE"] = kernel  # this benchmark's subprocess only
    result = subprocess.run([sys.executable, "-c", CHILD, str(iterations)], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return None, result.stderr.strip().splitlines()[-1:] or ["exit %d" % result.returncode]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return data, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", nargs="+", default=["default", *DEFAULT_KERNELS])
    parser.add_argument("--iterations", type=int, default=35000)
    args = parser.parse_args(argv)
    runs = {}
    for kernel in args.kernels:
        data, error = run_kernel(kernel, args.iterations)
        if error:
            print(f"{kernel:>12}: could not run ({error[0]})")
            continue
        print(f"{kernel:>12}: ran OpenBLAS kernel {data['kernel']}", flush=True)
        runs[kernel] = {int(k): v for k, v in data["checkpoints"].items()}
    if not runs:
        return 1
    kernels = list(runs)
    first = runs[kernels[0]]
    print(f"\n{'iteration':>9}  " + "  ".join(f"{k[:10]:>10}" for k in kernels) + "      spread  names agree")
    for it in sorted(first):
        losses = [runs[k][it][0] for k in kernels]
        names_agree = all(runs[k][it][1] == first[it][1] for k in kernels)
        print(f"{it:>9}  " + "  ".join(f"{x:>10.6f}" for x in losses)
              + f"  {max(losses) - min(losses):>10.6f}  {'yes' if names_agree else 'NO'}")
    late = [runs[k][it][0] for k in kernels for it in first if any(
        runs[j][it] != first[it] for j in kernels)]
    if late:
        print(f"\nlosses at checkpoints that differ between kernels: min {min(late):.6f}, max {max(late):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
