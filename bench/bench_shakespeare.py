"""Benchmark of the Shakespeare notebook's slow steps on this machine.

Prints the seconds for one extra epoch of the shipped model (the notebook's
``model.fit(X, Y, batch_size=128, epochs=1)`` on the training windows), to
generate 400 characters with ``generate_output``, and to score the test part.

    python -m bench.bench_shakespeare               # a full epoch (minutes on 2 cores)
    python -m bench.bench_shakespeare --batches 20  # time 20 batches, extrapolate

Figures depend on the load of the machine: run it on an idle one.
"""

import argparse
import os
import sys
import time


from coursetools.settings import MODELS_DIR
from training.shakespeare_train import corpus_parts, score_parts
from utils import shakespeare as S


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODELS_DIR / "shakespeare_lstm.keras"))
    parser.add_argument("--batches", type=int, default=0,
                        help="time this many batches and extrapolate (0: a full epoch)")
    parser.add_argument("--repeats", type=int, default=3, help="generation runs (best is kept)")
    args = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    _, train, dev, test = corpus_parts()
    X, Y = S.make_windows(train)
    model = S.load_model(args.model)
    print(f"model: {args.model} ({model.count_params()} parameters); {len(X)} training windows")

    # warm-up: build the train function on two batches
    model.fit(X[:256], Y[:256], batch_size=128, epochs=1, verbose=0)
    n = len(X) if args.batches <= 0 else min(len(X), args.batches * 128)
    t0 = time.perf_counter()
    model.fit(X[:n], Y[:n], batch_size=128, epochs=1, verbose=0)
    dt = time.perf_counter() - t0
    epoch = dt * len(X) / n
    how = "measured" if n == len(X) else f"extrapolated from {n // 128} batches"
    print(f"extra epoch (batch 128): {epoch:.1f} s ({how}; {dt / (n / 128) * 1000:.0f} ms/batch)")

    prompt = "shall i compare thee to a summer's day?\n"
    S.generate_output(model, prompt, length=5, seed=0, verbose=False)  # trace once
    times = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        S.generate_output(model, prompt, length=400, seed=r, verbose=False)
        times.append(time.perf_counter() - t0)
    print(f"generate 400 characters: {min(times):.2f} s (best of {args.repeats}; "
          f"{1000 * min(times) / 400:.1f} ms/char)")

    text, start = score_parts(train, dev, test)["test"]
    t0 = time.perf_counter()
    nll = S.mean_nll(model, text, start=start)
    print(f"score the test part ({len(test)} characters): {time.perf_counter() - t0:.1f} s "
          f"(NLL {nll:.4f} nats/char after the extra epoch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
