"""Training speed: the plain textbook engine vs the course's utils, side by side, same run.

    python -m bench.bench_training                 # 35,000 iterations, as in the notebook
    python -m bench.bench_training --iterations 5000 --no-readable   # quicker

Prints, with ratios:

* start-up: ``import utils`` (numba is not imported), and the fast path's
  first use in a fresh process with an empty kernel cache (numba import +
  compilation) and with a warm cache (what every later process pays);
* per-iteration cost of forward, backward, clip and update, plain vs utils;
* ``model()`` for N iterations: the plain engine (bench/plain_rnn.py), the
  reference solution on utils with the fast path, and (unless
  ``--no-readable``) on utils with the fast path off;
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
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from bench import plain_rnn


def _subprocess_seconds(code, env=None):
    full = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def startup_figures():
    import_utils = min(_subprocess_seconds(
        "import time; t = time.perf_counter(); import utils; import sys;"
        "assert 'numba' not in sys.modules; print(time.perf_counter() - t)") for _ in range(3))
    enable = ("import time; from utils import rnn_fast; t = time.perf_counter();"
              "ok = rnn_fast.set_mode('on'); assert ok, rnn_fast.disabled_reason(); print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        cold = _subprocess_seconds(enable, {"DINO_RNN_CACHE_DIR": cache})
        warm = min(_subprocess_seconds(enable, {"DINO_RNN_CACHE_DIR": cache}) for _ in range(3))
    return import_utils, cold, warm


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
    ap.add_argument("--no-readable", action="store_true", help="skip the run of utils with the fast path off")
    args = ap.parse_args(argv)

    from training.expected_output import (ASSIGNMENT, NUM_ITERATIONS, load_names_data,
                                             notebook_expected_output)
    from coursetools.solution import load_solution
    from utils import rnn as course_rnn
    from utils import rnn_fast

    print(f"numpy {np.__version__}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    imp, cold, warm = startup_figures()
    print("\n== start-up")
    print(f"import utils                        {imp * 1000:7.0f} ms   (numba not imported)")
    print(f"fast path, first use, empty cache   {cold:7.2f} s    (numba import + compile, once per machine)")
    print(f"fast path, first use, warm cache    {warm:7.2f} s    (numba import + load + self-check, per process)")

    sol = load_solution(ASSIGNMENT)
    data, char_to_ix, ix_to_char = load_names_data()
    assert rnn_fast.set_mode("on"), rnn_fast.disabled_reason()

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
    print(f"reference solution, utils fast path          {fast[0]:6.2f} / {fast[1]:6.2f}"
          f"   -> {plain[0] / fast[0]:.1f}x faster (CPU {plain[1] / fast[1]:.1f}x)")
    if not args.no_readable:
        rnn_fast.set_mode("off")
        readable = train(sol.model, data, ix_to_char, char_to_ix, n, args.repeat)
        rnn_fast.set_mode("on")
        print(f"reference solution, utils readable path      {readable[0]:6.2f} / {readable[1]:6.2f}"
              f"   -> {plain[0] / readable[0]:.1f}x")

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
        committed = notebook_expected_output()
        print(f"printed output identical to the notebook's expected output: {fast[3].strip(chr(10)) == committed}")
    if not args.no_readable:
        print(f"utils fast vs readable path: losses bit-identical {np.array_equal(readable[2], hf)}, "
              f"output identical {readable[3] == fast[3]}")


if __name__ == "__main__":
    main()
