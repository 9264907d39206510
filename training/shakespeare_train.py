"""Train the shipped Shakespeare model and measure it against n-gram baselines.

Run from the repository root::

    python -m training.shakespeare_train                 # train, evaluate, baselines
    python -m training.shakespeare_train --baselines-only # refresh the baselines in the record
    python -m training.shakespeare_train --evaluate-only  # re-score the saved model

It writes ``models/shakespeare_lstm.keras`` and the training record
``models/shakespeare_lstm.json`` (settings, epochs, time, losses, dev and test
NLL, baselines, versions). The split and the score are those of
:mod:`utils.shakespeare`: lower-cased sonnets, last 10% of the characters for
test, last 10% of the rest for dev; mean negative log-likelihood in nats per
test character, each predicted from up to 40 preceding characters (the text
before the test part supplies the context of its first characters).

The baselines (unigram, interpolated Kneser-Ney of orders 3 to 6 with the
discount tuned on dev) come from :mod:`utils.ngram`; they are fitted on the
training part only, like the network.
"""

import os

# This module imports TensorFlow: quiet it first (C++ log lines, oneDNN notice).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from coursetools.settings import DATA_DIR, MODELS_DIR, ROOT  # noqa: E402

DEFAULT_OUT = MODELS_DIR / "shakespeare_lstm.keras"
KN_ORDERS = (3, 4, 5, 6)

# Training settings of this script. The architecture's defaults are build_model's
# own (one place: utils/shakespeare.py); see model_defaults().
TRAINING_DEFAULTS = dict(
    batch_size=128,
    stride=3,
    epoch_fraction=0.34,
    max_epochs=60,
    patience=3,
    lr_patience=1,
    lr_factor=0.5,
    max_minutes=60.0,
    seed=1,
)


def model_defaults():
    """The keyword defaults of ``utils.shakespeare.build_model`` (imports TensorFlow)."""
    from utils import shakespeare as S

    return {
        name: p.default
        for name, p in inspect.signature(S.build_model).parameters.items()
        if name != "vocab_size"
    }


def all_defaults():
    """Every setting of a training run: the model's, then this script's."""
    return {**model_defaults(), **TRAINING_DEFAULTS}


def record_path(model_path):
    """The training record that goes with a model file (same name, ``.json``)."""
    return Path(model_path).with_suffix(".json")


def _rel(path):
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def corpus_parts(corpus_path=None):
    """``(text, train, dev, test)`` of the course split."""
    from utils import shakespeare as S

    text = S.load_corpus(corpus_path or DATA_DIR / "shakespeare.txt")
    train, dev, test = S.split_corpus(text)
    return text, train, dev, test


def score_parts(train, dev, test, tx=40):
    """The texts and start offsets that score dev and test with full context.

    Returns ``{"dev": (text, start), "test": (text, start)}``: each part is
    prefixed with the ``tx`` characters before it, scored from ``start=tx``.
    """
    before_test = train + dev
    return {
        "dev": (train[-tx:] + dev, tx),
        "test": (before_test[-tx:] + test, tx),
    }


def compute_baselines(train, dev, test, orders=KN_ORDERS):
    """Unigram and Kneser-Ney baselines on the course split (nats per character).

    Each model is fitted on ``train``; the KN discount is tuned on dev. Both
    parts are scored with the same up-to-40-character context as the network
    (an n-gram uses only its last ``order - 1`` characters of it).
    """
    from utils import ngram
    from utils.shakespeare import VOCAB

    parts = score_parts(train, dev, test)
    dev_text, dev_start = parts["dev"]
    test_text, test_start = parts["test"]
    out = {}
    t0 = time.perf_counter()
    uni = ngram.Unigram(VOCAB).fit([train])
    out["unigram"] = {
        "dev_nll": uni.mean_nll(dev_text, start=dev_start),
        "test_nll": uni.mean_nll(test_text, start=test_start),
    }
    for order in orders:
        discount, _ = ngram.tune_discount(order, VOCAB, [train], dev)
        model = ngram.KneserNey(order, VOCAB, discount=discount).fit([train])
        out[f"kn{order}"] = {
            "discount": float(discount),
            "dev_nll": model.mean_nll(dev_text, start=dev_start),
            "test_nll": model.mean_nll(test_text, start=test_start),
        }
        print(f"  KN-{order}: discount {discount:.3f}, dev {out[f'kn{order}']['dev_nll']:.4f}, "
              f"test {out[f'kn{order}']['test_nll']:.4f}", flush=True)
    out["_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def mixture_figure(model_path, train, dev, test, baselines, order=5):
    """LSTM interpolated with the tuned Kneser-Ney model, the weight chosen on dev.

    ``p = w * p_lstm + (1 - w) * p_kn`` for ``w`` in 0, 0.05, ..., 1; an
    orientation figure (how much the two models know that the other does not),
    not the shipped model.
    """
    import numpy as np

    from utils import ngram
    from utils import shakespeare as S

    model = S.load_model(model_path)
    kn = ngram.KneserNey(order, S.VOCAB, discount=baselines[f"kn{order}"]["discount"]).fit([train])
    parts = score_parts(train, dev, test)

    def probs(name):
        text, start = parts[name]
        p_kn = np.array([math.exp(kn.logprob(text[max(0, i - order + 1):i], text[i]))
                         for i in range(start, len(text))])
        return S.char_probs(model, text, start), p_kn

    grid = np.round(np.arange(0, 1.0001, 0.05), 2)
    lstm_dev, kn_dev = probs("dev")
    dev_nll = [float(-np.log(w * lstm_dev + (1 - w) * kn_dev).mean()) for w in grid]
    best = int(np.argmin(dev_nll))
    lstm_test, kn_test = probs("test")
    w = float(grid[best])
    return {
        "kn_order": order,
        "lstm_weight": w,
        "dev_nll": dev_nll[best],
        "test_nll": float(-np.log(w * lstm_test + (1 - w) * kn_test).mean()),
    }


def _versions():
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
    }


def evaluate(model, train, dev, test):
    """Dev and test mean NLL (nats per character) of a Keras model."""
    from utils import shakespeare as S

    parts = score_parts(train, dev, test)
    return {name: S.mean_nll(model, t, start=s) for name, (t, s) in parts.items()}


def train(settings, out_path, corpus_path=None, threads=0):
    """Train with early stopping on dev; save the best model and its record."""
    from utils import shakespeare as S  # first: it quiets TensorFlow before importing it

    import keras
    import numpy as np
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(settings["seed"])
    text, train_text, dev, test = corpus_parts(corpus_path)
    X, Y = S.make_windows(train_text, stride=settings["stride"])
    dev_text, dev_start = score_parts(train_text, dev, test)["dev"]
    arch = {k: settings[k] for k in model_defaults()}
    model = S.build_model(**arch)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    history = []
    best = {"dev": float("inf"), "epoch": 0, "weights": None}
    bad = bad_lr = 0
    rng = np.random.default_rng(settings["seed"])
    per_epoch = max(1, int(round(len(X) * settings["epoch_fraction"])))
    print(f"train {len(train_text)} chars -> {len(X)} windows ({per_epoch} per epoch); "
          f"dev {len(dev)}; test {len(test)}; {model.count_params()} parameters", flush=True)
    t0 = time.perf_counter()
    for epoch in range(1, settings["max_epochs"] + 1):
        # each epoch: a fresh random subset (all windows when epoch_fraction is 1)
        idx = rng.permutation(len(X))[:per_epoch]
        te = time.perf_counter()
        fit = model.fit(X[idx], Y[idx], batch_size=settings["batch_size"], epochs=1,
                        shuffle=False, verbose=0)
        train_seconds = time.perf_counter() - te
        dev_nll = S.mean_nll(model, dev_text, start=dev_start)
        lr = float(model.optimizer.learning_rate.numpy())
        row = {"epoch": epoch, "train_loss": float(fit.history["loss"][-1]), "dev_nll": dev_nll,
               "learning_rate": lr, "seconds": round(train_seconds, 1)}
        history.append(row)
        improved = dev_nll < best["dev"] - 1e-4
        if improved:
            best.update(dev=dev_nll, epoch=epoch, weights=model.get_weights())
            bad = bad_lr = 0
            export_slim(model, arch, lr, out_path)  # checkpoint: the best so far
        else:
            bad += 1
            bad_lr += 1
            if bad_lr >= settings["lr_patience"]:
                model.optimizer.learning_rate.assign(lr * settings["lr_factor"])
                bad_lr = 0
        elapsed = (time.perf_counter() - t0) / 60
        print(f"epoch {epoch}: train {row['train_loss']:.4f}  dev {dev_nll:.4f}  lr {lr:.2e}  "
              f"{train_seconds:.0f}s  ({elapsed:.1f} min){' *' if improved else ''}", flush=True)
        if bad >= settings["patience"]:
            print("early stop: dev NLL did not improve", flush=True)
            break
        if elapsed >= settings["max_minutes"]:
            print("stop: time budget reached", flush=True)
            break
    total = time.perf_counter() - t0
    final_lr = float(model.optimizer.learning_rate.numpy())
    model.set_weights(best["weights"])
    best_model = export_slim(model, arch, final_lr, out_path)
    scores = evaluate(best_model, train_text, dev, test)
    record = {
        "model_file": _rel(out_path),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m training.shakespeare_train " + " ".join(sys.argv[1:]),
        "split": split_record(text, train_text, dev, test),
        "score": ("mean negative log-likelihood per character in nats, each character "
                  "predicted from up to 40 preceding characters"),
        "settings": {**settings, "units": list(settings["units"])},
        "extra_epoch_learning_rate": final_lr,
        "parameters": int(best_model.count_params()),
        "train_windows": int(len(X)),
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "train_seconds": round(total, 1),
        "history": history,
        "dev_nll": scores["dev"],
        "test_nll": scores["test"],
        "environment": _versions(),
    }
    old = load_record(out_path)
    if old and "baselines" in old:
        record["baselines"] = old["baselines"]
    write_record(out_path, record)
    print(f"best epoch {best['epoch']}: dev {scores['dev']:.4f}, test {scores['test']:.4f} "
          f"nats/char; {total / 60:.1f} min", flush=True)
    return record


def export_slim(model, arch, learning_rate, out_path):
    """Save ``model``'s weights without optimizer state (a third of the size).

    The saved model is compiled with Adam(W) at ``learning_rate`` (the rate
    training ended with), so ``model.fit`` works right after loading it.
    Returns the re-built model.
    """
    from utils import shakespeare as S

    slim = S.build_model(**{**arch, "learning_rate": learning_rate})
    slim.set_weights(model.get_weights())
    slim.save(out_path)
    return slim


def split_record(text, train_text, dev, test):
    return {
        "corpus": "data/shakespeare.txt (lower-cased)",
        "chars": len(text),
        "train": [0, len(train_text)],
        "dev": [len(train_text), len(train_text) + len(dev)],
        "test": [len(train_text) + len(dev), len(text)],
        "rule": "test = last len//10 chars; dev = last 10% (//10) of the rest; train = the rest",
    }


def load_record(model_path):
    path = record_path(model_path)
    if path.is_file():
        return json.loads(path.read_text())
    return None


def write_record(model_path, record):
    path = record_path(model_path)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {_rel(path)}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training.shakespeare_train",
        description="Train the Shakespeare LSTM and compute the n-gram baselines.",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="model file (.keras); the "
                        "record is written next to it as .json (default: %(default)s)")
    parser.add_argument("--baselines-only", action="store_true",
                        help="compute the n-gram baselines and store them in the record")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="re-score the saved model on dev and test and print the figures")
    parser.add_argument("--no-baselines", action="store_true", help="train without baselines")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow CPU threads (0: all)")
    defaults = all_defaults()
    for key, value in defaults.items():
        if key == "units":
            parser.add_argument("--units", type=int, nargs="+", default=list(value),
                                help="widths of the recurrent layers (default: %(default)s)")
        else:
            parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=value,
                                help="(default: %(default)s)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.suffix != ".keras":
        parser.error(f"--out must end in .keras, got {out}")

    if args.evaluate_only:
        from utils import shakespeare as S

        if not out.is_file():
            parser.error(f"no model at {out}; train one first")
        _, train_text, dev, test = corpus_parts()
        scores = evaluate(S.load_model(out), train_text, dev, test)
        print(json.dumps(scores, indent=2))
        return 0

    if not args.baselines_only:
        settings = {key: getattr(args, key) for key in defaults}
        settings["units"] = tuple(settings["units"])
        train(settings, out, threads=args.threads)

    if args.baselines_only or not args.no_baselines:
        record = load_record(out)
        if record is None:
            parser.error(f"no training record at {record_path(out)}; train first")
        _, train_text, dev, test = corpus_parts()
        print("baselines (fitted on train, discount tuned on dev):", flush=True)
        record["baselines"] = compute_baselines(train_text, dev, test)
        record["mixture"] = mixture_figure(out, train_text, dev, test, record["baselines"])
        write_record(out, record)
        print_summary(record)
    return 0


def print_summary(record):
    """The model's test NLL next to every baseline."""
    print(f"{'model':<26}{'dev':>8}{'test':>8}")
    rows = [("LSTM (shipped)", record["dev_nll"], record["test_nll"])]
    for name, row in record.get("baselines", {}).items():
        if name.startswith("_"):
            continue
        label = "unigram" if name == "unigram" else f"Kneser-Ney {name[2:]}-gram"
        rows.append((label, row["dev_nll"], row["test_nll"]))
    mix = record.get("mixture")
    if mix:
        rows.append((f"mix LSTM+KN-{mix['kn_order']} w={mix['lstm_weight']:.2f}", mix["dev_nll"],
                     mix["test_nll"]))
    for label, dev_nll, test_nll in rows:
        print(f"{label:<26}{dev_nll:>8.4f}{test_nll:>8.4f}")


if __name__ == "__main__":
    sys.exit(main())
