"""Pictures for the *Going further* notebook: loss curves and a bar chart of test NLL.

Each function draws with matplotlib, saves a PNG when ``path`` is given, and
returns the figure (a notebook shows it). Import this module explicitly;
``from utils import *`` does not load matplotlib.
"""

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .name_eval import to_bits

__all__ = ["plot_lstm_curves", "plot_rnn_curves", "plot_test_nll", "rnn_variant_label"]


def _save(fig, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")


def rnn_variant_label(name, variant):
    """A readable legend label for a course-RNN variant: its description, without the "course RNN: "
    prefix and remarks in brackets (``carry_long`` -> "175k iterations, hidden state carried")."""
    text = variant.get("description") or name
    text = text.removeprefix("course RNN: ")
    return re.sub(r"\s*\([^)]*\)", "", text).strip() or name


def plot_lstm_curves(history, reference=None, path=None):
    """Training and dev NLL per epoch of :meth:`utils.name_models.CharLSTM.fit`.

    Arguments:
        history -- dict with lists ``train`` and ``dev`` (nats per character) and ``best_epoch``
        reference -- optional ``(label, value)`` drawn as a horizontal line (e.g. the best n-gram's dev NLL)
        path -- PNG file to write (None: do not save)
    """
    if not history or not history.get("dev"):
        raise ValueError("history is empty: train the model first (history = model.fit(...))")
    epochs = range(1, len(history["dev"]) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, history["train"], label="training names (no dropout)")
    ax.plot(epochs, history["dev"], label="dev names")
    best = history.get("best_epoch")
    if best:
        ax.axvline(best, color="grey", linestyle=":", label=f"kept: epoch {best}")
    if reference is not None:
        ax.axhline(reference[1], color="black", linestyle="--", linewidth=1, label=reference[0])
    ax.set_xlabel("epoch")
    ax.set_ylabel("NLL (nats per character)")
    ax.set_title("LSTM: training and dev loss")
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)
    return fig


def plot_rnn_curves(variants, path=None):
    """Dev NLL and smoothed training loss of the course-RNN variants against iterations.

    Arguments:
        variants -- dict from :func:`utils.name_eval.load_course_rnn`
        path -- PNG file to write (None: do not save)
    """
    if not variants:
        raise ValueError("no course-RNN variants to plot")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    drawn = []  # a shorter run that is the start of a longer one is shown as a line where it stops
    stops = {}
    for name, v in sorted(variants.items(), key=lambda kv: -len(kv[1]["iterations"])):
        n = len(v["dev_nll"])
        if n and any(np.array_equal(w["dev_nll"][:n], v["dev_nll"]) for w in drawn):
            stops.setdefault(int(v["iterations"][-1]), []).append(name)
            continue
        ax1.plot(v["iterations"], v["train_loss"], label=rnn_variant_label(name, v))
        ax2.plot(v["iterations"], v["dev_nll"], label=rnn_variant_label(name, v))
        drawn.append(v)
    for x in stops:
        for ax in (ax1, ax2):
            ax.axvline(x, color="grey", linestyle=":")
        ax2.annotate(f"the {x:,}-iteration runs stop here", (x, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(3, -12), textcoords="offset points", fontsize=8)
    ax1.set_title("course RNN: smoothed training loss (per name)")
    ax2.set_title("course RNN: dev NLL (nats per character)")
    for ax in (ax1, ax2):
        ax.set_xlabel("iteration (one name each)")
        ax.grid(alpha=0.3)
    handles, labels = ax1.get_legend_handles_labels()  # one legend for both plots, under them
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 2), frameon=False)
    fig.subplots_adjust(bottom=0.17 + 0.05 * ((len(labels) - 1) // 2))
    _save(fig, path)
    return fig


def plot_test_nll(rows, path=None):
    """Horizontal bar chart of test NLL per model, best at the top, bits on a second axis.

    Arguments:
        rows -- list of ``(model name, test NLL in nats per character)``
        path -- PNG file to write (None: do not save)
    """
    if not rows:
        raise ValueError("no rows to plot")
    rows = sorted(rows, key=lambda r: -r[1])
    names = [r[0] for r in rows]
    values = [r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.2))
    bars = ax.barh(range(len(rows)), values, color="tab:blue")
    best = min(range(len(rows)), key=lambda i: values[i])
    bars[best].set_color("tab:green")
    for i, v in enumerate(values):
        ax.text(v + 0.02, i, f"{v:.3f} ({to_bits(v):.2f} bits)", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("test NLL (nats per predicted character, lower is better)")
    ax.set_xlim(0, max(values) * 1.25)
    ax.set_title("Held-out dinosaur names: 152 names, 1965 characters")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)
    return fig
