"""Honest evaluation of dinosaur-name models: the held-out split, scoring, generation.

Everything a model needs to be compared with the others on the same footing:

* :func:`read_names` / :func:`split_names` / :func:`dev_split` -- the held-out split
  (unique names, sorted, every 10th for test: 1372 training
  names, 152 test names) and a dev part of the training names for tuning.
* :func:`rnn_nll` -- the course RNN (``utils.rnn_forward``) scored per name
  from a zero hidden state.
* :func:`sample_next` / :func:`generate_names` -- generation with a
  temperature and top-k from any model that gives next-character
  distributions; :func:`novelty_rate` -- share of generated names that are
  not training names.

Scores are the mean negative log-likelihood per predicted character in nats
(:func:`to_bits` converts); a name of ``L`` letters predicts ``L + 1``
characters (its letters and the newline that ends it), so the 152 test names
predict 1965 characters.
"""

import math
from pathlib import Path

import numpy as np

from .rnn import rnn_forward, rnn_step_forward

__all__ = [
    "VOCAB",
    "CHAR_TO_IX",
    "IX_TO_CHAR",
    "read_names",
    "split_names",
    "dev_split",
    "encode_name",
    "count_predicted",
    "to_bits",
    "rnn_nll",
    "rnn_mean_nll",
    "ngram_mean_nll",
    "adjust_distribution",
    "sample_next",
    "generate_names",
    "rnn_stepper",
    "ngram_stepper",
    "novelty_rate",
    "format_table",
    "ngram_baselines",
    "load_course_rnn",
    "RNN_VARIANTS",
    "ngram_char_logprobs",
    "tune_mixture_weight",
    "mixture_mean_nll",
    "interpolate_with_kneser_ney",
]

VOCAB = "\n" + "abcdefghijklmnopqrstuvwxyz"
"""The 27 characters, in index order: ``'\\n'`` is 0, ``'a'`` is 1, ... ``'z'`` is 26, as in the assignment."""
CHAR_TO_IX = {ch: i for i, ch in enumerate(VOCAB)}
IX_TO_CHAR = dict(enumerate(VOCAB))
NEWLINE = CHAR_TO_IX["\n"]


def read_names(path="data/dinos.txt"):
    """Every line of the names file, lower-cased and stripped (duplicates kept, blank lines dropped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"names file not found: {path} (run from the assignment folder, which has data/dinos.txt)")
    names = [line.strip().lower() for line in path.read_text().splitlines()]
    names = [n for n in names if n]
    bad = {c for n in names for c in n} - set(VOCAB)
    if bad:
        raise ValueError(f"{path} has characters outside a-z: {sorted(bad)}")
    return names


def split_names(names):
    """The held-out split: unique names, sorted, every 10th one for testing.

    Duplicates are removed and the names sorted; every 10th name
    (``unique[9::10]``) is a test name, the others are training names.

    Returns:
        (train, test) -- two sorted lists of distinct names (1372 and 152 for ``dinos.txt``)
    """
    if isinstance(names, str):
        raise TypeError("split_names expects a list of names, not a string (use read_names(path) first)")
    unique = sorted(set(names))
    test = unique[9::10]
    train = [n for i, n in enumerate(unique) if i % 10 != 9]
    return train, test


def dev_split(train, every=10, offset=4):
    """Split the training names into a part to fit on and a dev part for tuning and early stopping.

    ``dev = train[offset::every]`` (137 of the 1372 names by default); the
    test names are never involved.

    Returns:
        (fit, dev) -- two lists of names
    """
    if not 0 <= offset < every:
        raise ValueError(f"need 0 <= offset < every, got offset={offset}, every={every}")
    dev = train[offset::every]
    fit = [n for i, n in enumerate(train) if i % every != offset]
    return fit, dev


def encode_name(name):
    """The training example of a name, built as in the assignment.

    Returns:
        X -- ``[None] + [index of each letter]`` (``None`` is the zero input)
        Y -- ``X[1:] + [index of '\\n']``; both of length ``len(name) + 1``
    """
    try:
        ix = [CHAR_TO_IX[c] for c in name]
    except KeyError as e:
        raise ValueError(f"name {name!r} has a character outside a-z: {e.args[0]!r}") from None
    X = [None] + ix
    Y = ix + [NEWLINE]
    return X, Y


def count_predicted(names):
    """Number of predicted characters: each name's letters plus its newline."""
    return sum(len(n) + 1 for n in names)


def to_bits(nats):
    """Convert nats (natural-log units) to bits: divide by ``ln 2``."""
    return nats / math.log(2)


def rnn_nll(parameters, names):
    """Total NLL (nats) of ``names`` under the course RNN, and the number of predicted characters.

    Every name starts from a zero hidden state ``(n_a, 1)`` and the zero input
    (``X[0] = None``), exactly as in the assignment's ``rnn_forward``.
    """
    _check_rnn_parameters(parameters)
    n_a = parameters["Waa"].shape[0]
    a0 = np.zeros((n_a, 1))
    total = 0.0
    for name in names:
        X, Y = encode_name(name)
        loss, _ = rnn_forward(X, Y, a0, parameters)
        total += float(loss)
    return total, count_predicted(names)


def rnn_mean_nll(parameters, names):
    """Mean NLL per predicted character (nats) of the course RNN on ``names``."""
    total, count = rnn_nll(parameters, names)
    if count == 0:
        raise ValueError("no names to score")
    return total / count


def ngram_mean_nll(model, names):
    """Mean NLL per predicted character (nats) of a :mod:`utils.ngram` model on ``names``.

    Each name is the stream ``"\\n" + name + "\\n"`` scored from position 1,
    so the newline before it is the start-of-name context.
    """
    from .ngram import corpus_mean_nll, name_streams

    return corpus_mean_nll(model, name_streams(names), start=1)


def _check_rnn_parameters(parameters):
    missing = {"Wax", "Waa", "Wya", "b", "by"} - set(parameters)
    if missing:
        raise KeyError(f"parameters lack {sorted(missing)}; expected the dict of Wax, Waa, Wya, b, by")


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def adjust_distribution(p, temperature=1.0, top_k=None):
    """Reshape a next-character distribution for sampling.

    Arguments:
        p -- probabilities, shape ``(V,)`` or ``(V, 1)``
        temperature -- ``> 0``; below 1 sharpens (safer names), above 1 flattens
            (wilder names). Computed as ``p ** (1 / temperature)`` renormalised,
            i.e. a softmax of ``log p / temperature``.
        top_k -- keep only the ``top_k`` most likely characters (None: all)

    Returns:
        q -- array of shape ``(V,)`` that sums to 1
    """
    p = np.asarray(p, dtype=float).ravel()
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    with np.errstate(divide="ignore"):
        logits = np.log(p) / temperature
    if top_k is not None and top_k < p.size:
        cut = np.sort(logits)[-top_k]
        logits = np.where(logits >= cut, logits, -np.inf)
    logits -= logits.max()
    q = np.exp(logits)
    return q / q.sum()


def sample_next(p, rng, temperature=1.0, top_k=None):
    """Draw one index from ``p`` after :func:`adjust_distribution`, with the numpy Generator ``rng``."""
    q = adjust_distribution(p, temperature, top_k)
    return int(rng.choice(q.size, p=q))


def rnn_stepper(parameters):
    """Adapt the course RNN to :func:`generate_names`: ``(initial state, step)``.

    ``step(state, ix)`` feeds index ``ix`` (None for the start) and returns
    ``(probabilities (V,), new state)``.
    """
    _check_rnn_parameters(parameters)
    n_a = parameters["Waa"].shape[0]

    def step(a_prev, ix):
        a, p = rnn_step_forward(parameters, a_prev, ix)
        return p.ravel(), a

    return np.zeros((n_a, 1)), step


def ngram_stepper(model):
    """Adapt a :mod:`utils.ngram` model to :func:`generate_names` (the state is the text so far)."""
    order_ix = [CHAR_TO_IX[c] for c in model.vocab]
    if sorted(model.vocab) != sorted(VOCAB):
        raise ValueError("the n-gram model's vocabulary must be the 27 characters of the names")

    def step(text, ix):
        text = text + ("\n" if ix is None else IX_TO_CHAR[ix])
        p = np.empty(len(VOCAB))
        p[order_ix] = model.probs(text)
        return p, text

    return "", step


def generate_names(stepper, n, temperature=1.0, top_k=None, seed=0, max_len=50):
    """Generate ``n`` names, each of at least one letter.

    Arguments:
        stepper -- ``(initial_state, step)`` from :func:`rnn_stepper`,
            :func:`ngram_stepper` or a model's own ``stepper()``
        n -- number of names
        temperature, top_k -- see :func:`adjust_distribution`
        seed -- seed of the numpy Generator (same seed, same names)
        max_len -- a name is cut after this many letters

    Returns:
        list of ``n`` names (lower case, without the newline)

    A newline drawn as the very first character would give an empty name (at high
    temperatures it happens): that name is drawn again, from a second Generator seeded
    from ``seed``, so that every other name is exactly what it would be without this rule.
    """
    state0, step = stepper
    rng = np.random.default_rng(seed)
    redraw_rng = np.random.default_rng(None if seed is None else [seed, 1])
    names = []
    for _ in range(n):
        state, ix, letters, draws = state0, None, [], rng
        while len(letters) < max_len:
            p, state = step(state, ix)
            ix = sample_next(p, draws, temperature, top_k)
            while ix == NEWLINE and not letters and adjust_distribution(p, temperature, top_k)[NEWLINE] < 1:
                draws = redraw_rng  # this name is finished with the second Generator
                ix = sample_next(p, draws, temperature, top_k)
            if ix == NEWLINE:
                break
            letters.append(IX_TO_CHAR[ix])
        names.append("".join(letters))
    return names


def novelty_rate(generated, train_names):
    """Share of ``generated`` names that are not training names (empty names count as not novel)."""
    generated = list(generated)
    if not generated:
        raise ValueError("no generated names")
    known = set(train_names)
    return sum(1 for g in generated if g and g not in known) / len(generated)


def format_table(rows, count=None):
    """A plain-text table of ``(model, nats per char)`` rows, sorted from worst to best, with bits.

    ``count`` (optional) is the number of predicted characters, shown in the title.
    """
    title = "Test NLL per predicted character" + (f" ({count} characters)" if count else "")
    width = max([len(r[0]) for r in rows] + [5])
    lines = [title, f"{'model':<{width}}  {'nats':>6}  {'bits':>6}", "-" * (width + 16)]
    for name, nats in sorted(rows, key=lambda r: -r[1]):
        lines.append(f"{name:<{width}}  {nats:6.3f}  {to_bits(nats):6.3f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Baselines and the saved course-RNN variants
# ---------------------------------------------------------------------------


def ngram_baselines(train, test, fit=None, dev=None, kn_orders=(2, 3, 4, 5, 6, 7), verbose=False):
    """Score the n-gram baselines on ``test``; smoothing is tuned on ``dev`` only.

    Each smoothed model is tuned by fitting on ``fit`` and scoring ``dev``
    (default: :func:`dev_split` of ``train``), then refitted on all of
    ``train`` with the chosen setting and scored once on ``test``.

    Returns:
        list of dicts ``{"model", "setting", "param", "dev", "test"}`` (NLL in
        nats per character; ``param`` is the chosen k or discount), in the order uniform, unigram, add-k bigram and trigram,
        Kneser-Ney of each order in ``kn_orders``, and modified Kneser-Ney of
        the highest order with its estimated discounts
    """
    from .ngram import AddK, KneserNey, Uniform, corpus_mean_nll, name_streams, tune_discount, tune_k

    if fit is None or dev is None:
        fit, dev = dev_split(train)
    fit_s, dev_s, train_s, test_s = (name_streams(x) for x in (fit, dev, train, test))

    def score(model):
        return corpus_mean_nll(model, test_s, start=1)

    rows = []
    uni = Uniform(VOCAB).fit()
    rows.append({"model": "uniform", "setting": "1/27", "param": None, "dev": corpus_mean_nll(uni, dev_s, 1), "test": score(uni)})
    for order, label in ((1, "unigram (add-k)"), (2, "bigram (add-k)"), (3, "trigram (add-k)")):
        k, dev_nll = tune_k(order, VOCAB, fit_s, dev_s, start=1)
        model = AddK(order, VOCAB, k).fit(train_s, start=1)
        rows.append({"model": label, "setting": f"k={k:g}", "param": k, "dev": dev_nll, "test": score(model)})
    for order in kn_orders:
        d, dev_nll = tune_discount(order, VOCAB, fit_s, dev_s, start=1)
        model = KneserNey(order, VOCAB, d).fit(train_s, start=1)
        rows.append({"model": f"Kneser-Ney {order}-gram", "setting": f"D={d:g}", "param": d, "dev": dev_nll, "test": score(model)})
    top = max(kn_orders)
    mkn_dev = corpus_mean_nll(KneserNey(top, VOCAB, "modified").fit(fit_s, start=1), dev_s, 1)
    mkn = KneserNey(top, VOCAB, "modified").fit(train_s, start=1)
    rows.append({"model": f"modified Kneser-Ney {top}-gram", "setting": "estimated D1,D2,D3+", "param": "modified",
                 "dev": mkn_dev, "test": score(mkn)})
    if verbose:
        for r in rows:
            print(f"{r['model']:<30} {r['setting']:<20} dev {r['dev']:.4f}  test {r['test']:.4f}")
    return rows


RNN_VARIANTS = {
    "carry": "course RNN: 35k iterations, hidden state carried (the assignment's recipe)",
    "reset": "course RNN: 35k iterations, hidden state reset per name",
    "carry_long": "course RNN: 175k iterations, hidden state carried",
    "reset_long": "course RNN: 175k iterations, hidden state reset per name",
}
"""The course-RNN variants saved in ``models/course_rnn.npz`` (key prefix -> description)."""


def load_course_rnn(path="models/course_rnn.npz"):
    """The course-RNN variants trained instructor-side (``python -m training.evaluate --train``).

    Returns:
        dict ``variant -> {"parameters": {Wax, Waa, Wya, b, by}, "iterations": (k,),
        "dev_nll": (k,), "train_loss": (k,), "description": str}`` where
        ``dev_nll`` is the dev NLL per character logged at ``iterations`` and
        ``train_loss`` the smoothed training loss (per name) at the same points
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: it is made by the instructor command `python -m training.evaluate --train`"
        )
    out = {}
    with np.load(path) as f:
        for variant, description in RNN_VARIANTS.items():
            if f"{variant}__Wax" not in f:
                continue
            out[variant] = {
                "parameters": {k: f[f"{variant}__{k}"].copy() for k in ("Wax", "Waa", "Wya", "b", "by")},
                "iterations": f[f"{variant}__iterations"].copy(),
                "dev_nll": f[f"{variant}__dev_nll"].copy(),
                "train_loss": f[f"{variant}__train_loss"].copy(),
                "description": description,
            }
    if not out:
        raise ValueError(f"{path} holds none of the variants {sorted(RNN_VARIANTS)}")
    return out


# ---------------------------------------------------------------------------
# Interpolating two models
# ---------------------------------------------------------------------------


def ngram_char_logprobs(model, names):
    """Log-probability of every predicted character of ``names`` under an n-gram model.

    Returns:
        array of shape ``(count_predicted(names),)``, name by name, each name's
        letters then its newline (the order of ``CharLSTM.char_logprobs``)
    """
    out = []
    for name in names:
        text = "\n" + name + "\n"
        out.extend(model.logprob(text[:i], text[i]) for i in range(1, len(text)))
    return np.array(out)


def mixture_mean_nll(logp_a, logp_b, weight):
    """Mean NLL of the interpolation ``weight * P_a + (1 - weight) * P_b`` (per-character log-probabilities in)."""
    logp_a, logp_b = np.asarray(logp_a, float), np.asarray(logp_b, float)
    if logp_a.shape != logp_b.shape:
        raise ValueError(f"the two models scored different characters: shapes {logp_a.shape} and {logp_b.shape}")
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    with np.errstate(divide="ignore"):
        mixed = np.logaddexp(np.log(weight) + logp_a, np.log1p(-weight) + logp_b)
    return float(-mixed.mean())


def tune_mixture_weight(logp_a, logp_b, grid=None):
    """The interpolation weight of model a with the lowest mean NLL (use dev log-probabilities only).

    Returns:
        (weight, mean NLL at that weight)
    """
    grid = np.linspace(0, 1, 41) if grid is None else np.asarray(grid, float)
    scores = [mixture_mean_nll(logp_a, logp_b, w) for w in grid]
    best = int(np.argmin(scores))
    return float(grid[best]), float(scores[best])


def interpolate_with_kneser_ney(char_logprobs, train, test, fit=None, dev=None, orders=(3, 4, 5, 6, 7, 8)):
    """Interpolate a model with a Kneser-Ney n-gram; everything chosen on the dev names.

    For every order of ``orders``: the discount is tuned on dev (fit on
    ``fit``), then the weight ``w`` of ``w * P_model + (1 - w) * P_KN`` is
    tuned on dev. The order with the lowest dev NLL wins; its n-gram is
    refitted on all of ``train`` and the mixture is scored once on ``test``.

    Arguments:
        char_logprobs -- function ``names -> per-character log-probabilities``
            of the model (e.g. ``CharLSTM.char_logprobs``), trained on ``fit``
        train, test, fit, dev -- name lists (``fit``/``dev`` default to :func:`dev_split` of ``train``)

    Returns:
        dict ``order, discount, weight, dev, test`` (NLL in nats per character)
    """
    from .ngram import KneserNey, name_streams, tune_discount

    if fit is None or dev is None:
        fit, dev = dev_split(train)
    model_dev = char_logprobs(dev)
    best = None
    for order in orders:
        d, _ = tune_discount(order, VOCAB, name_streams(fit), name_streams(dev), start=1)
        kn = KneserNey(order, VOCAB, d).fit(name_streams(fit), start=1)
        w, nll = tune_mixture_weight(model_dev, ngram_char_logprobs(kn, dev))
        if best is None or nll < best["dev"]:
            best = {"order": order, "discount": d, "weight": w, "dev": nll}
    kn = KneserNey(best["order"], VOCAB, best["discount"]).fit(name_streams(train), start=1)
    best["test"] = mixture_mean_nll(char_logprobs(test), ngram_char_logprobs(kn, test), best["weight"])
    return best
