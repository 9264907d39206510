"""Test NLL of every dinosaur-name model, in one table (issue "Going further").

    python -m training.evaluate             # print the table (quick)
    python -m training.evaluate --train     # first retrain the course RNN variants (minutes)
    python -m training.evaluate --train-lstm  # first retrain the LSTM (minutes)
    python -m training.evaluate --notebook  # run the notebook, refresh source/going_further/figures/

The split is the held-out split of :func:`utils.name_eval.split_names`: 1372
training names, 152 test names (1965 predicted characters). The training
names are cut once more into 1235 names to fit on and 137 dev names
(:func:`utils.name_eval.dev_split`); the test names are used for nothing but
the final score.

* n-gram baselines: smoothing tuned on dev, then refitted on all 1372
  training names (computed at every run);
* course RNN variants (the assignment's recipe, run with the reference
  solution of :func:`coursetools.solution.load_solution`), trained on the
  1235 fit names, loaded from ``models/course_rnn.npz``;
* the numpy LSTM of :mod:`utils.name_models`, trained on the 1235 fit names
  with early stopping on dev, loaded from ``models/name_lstm.npz``, alone and
  interpolated with a Kneser-Ney n-gram (order, discount and weight tuned on
  dev, :func:`utils.name_eval.interpolate_with_kneser_ney`).

``utils`` holds no solution code, so the course RNN is trained here, on the
instructor side, and only its parameters are shipped (``models/course_rnn.npz``
is in the manifest of the ``going_further`` assignment).
"""

import argparse
import json
import sys
import time

import numpy as np

from coursetools.settings import DATA_DIR, MODELS_DIR

COURSE_RNN_PATH = MODELS_DIR / "course_rnn.npz"
LSTM_PATH = MODELS_DIR / "name_lstm.npz"
N_A = 50
BASE_ITERATIONS = 35_000
LONG_ITERATIONS = 175_000
LOG_EVERY = 2_500


def _utils():
    import utils.name_eval as ne

    return ne


def load_split():
    """``(train, test, fit, dev)`` name lists of the held-out split."""
    ne = _utils()
    train, test = ne.split_names(ne.read_names(DATA_DIR / "dinos.txt"))
    fit, dev = ne.dev_split(train)
    return train, test, fit, dev


def train_course_rnn(sol, names, iterations, reset, dev=None, log_every=LOG_EVERY, n_a=N_A):
    """The assignment's training loop, run with the reference ``optimize``.

    Same steps as the solution's ``model()`` (``initialize_parameters``,
    ``np.random.seed(0)`` shuffle of ``names``, one name per iteration,
    learning rate 0.01, smoothed loss) without its printing and sampling;
    ``reset=True`` starts every name from a zero hidden state instead of
    carrying the last one. A test checks that ``reset=False`` gives the
    parameters of ``model()`` itself.

    Returns:
        parameters, log -- ``log`` has ``iterations``, ``dev_nll`` (per
        character, zero start state per name) and ``train_loss`` (smoothed
        loss per name), recorded every ``log_every`` iterations
    """
    ne = _utils()
    vocab_size = len(ne.VOCAB)
    parameters = sol.initialize_parameters(n_a, vocab_size, vocab_size)
    loss = sol.get_initial_loss(vocab_size, 7)
    examples = list(names)
    np.random.seed(0)
    np.random.shuffle(examples)
    encoded = {name: ne.encode_name(name) for name in examples}
    a_prev = np.zeros((n_a, 1))
    log = {"iterations": [], "dev_nll": [], "train_loss": []}
    for j in range(iterations):
        X, Y = encoded[examples[j % len(examples)]]
        if reset:
            a_prev = np.zeros((n_a, 1))
        cur_loss, _, a_prev = sol.optimize(X, Y, a_prev, parameters, learning_rate=0.01)
        loss = sol.smooth(loss, cur_loss)
        if dev is not None and (j + 1) % log_every == 0:
            log["iterations"].append(j + 1)
            log["dev_nll"].append(ne.rnn_mean_nll(parameters, dev))
            log["train_loss"].append(float(loss))
    return parameters, log


def train_all_course_rnns(path=COURSE_RNN_PATH, verbose=True):
    """Train the four variants of :data:`utils.name_eval.RNN_VARIANTS` and save them to ``path``."""
    from coursetools.solution import load_solution

    sol = load_solution()
    train, test, fit, dev = load_split()
    plan = {
        "carry": (BASE_ITERATIONS, False),
        "reset": (BASE_ITERATIONS, True),
        "carry_long": (LONG_ITERATIONS, False),
        "reset_long": (LONG_ITERATIONS, True),
    }
    arrays = {}
    for variant, (iterations, reset) in plan.items():
        t0 = time.perf_counter()
        params, log = train_course_rnn(sol, fit, iterations, reset, dev=dev)
        for k, v in params.items():
            arrays[f"{variant}__{k}"] = v
        for k, v in log.items():
            arrays[f"{variant}__{k}"] = np.asarray(v)
        if verbose:
            print(
                f"{variant:<11} {iterations:>7} iterations in {time.perf_counter() - t0:5.0f} s: "
                f"dev {log['dev_nll'][-1]:.4f}"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    if verbose:
        print(f"saved {path}")


def train_lstm(path=LSTM_PATH, verbose=True, max_seconds=None):
    """Train the notebook's LSTM (same settings) on the fit names; save it with its history.

    Unlike the notebook, which stops after ``LSTM_FIT["max_seconds"]``, this
    runs until early stopping (``max_seconds=None``), so the table shows the
    model's converged figure whatever the load of the machine.
    """
    from utils.name_models import LSTM_FIT, LSTM_MODEL, CharLSTM

    train, test, fit, dev = load_split()
    model = CharLSTM(**LSTM_MODEL)
    t0 = time.perf_counter()
    history = model.fit(fit, dev, verbose=verbose, **{**LSTM_FIT, "max_seconds": max_seconds})
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    meta = {"history": history, "seconds": seconds}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    if verbose:
        print(f"trained in {seconds:.0f} s; saved {path}")
    return model


def run_notebook(timeout=900, verbose=True):
    """Execute the *Going further* notebook in a scratch copy of its assignment folder.

    The scratch folder holds what the release ships (the ``shared`` paths of
    the manifest: ``utils``, ``data/dinos.txt``, ``models/course_rnn.npz``)
    and the notebook; the PNG files the notebook writes to ``figures/`` are
    copied to ``source/going_further/figures/``. The executed notebook is
    kept as ``.build/going_further/Going_Further.ipynb`` for inspection; the
    source notebook stays without outputs.
    """
    import shutil

    import nbformat
    from nbclient import NotebookClient

    from coursetools.course import copy_shared
    from coursetools.settings import ASSIGNMENTS, COURSE

    spec = ASSIGNMENTS["going_further"]
    work = COURSE.scratch / spec.name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_shared(spec.name, work)
    nb_path = COURSE.source(spec.name) / spec.notebooks[0]
    nb = nbformat.read(nb_path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    nbformat.write(nb, work / spec.notebooks[0])
    figures = COURSE.source(spec.name) / "figures"
    figures.mkdir(exist_ok=True)
    copied = []
    for png in sorted((work / "figures").glob("*.png")):
        shutil.copy2(png, figures / png.name)
        copied.append(png.name)
    if verbose:
        print(f"notebook ran in {time.perf_counter() - t0:.0f} s; figures: {', '.join(copied)} -> {figures}")
    return work / spec.notebooks[0]


def table_rows(verbose=False):
    """All rows ``(model, test NLL)``; models whose files are missing are skipped with a note."""
    ne = _utils()
    train, test, fit, dev = load_split()
    baselines = ne.ngram_baselines(train, test, fit, dev)
    rows = [(r["model"] + f" ({r['setting']})", r["test"]) for r in baselines]
    notes = []
    if COURSE_RNN_PATH.is_file():
        for variant, v in ne.load_course_rnn(COURSE_RNN_PATH).items():
            rows.append((ne.RNN_VARIANTS[variant], ne.rnn_mean_nll(v["parameters"], test)))
    else:
        notes.append(f"{COURSE_RNN_PATH} missing: run `python -m training.evaluate --train`")
    if LSTM_PATH.is_file():
        from utils.name_models import CharLSTM

        lstm = CharLSTM.load(LSTM_PATH)
        rows.append((f"LSTM {lstm.hidden} units (numpy, Adam, dropout, early stopping)", lstm.mean_nll(test)))
        mix = ne.interpolate_with_kneser_ney(lstm.char_logprobs, train, test, fit, dev)
        rows.append((f"LSTM + Kneser-Ney {mix['order']}-gram, interpolated (w={mix['weight']:.3g}; order, D, w "
                     "tuned on dev)", mix["test"]))
    else:
        notes.append(f"{LSTM_PATH} missing: run `python -m training.evaluate --train-lstm`")
    return rows, notes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="store_true", help="retrain the course RNN variants first (several minutes)")
    parser.add_argument("--train-lstm", action="store_true", help="retrain the LSTM first (minutes)")
    parser.add_argument("--notebook", action="store_true",
                        help="execute the Going_Further notebook and refresh its figures (minutes)")
    parser.add_argument("--png", metavar="PATH", help="also save the bar chart of test NLL to this PNG file")
    args = parser.parse_args(argv)
    ne = _utils()
    try:
        if args.train:
            train_all_course_rnns()
        if args.train_lstm:
            train_lstm()
        if args.notebook:
            from nbclient.exceptions import CellExecutionError

            try:
                run_notebook()
            except CellExecutionError as exc:
                print(f"error: the notebook failed:\n{str(exc)[-3000:]}", file=sys.stderr)
                return 1
        rows, notes = table_rows()
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _, test, _, _ = load_split()
    print(ne.format_table(rows, ne.count_predicted(test)))
    for note in notes:
        print("note:", note)
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        from utils.name_plots import plot_test_nll

        plot_test_nll(rows, path=args.png)
        print(f"saved {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
