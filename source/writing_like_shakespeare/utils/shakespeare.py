"""Keras 3 helpers for the optional notebook *Writing like Shakespeare*.

This module imports TensorFlow, so it is never part of ``from utils import *``;
import it explicitly (``from utils import shakespeare`` or
``from utils.shakespeare import ...``). It silences TensorFlow's C++ and
oneDNN start-up messages before TensorFlow is imported.

The model reads characters as integer indices into :data:`VOCAB` and predicts,
at every position of its input, the next character::

    x: (batch, T) int32 indices  ->  model  ->  probabilities (batch, T, VOCAB_SIZE)

Position ``t`` of the output is the distribution of the character that follows
``x[:, t]``, given ``x[:, :t + 1]``. A character is always predicted from at
most :data:`TX` (40) preceding characters, in training, in evaluation and in
:func:`generate_output` alike.

Corpus split (fixed, see :func:`split_corpus`): the lower-cased sonnets; the
last 10% of the characters is the test part (never trained on), the last 10%
of the rest is the dev part (early stopping, tuning), the remainder trains.
"""

import contextlib
import os

# Quiet TensorFlow before it is imported (C++ log lines, oneDNN notice).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import unicodedata  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


@contextlib.contextmanager
def _quiet_native_stderr():
    """Send the process's native stderr (file descriptor 2) to /dev/null for a while.

    TensorFlow 2.21 writes a few lines at import time ("All log messages
    before absl::InitializeLog() ...", "Could not find cuda drivers ...")
    before it reads ``TF_CPP_MIN_LOG_LEVEL``; Jupyter would show them in the
    notebook. Python exceptions are unaffected: they are raised as usual.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _quiet_native_stderr():
    import tensorflow as tf  # noqa: E402
    import keras  # noqa: E402

__all__ = [
    "TX",
    "STRIDE",
    "VOCAB",
    "VOCAB_SIZE",
    "CHAR_TO_IX",
    "IX_TO_CHAR",
    "load_corpus",
    "split_corpus",
    "encode",
    "decode",
    "clean_text",
    "make_windows",
    "one_hot",
    "build_model",
    "load_model",
    "next_char_probs",
    "sample_index",
    "char_probs",
    "mean_nll",
    "generate_output",
]

TX = 40
"""Context length: a character is predicted from at most ``TX`` preceding characters."""

STRIDE = 3
"""Step between the starts of two consecutive training windows."""

VOCAB = "\n !'(),-.:;?abcdefghijklmnopqrstuvwxyz"
"""The 38 characters of the lower-cased sonnets, sorted (``'\\n'`` is index 0)."""

VOCAB_SIZE = len(VOCAB)
CHAR_TO_IX = {ch: i for i, ch in enumerate(VOCAB)}
IX_TO_CHAR = dict(enumerate(VOCAB))

# Characters outside VOCAB that have an obvious stand-in.
_REPLACEMENTS = {
    '"': "'", "`": "'", "\u2018": "'", "\u2019": "'", "\u201c": "'", "\u201d": "'",
    "\u00b4": "'", "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-",
    "\u2026": "...", "[": "(", "]": ")", "{": "(", "}": ")", "\t": " ",
    "\r": "", "\u00a0": " ", "\u00e6": "ae", "\u0153": "oe", "\u00df": "ss",
}
_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

_DATA_FILE = Path("data") / "shakespeare.txt"


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------

def load_corpus(path=None):
    """Read the sonnets and lower-case them.

    Arguments:
        path -- the text file; default ``data/shakespeare.txt`` relative to the
            current folder (the assignment folder in a notebook).

    Returns:
        text -- str, lower-cased (94,275 characters for the shipped file)

    Raises FileNotFoundError with the path when the file is missing and
    ValueError when it holds characters outside :data:`VOCAB`.
    """
    path = Path(path) if path is not None else _DATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Shakespeare corpus not found at '{path}'. Run the notebook from its "
            "assignment folder (it needs data/shakespeare.txt next to it)."
        )
    text = path.read_text(encoding="utf-8").lower()
    unknown = sorted(set(text) - set(VOCAB))
    if unknown:
        raise ValueError(f"{path} holds characters outside the vocabulary: {unknown!r}")
    return text


def split_corpus(text):
    """The fixed train/dev/test split of the course.

    The last 10% of the characters (``len(text) // 10``) is the test part; the
    last 10% of what remains is the dev part; the rest trains.

    Returns:
        (train, dev, test) -- three str, consecutive, ``train + dev + test == text``
    """
    n_test = len(text) // 10
    rest = len(text) - n_test
    n_dev = rest // 10
    n_train = rest - n_dev
    return text[:n_train], text[n_train:rest], text[rest:]


def clean_text(text):
    """Map any string onto :data:`VOCAB`, never raising.

    Lower-cases; replaces typographic quotes and dashes by their plain form;
    strips accents (``é`` -> ``e``); spells digits out (``'0'`` -> ``'zero'``,
    a typed 0 is text like any other, never padding); every other unknown
    character becomes a space, and runs of spaces are collapsed to one.

    Returns:
        (cleaned, replaced) -- the cleaned str and the sorted list of the
        characters of ``text`` (as typed) that were not in the vocabulary
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    out, replaced = [], set()
    for original in text:
        ch = original.lower()
        if ch in CHAR_TO_IX:
            out.append(ch)
            continue
        replaced.add(original)
        if ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        elif ch in "0123456789":
            out.append(" " + _DIGITS[int(ch)] + " ")
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            ).lower()
            out.append(base if base and all(c in CHAR_TO_IX for c in base) else " ")
    cleaned = "".join(out)
    while "  " in cleaned:
        cleaned = cleaned.replace("  ", " ")
    # no space at either end that the typed text did not have
    if cleaned.endswith(" ") and not text[-1:].isspace():
        cleaned = cleaned[:-1]
    if cleaned.startswith(" ") and not text[:1].isspace():
        cleaned = cleaned[1:]
    return cleaned, sorted(replaced)


def encode(text):
    """Indices of the characters of ``text`` (which must be in :data:`VOCAB`).

    Returns:
        indices -- int32 array of shape ``(len(text),)``
    """
    try:
        return np.fromiter((CHAR_TO_IX[c] for c in text), dtype=np.int32, count=len(text))
    except KeyError as err:
        raise ValueError(
            f"character {err.args[0]!r} is not in the vocabulary; clean the text "
            "with clean_text() first"
        ) from None


def decode(indices):
    """The string of the indices (any iterable of ints in ``[0, VOCAB_SIZE)``)."""
    return "".join(IX_TO_CHAR[int(i)] for i in indices)


def make_windows(text, tx=TX, stride=STRIDE):
    """Cut ``text`` into overlapping training windows.

    Window ``k`` starts at ``k * stride``; ``X[k] = text[s:s + tx]`` and
    ``Y[k] = text[s + 1:s + tx + 1]`` (the next character at every position),
    for every start ``s`` in ``range(0, len(text) - tx, stride)``. The
    original notebook's target, the character after the window, is
    ``Y[:, -1]``. The whole lower-cased sonnets give 31,412 windows.

    Returns:
        X -- int32 array ``(m, tx)``
        Y -- int32 array ``(m, tx)``
    """
    if tx < 1 or stride < 1:
        raise ValueError(f"tx and stride must be positive, got tx={tx}, stride={stride}")
    if len(text) <= tx:
        raise ValueError(f"text of {len(text)} characters is too short for windows of {tx}")
    ids = encode(text)
    starts = np.arange(0, len(ids) - tx, stride)
    offsets = np.arange(tx)
    X = ids[starts[:, None] + offsets]
    Y = ids[starts[:, None] + offsets + 1]
    return X, Y


def one_hot(indices, vocab_size=VOCAB_SIZE):
    """One-hot encoding: ``(...)`` int indices -> ``(..., vocab_size)`` float32."""
    indices = np.asarray(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= vocab_size):
        raise ValueError(f"indices must lie in [0, {vocab_size})")
    return np.eye(vocab_size, dtype=np.float32)[indices]


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------

def build_model(
    vocab_size=VOCAB_SIZE,
    embed_dim=32,
    units=(512,),
    dropout=0.6,
    recurrent_dropout=0.0,
    embed_dropout=0.25,
    cell="lstm",
    learning_rate=2e-3,
    weight_decay=0.05,
    clipnorm=1.0,
):
    """The (stacked) character model, compiled.

    The defaults are those of the shipped model (one LSTM of 512 units);
    ``units=(256, 256)`` stacks two LSTMs of 256 units, ``units=(128, 128)``
    with ``embed_dim=38`` is close to the original course model.

    ``Input (batch, T) int`` -> ``Embedding(vocab_size, embed_dim)`` ->
    ``Dropout(embed_dropout)`` -> for each width ``n`` in ``units``:
    ``LSTM(n, return_sequences=True)`` (or GRU) -> ``Dropout(dropout)`` ->
    ``Dense(vocab_size, softmax)`` giving ``(batch, T, vocab_size)``.
    ``T`` is free, so a prompt of any length up to :data:`TX` can be fed.

    Loss: sparse categorical cross-entropy against the next character at every
    position; optimiser AdamW (Adam when ``weight_decay`` is 0).
    """
    if cell not in ("lstm", "gru"):
        raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
    units = tuple(int(u) for u in units)
    if not units or min(units) < 1:
        raise ValueError(f"units must list at least one positive width, got {units}")
    Recurrent = keras.layers.LSTM if cell == "lstm" else keras.layers.GRU
    layers = [
        keras.Input(shape=(None,), dtype="int32", name="chars"),
        keras.layers.Embedding(vocab_size, embed_dim, name="embedding"),
        keras.layers.Dropout(embed_dropout, name="embedding_dropout"),
    ]
    for k, n in enumerate(units, start=1):
        layers.append(
            Recurrent(n, return_sequences=True, recurrent_dropout=recurrent_dropout,
                      name=f"{cell}_{k}")
        )
        layers.append(keras.layers.Dropout(dropout, name=f"dropout_{k}"))
    layers.append(keras.layers.Dense(vocab_size, activation="softmax", name="next_char"))
    model = keras.Sequential(layers, name="shakespeare_" + cell)
    if weight_decay:
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm)
    else:
        opt = keras.optimizers.Adam(learning_rate, clipnorm=clipnorm)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    return model


def load_model(path=None):
    """Load a saved model (default ``models/shakespeare_lstm.keras``) with a clear error."""
    path = Path(path) if path is not None else Path("models") / "shakespeare_lstm.keras"
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained model not found at '{path}'. Run the notebook from its assignment "
            "folder, or train one with `python -m training.shakespeare_train`."
        )
    with warnings.catch_warnings():
        # The shipped model is saved without optimizer state (to keep it small):
        # its optimizer starts afresh, as intended.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = keras.models.load_model(path)
    out = model.output_shape
    if out[-1] != VOCAB_SIZE:
        raise ValueError(f"{path}: the model predicts {out[-1]} classes, not {VOCAB_SIZE}")
    return model


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a Keras model, got {type(model).__name__}")
    if model.output_shape[-1] != VOCAB_SIZE or len(model.output_shape) != 3:
        raise ValueError(
            f"the model must map (batch, T) indices to (batch, T, {VOCAB_SIZE}) "
            f"probabilities; its output shape is {model.output_shape}"
        )


def next_char_probs(model, windows):
    """Distribution of the character after each window.

    Arguments:
        windows -- int array ``(m, T)`` of indices, ``1 <= T``

    Returns:
        probs -- float64 array ``(m, VOCAB_SIZE)``, rows summing to 1
    """
    windows = np.asarray(windows, dtype=np.int32)
    if windows.ndim != 2 or windows.shape[1] < 1:
        raise ValueError(f"windows must have shape (m, T) with T >= 1, got {windows.shape}")
    out = np.asarray(_predictor(model)(windows))[:, -1, :].astype(np.float64)
    return out / out.sum(axis=1, keepdims=True)


def char_probs(model, text, start=1, tx=TX, batch_size=512):
    """Probability the model gives to each character of ``text[start:]``.

    Character ``i`` (``i >= start``) is predicted from ``text[max(0, i - tx):i]``
    (so at least one character of context is needed: ``start >= 1``).

    Returns:
        probs -- float64 array ``(len(text) - start,)``
    """
    _check_model(model)
    if start < 1:
        raise ValueError("start must be >= 1: the first character has no context")
    if start >= len(text):
        raise ValueError(f"nothing to score: start={start} but the text has {len(text)} characters")
    ids = encode(text)
    out = []
    # Positions with a short context, one at a time (at most tx - 1 of them).
    for i in range(start, min(tx, len(ids))):
        out.append(next_char_probs(model, ids[None, :i])[0, ids[i]])
    full = np.arange(max(start, tx), len(ids))
    for b in range(0, len(full), batch_size):
        pos = full[b:b + batch_size]
        win = ids[pos[:, None] - tx + np.arange(tx)]
        out.extend(next_char_probs(model, win)[np.arange(len(pos)), ids[pos]])
    return np.asarray(out, dtype=np.float64)


def mean_nll(model, text, start=1, tx=TX, batch_size=512):
    """Mean negative log-likelihood in nats of ``text[start:]`` (see :func:`char_probs`).

    Pass the text before the scored part as a prefix to give its first
    characters their full context, e.g. ``mean_nll(model, dev[-40:] + test, start=40)``.

    Returns:
        float -- mean of ``-log p(text[i] | text[max(0, i - tx):i])`` over ``i >= start``
    """
    return float(-np.log(char_probs(model, text, start, tx, batch_size)).mean())


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------

def sample_index(probs, temperature=1.0, rng=None):
    """Draw an index from ``probs`` (shape ``(VOCAB_SIZE,)``) sharpened by ``temperature``.

    ``temperature`` 1 samples the model's distribution, below 1 is more
    conservative, above 1 more adventurous, and 0 always takes the most likely
    character.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(probs))
    logits = np.log(np.maximum(probs, 1e-300)) / temperature
    logits -= logits.max()
    p = np.exp(logits)
    p /= p.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(len(p), p=p))


def generate_output(model, sentence=None, length=400, temperature=1.0, seed=None,
                    verbose=True):
    """Continue ``sentence`` with ``length`` characters sampled from ``model``.

    Arguments:
        model -- a model from :func:`build_model` / :func:`load_model`
        sentence -- the start of the poem; when None, asked for with ``input()``.
            Any length and any characters: it is cleaned with :func:`clean_text`
            (characters outside the vocabulary are replaced, digits spelled
            out) and only its last :data:`TX` characters condition the model.
            An empty sentence starts a new line.
        length -- number of characters to generate (>= 0)
        temperature -- see :func:`sample_index`
        seed -- int for reproducible output (numpy Generator), None for fresh
        verbose -- print the sentence and its continuation, and return None (so that a
            notebook cell ending with this call shows the poem once, not again as ``Out[]``);
            False: print nothing and return the continuation

    Returns:
        continuation -- str of ``length`` characters when ``verbose`` is False, else None
    """
    _check_model(model)
    if sentence is None:
        sentence = input("Write the beginning of your poem, the Shakespeare machine will complete it. Your input is: ")
    if not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative int, got {length!r}")
    cleaned, replaced = clean_text(sentence)
    if verbose and replaced:
        print(f"(replaced characters the model does not know: {''.join(replaced)!r})")
    rng = np.random.default_rng(seed)
    context = list(encode(cleaned)) or [CHAR_TO_IX["\n"]]
    predict = _predictor(model)
    generated = []
    for _ in range(length):
        window = np.asarray(context[-TX:], dtype=np.int32)[None, :]
        probs = np.asarray(predict(window))[0, -1].astype(np.float64)
        idx = sample_index(probs / probs.sum(), temperature, rng)
        generated.append(idx)
        context.append(idx)
    continuation = decode(generated)
    if verbose:
        print("\n\nHere is your poem: \n")
        print(cleaned + continuation)
        return None
    return continuation


def _predictor(model):
    """A compiled inference call of ``model`` (cached on the model)."""
    fn = getattr(model, "_shakespeare_predict", None)
    if fn is None:
        @tf.function(reduce_retracing=True)
        def fn(x):
            return model(x, training=False)

        model._shakespeare_predict = fn
    return fn
