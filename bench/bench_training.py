"""Training speed: the plain textbook engine vs the course's utils, side by side, same run.

    python -m bench.bench_training                      # 35,000 iterations, as in the notebook
    python -m bench.bench_training --iterations 5000    # quicker

Prints, with ratios:

* start-up: ``import utils``;
* per-iteration cost of forward, backward, clip and update, plain vs utils
  (utils reads a column of ``Wax`` where the textbook multiplies by a one-hot vector);
* ``model()`` for N iterations: the plain engine (bench/plain_rnn.py) and the
  reference solution on utils;
* agreement: per-iteration losses of utils vs the plain engine (largest
  relative difference, bit-identical iterations), the printed checkpoints, and
  the notebook's committed expected output.

Times are wall clock (best of ``--repeat``) and process CPU time; on a shared
machine the CPU time is the steadier figure.
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from bench import plain_rnn


def import_seconds():
    """Best of three: ``import utils`` in a fresh interpreter started in the repository."""
    code = "import time; t = time.perf_counter(); import utils; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                    check=True).stdout) for _ in range(3))


def per_op(engine, optimize_clip, n=3000):
    """Microseconds per call of forward, backward, clip and update on a 10-character name."""
    p = engine.initialize_parameters(50, 27, 27)
    X = [None, 4, 5, 12, 19, 1, 21, 18, 21, 19]
    Y = X[1:] + [0]
    a0 = np.zeros((50, 1))
    loss, cache = engine.rnn_forward(X, Y, a0, p)
    grads, _ = engine.rnn_backward(X, Y, p, cache)
    out = {}
    for name, fn in (("forward", lambda: engine.rnn_forward(X, Y, a0, p)),
                     ("backward", lambda: engine.rnn_backward(X, Y, p, cache)),
                     ("clip", lambda: optimize_clip(grads, 5)),
                     ("update", lambda: engine.update_parameters(p, grads, 0.0))):
        fn()
        t = time.process_time()
        for _ in range(n):
            fn()
        out[name] = (time.process_time() - t) / n * 1e6
    return out


def train(model_fn, data, ix_to_char, char_to_ix, iterations, repeat):
    best = None
    for _ in range(repeat):
        history, out = [], io.StringIO()
        w0, c0 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(out):
            model_fn(data, ix_to_char, char_to_ix, num_iterations=iterations, loss_history=history)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu, np.array(history), out.getvalue())
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=35000)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each training; the best wall time counts")
    args = ap.parse_args(argv)

    from training.expected_output import (ASSIGNMENT, EXACT_UNTIL, NUM_ITERATIONS, checkpoints,
                                          load_names_data, notebook_expected_output)
    from coursetools.solution import load_solution
    from utils import rnn as course_rnn

    print(f"numpy {np.__version__}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    print("\n== start-up")
    print(f"import utils                        {import_seconds() * 1000:7.0f} ms")

    sol = load_solution(ASSIGNMENT)
    data, char_to_ix, ix_to_char = load_names_data()

    print("\n== per call, one 10-character name, n_a = 50 (process CPU, µs)")
    plain_ops = per_op(plain_rnn, plain_rnn.clip)
    fast_ops = per_op(course_rnn, sol.clip)
    print(f"{'':10s} {'plain':>8s} {'utils':>8s} {'ratio':>7s}")
    for k in plain_ops:
        print(f"{k:10s} {plain_ops[k]:8.1f} {fast_ops[k]:8.1f} {plain_ops[k] / fast_ops[k]:6.1f}x")
    tp, tf = sum(plain_ops.values()), sum(fast_ops.values())
    print(f"{'total':10s} {tp:8.1f} {tf:8.1f} {tp / tf:6.1f}x")

    n = args.iterations
    print(f"\n== model(), {n} iterations (wall s / CPU s, best of {args.repeat})")
    plain = train(plain_rnn.model, data, ix_to_char, char_to_ix, n, args.repeat)
    print(f"plain textbook engine (bench/plain_rnn.py)   {plain[0]:6.2f} / {plain[1]:6.2f}")
    fast = train(sol.model, data, ix_to_char, char_to_ix, n, args.repeat)
    print(f"reference solution on utils                  {fast[0]:6.2f} / {fast[1]:6.2f}"
          f"   -> {plain[0] / fast[0]:.1f}x faster (CPU {plain[1] / fast[1]:.1f}x)")

    print("\n== agreement with the plain engine")
    hp, hf = plain[2], fast[2]
    rel = np.abs(hf - hp) / np.abs(hp)
    same = hp == hf
    first_diff = int(np.argmin(same)) if not same.all() else None
    for upto in sorted({min(10000, n), n}):
        print(f"first {upto:6d} iterations: max relative difference {rel[:upto].max():.1e}, "
              f"bit-identical {int(same[:upto].sum())}/{upto}")
    print("first differing iteration: " + ("none (bit-identical throughout)" if first_diff is None else str(first_diff)))
    print(f"printed checkpoints identical to the plain engine's: {plain[3] == fast[3]}")
    if n == NUM_ITERATIONS:
        committed, ours = checkpoints(notebook_expected_output()), checkpoints(fast[3])
        same = all(committed[it] == ours[it] for it in committed if it <= EXACT_UNTIL)
        print(f"checkpoints up to {EXACT_UNTIL} identical to the notebook's expected output: {same}")


if __name__ == "__main__":
    main()
