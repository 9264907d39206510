"""The teaching figures of the Dinosaurus Island notebook, drawn with matplotlib.

``python -m coursetools.figures`` (or ``course figures``) writes three PNG files into
``source/dinosaurus_island/images/``, where the notebook shows them (and the release command
copies them into ``release/``):

- ``rnn_unrolled.png``: the RNN unrolled over the training name "zuul" (inputs, hidden states,
  predictions and targets, the loss);
- ``gradient_clipping.png``: gradient descent on a loss surface with a cliff, without and with
  element-wise clipping of the gradient;
- ``sampling_loop.png``: sampling, with each drawn character fed back as the next input.

The output is deterministic: the same matplotlib gives the same pixels (a test compares the committed
images with what this module draws). Nothing here is random, and the PNG metadata carry no version
or date.
"""

import argparse
import sys
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .settings import SOURCE_DIR

IMAGES_DIR = SOURCE_DIR / "dinosaurus_island" / "images"
DPI = 100
CELL_COLOR, INPUT_COLOR, OUTPUT_COLOR, DRAW_COLOR = "#dbe9f6", "#eeeeee", "#fde7c8", "#d9f0d3"


def _char(ch):
    return r"\n" if ch == "\n" else ch


def _box(ax, x, y, w, h, text, color, fontsize=11):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor="#333333", linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _time_step(ax, x, t, char, ys, cell_label, cell_height):
    """One column of an unrolled RNN at ``x``: input ``char`` (None: the zero vector), the cell, the softmax."""
    y_in, y_cell, y_out = ys
    label = r"$\vec{0}$" if char is None else f"'{char}'"
    _box(ax, x, y_in, 1.05, 0.55, f"$x^{{\\langle {t + 1} \\rangle}}$ = {label}", INPUT_COLOR, 10)
    _box(ax, x, y_cell, 1.05, cell_height, cell_label, CELL_COLOR, 10)
    _box(ax, x, y_out, 1.05, 0.55, f"$\\hat{{y}}^{{\\langle {t + 1} \\rangle}}$ softmax", OUTPUT_COLOR, 10)


def _arrow(ax, start, end, color="#333333", style="-|>", connectionstyle="arc3", linestyle="-", shrink_end=0.0):
    if shrink_end:  # stop a little before ``end`` so that the head stays visible
        end = (end[0] - shrink_end, end[1])
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=color, linewidth=1.3,
                                 connectionstyle=connectionstyle, linestyle=linestyle, shrinkA=0, shrinkB=0))


def _new_figure(width, height):
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def draw_rnn_unrolled():
    """The RNN reading the name "zuul": the same cell (same weights) at every time step."""
    name = "zuul"
    inputs = [None] + list(name)  # X = [None] + characters
    targets = list(name) + ["\n"]  # Y = X[1:] + newline
    steps = len(inputs)
    fig = _new_figure(10.5, 4.6)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1.6, 2.0 * steps - 0.2)
    ax.set_ylim(-0.2, 5.0)
    ax.axis("off")
    y_in, y_cell, y_out, y_target = 0.55, 1.95, 3.3, 4.35
    for t in range(steps):
        x = 2.0 * t + 0.6
        _time_step(ax, x, t, inputs[t], (y_in, y_cell, y_out), "RNN cell\n(tanh)", 0.75)
        ax.text(x, y_target, f"target '{_char(targets[t])}'", ha="center", va="center", fontsize=10, color="#8a3b00")
        _arrow(ax, (x, y_in + 0.28), (x, y_cell - 0.38))
        _arrow(ax, (x, y_cell + 0.38), (x, y_out - 0.28))
        _arrow(ax, (x, y_out + 0.28), (x, y_target - 0.2), style="-", linestyle=":")
        start = (x - 2.0 + 0.53, y_cell) if t else (-0.75, y_cell)
        _arrow(ax, start, (x - 0.53, y_cell))
        ax.text((start[0] + x - 0.53) / 2, y_cell + 0.12, f"$a^{{\\langle {t} \\rangle}}$", ha="center",
                va="bottom", fontsize=10)
    ax.text(-1.0, y_cell, r"$\vec{0}$", ha="center", va="center", fontsize=12)
    ax.text(-1.5, y_in, "input", ha="left", va="center", fontsize=9, color="#555555")
    ax.text(-1.5, y_out, "prediction", ha="left", va="center", fontsize=9, color="#555555")
    ax.text(
        2.0 * steps / 2 - 0.4, 4.8,
        r"Training on the name 'zuul': $X$ = [None, z, u, u, l], $Y$ = [z, u, u, l, \n];  "
        r"loss $= -\sum_t \log \hat{y}^{\langle t \rangle}[y^{\langle t \rangle}]$",
        ha="center", va="center", fontsize=11)
    ax.text(2.0 * steps / 2 - 0.4, -0.05,
            r"every cell: $a^{\langle t \rangle} = \tanh(W_{ax} x^{\langle t \rangle} + W_{aa} a^{\langle t-1 \rangle}"
            r" + b)$, $\hat{y}^{\langle t \rangle} = \mathrm{softmax}(W_{ya} a^{\langle t \rangle} + b_y)$, "
            "with the same weights at every step", ha="center", va="center", fontsize=10)
    return fig


# ----- gradient clipping -------------------------------------------------------------------------

CLIFF_HEIGHT, CLIFF_STEEPNESS = 6.0, 60.0


def cliff_loss(w1, w2):
    """A smooth bowl with its minimum at (2, 0), cut by a cliff along w1 + 0.3 w2 = 0 (the loss drops by 6)."""
    s = 1.0 / (1.0 + np.exp(-CLIFF_STEEPNESS * (w1 + 0.3 * w2)))
    return 0.15 * ((w1 - 2.0) ** 2 + 3.0 * w2**2) - CLIFF_HEIGHT * s


def cliff_gradient(w):
    w1, w2 = w
    s = 1.0 / (1.0 + np.exp(-CLIFF_STEEPNESS * (w1 + 0.3 * w2)))
    ds = CLIFF_HEIGHT * CLIFF_STEEPNESS * s * (1.0 - s)
    return np.array([0.3 * (w1 - 2.0) - ds, 0.9 * w2 - 0.3 * ds])


def descend(start, steps, learning_rate, max_value=None):
    """Gradient-descent iterates on :func:`cliff_loss`, clipping each gradient to [-max_value, max_value] if given."""
    w = np.array(start, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        g = cliff_gradient(w)
        if max_value is not None:
            g = np.clip(g, -max_value, max_value)
        w = w - learning_rate * g
        path.append(w.copy())
    return np.array(path)


def draw_gradient_clipping():
    """The same start and learning rate; without clipping one step at the cliff throws the parameters away."""
    start, steps, lr = (-2.6, 1.4), 40, 0.1
    grid1, grid2 = np.meshgrid(np.linspace(-3.2, 7.6, 400), np.linspace(-2.6, 2.6, 200))
    surface = cliff_loss(grid1, grid2)
    fig = _new_figure(11, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, max_value, title in (
        (axes[0], None, "without clipping: one huge gradient at the cliff\nthrows the parameters far away"),
        (axes[1], 1.0, "with clipping (each gradient value kept in [-1, 1]):\nsmall steps down the cliff, towards the minimum"),
    ):
        ax.contourf(grid1, grid2, surface, levels=30, cmap="viridis")
        ax.contour(grid1, grid2, surface, levels=30, colors="white", linewidths=0.3, alpha=0.5)
        path = descend(start, steps, lr, max_value)
        ax.plot(path[:, 0], path[:, 1], "-o", color="#ff5a36", markersize=3, linewidth=1.5)
        ax.plot(*path[0], "o", color="white", markersize=7, markeredgecolor="black")
        ax.plot(2.0, 0.0, "*", color="white", markersize=14, markeredgecolor="black")
        jump = int(np.argmax(np.linalg.norm(np.diff(path, axis=0), axis=1)))
        if max_value is None:
            ax.annotate("one step", xy=path[jump + 1], xytext=(path[jump][0] + 1.2, path[jump][1] + 0.55),
                        color="white", fontsize=10, arrowprops={"arrowstyle": "->", "color": "white"})
        ax.set_xlim(-3.2, 7.6)
        ax.set_ylim(-2.6, 2.6)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("parameter $w_1$")
    axes[0].set_ylabel("parameter $w_2$")
    axes[1].text(-2.55, 1.75, "start", color="white", fontsize=9)
    axes[1].text(2.2, 0.15, "minimum", color="white", fontsize=9)
    for ax in axes:
        ax.text(-0.55, -2.3, "cliff", color="white", fontsize=9, rotation=-74)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.85, wspace=0.05)
    return fig


def draw_sampling_loop():
    """Sampling: draw a character from the prediction and feed it back in as the next input."""
    drawn = ["t", "a", "w", "a", "\n"]
    inputs = [None] + drawn[:-1]
    steps = len(drawn)
    fig = _new_figure(10.5, 4.8)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1.6, 2.0 * steps - 0.2)
    ax.set_ylim(-0.3, 5.4)
    ax.axis("off")
    y_in, y_cell, y_out, y_draw = 0.55, 1.9, 3.15, 4.25
    for t in range(steps):
        x = 2.0 * t + 0.6
        _time_step(ax, x, t, inputs[t], (y_in, y_cell, y_out), "RNN cell", 0.7)
        _box(ax, x, y_draw, 1.05, 0.55, f"draw '{_char(drawn[t])}'", DRAW_COLOR, 10)
        _arrow(ax, (x, y_in + 0.28), (x, y_cell - 0.35))
        _arrow(ax, (x, y_cell + 0.35), (x, y_out - 0.28))
        _arrow(ax, (x, y_out + 0.28), (x, y_draw - 0.28))
        start = (x - 2.0 + 0.53, y_cell) if t else (-0.75, y_cell)
        _arrow(ax, start, (x - 0.53, y_cell))
        if t + 1 < steps:  # the drawn character becomes the next input
            _arrow(ax, (x + 0.53, y_draw), (x + 2.0 - 0.53, y_in), color="#2f8f2f",
                   connectionstyle="arc3,rad=-0.12", linestyle="--", shrink_end=0.06)
    ax.text(-1.0, y_cell, r"$\vec{0}$", ha="center", va="center", fontsize=12)
    ax.text(2.0 * (steps - 1) + 0.6, y_draw + 0.45, "newline: stop", ha="center", fontsize=10, color="#8a3b00")
    ax.text(2.0 * steps / 2 - 0.4, 5.2,
            "Sampling the name 'Tawa': each drawn character is fed back as the next input",
            ha="center", va="center", fontsize=11)
    ax.text(2.0 * steps / 2 - 0.4, -0.1,
            "each step: reseed, draw idx from y, x = one-hot vector of idx, a_prev = a; "
            "stop at the newline or after 50 draws",
            ha="center", va="center", fontsize=10)
    return fig


FIGURES = {
    "rnn_unrolled.png": draw_rnn_unrolled,
    "gradient_clipping.png": draw_gradient_clipping,
    "sampling_loop.png": draw_sampling_loop,
}


def write_figures(out_dir=IMAGES_DIR):
    """Draw every figure into ``out_dir``; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context(matplotlib.rcParamsDefault):
        for name, draw in FIGURES.items():
            fig = draw()
            path = out_dir / name
            fig.savefig(path, dpi=DPI, metadata={"Software": None})
            paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="course figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(IMAGES_DIR), help="folder to write the PNG files into (default: %(default)s)")
    args = parser.parse_args(argv)
    for path in write_figures(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
