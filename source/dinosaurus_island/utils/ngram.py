"""Character n-gram language models: the baselines a neural model has to beat.

Three families, all with the same small interface (``fit``, ``logprob``,
``probs``, ``mean_nll``):

* :class:`Uniform` -- every character of the vocabulary equally likely.
* :class:`AddK` -- counts of ``order``-grams plus ``k`` (add-k / Laplace);
  :class:`Unigram` is ``AddK`` of order 1.
* :class:`KneserNey` -- interpolated Kneser-Ney with a single discount or
  the three discounts of *modified* Kneser-Ney (Chen & Goodman, 1998).

Texts are **streams**: each string given to ``fit`` is independent, and the
context of the character at position ``i`` is ``text[max(0, i - order + 1):i]``,
so it is shorter at the start of a stream. Dinosaur names are scored as the
streams ``"\\n" + name + "\\n"`` with ``start=1`` (the leading newline is the
start-of-name context and is itself never predicted); a book is one stream
scored from ``start=0``.

All log-probabilities are natural logs (nats). Every model mixes in the
uniform distribution ``1 / len(vocab)`` at its lowest level, so no character
of the vocabulary ever gets probability 0.

Kneser-Ney in one formula. For a context ``h`` (at most ``order - 1``
characters) and its suffix ``h'`` (``h`` without its first character)::

    P(c | h) = max(a(h c) - D, 0) / a(h .)  +  D * N1+(h .) / a(h .) * P(c | h')
    P(c | "") is interpolated with 1 / V the same way

where ``a`` is the *raw count* at the highest level used for this query, and
the *continuation count* at every lower level: the number of distinct
characters seen right before ``h c``. An occurrence that starts at the very
beginning of a stream has no character before it, so it adds 1 to the
continuation count itself (this is what KenLM does for n-grams that begin
with ``<s>``). When ``a(h .)`` is 0 (context never seen) the level is
skipped. With modified Kneser-Ney ``D`` is ``D1``, ``D2`` or ``D3+`` depending
on the count, and the back-off weight is ``(D1 N1 + D2 N2 + D3+ N3+) / a(h .)``.
"""

from collections import defaultdict
import math

import numpy as np

__all__ = [
    "Uniform",
    "AddK",
    "Unigram",
    "KneserNey",
    "corpus_mean_nll",
    "name_streams",
    "tune_discount",
    "tune_k",
]

DEFAULT_DISCOUNT_GRID = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 ... 1.0
DEFAULT_K_GRID = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0)


def name_streams(names):
    """The streams ``"\\n" + name + "\\n"`` for a list of names (score them with ``start=1``)."""
    if isinstance(names, str):
        raise TypeError("name_streams expects a list of names, not a single string")
    return ["\n" + name + "\n" for name in names]


def _as_texts(texts):
    """A list of strings from one string or an iterable of strings (with a clear error otherwise)."""
    if isinstance(texts, str):
        return [texts]
    try:
        out = list(texts)
    except TypeError:
        raise TypeError(f"expected a string or an iterable of strings, got {type(texts).__name__}") from None
    for t in out:
        if not isinstance(t, str):
            raise TypeError(f"expected strings, got an element of type {type(t).__name__}")
    return out


def _check_order(order):
    """``order`` as an int, or a clear error."""
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    return int(order)


class _CharModel:
    """Shared plumbing: vocabulary checks and the NLL of whole texts."""

    order = 1

    def __init__(self, vocab):
        chars = sorted(set(vocab))
        if not chars:
            raise ValueError("vocab is empty: give the characters the model may predict, e.g. set(text)")
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"vocab must contain single characters, got {ch!r}")
        self.vocab = chars
        self.V = len(chars)
        self._vocab_set = set(chars)
        self._fitted = False

    # -- helpers ---------------------------------------------------------
    def _check_chars(self, text, what="text"):
        unknown = set(text) - self._vocab_set
        if unknown:
            shown = ", ".join(repr(c) for c in sorted(unknown)[:10])
            raise ValueError(f"{what} contains characters outside the vocabulary: {shown}")

    def _check_fitted(self):
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call .fit(texts) first")

    def _context(self, context):
        if not isinstance(context, str):
            raise TypeError(f"context must be a string, got {type(context).__name__}")
        n = self.order - 1
        return context[max(0, len(context) - n) :] if n > 0 else ""

    # -- public ----------------------------------------------------------
    def prob(self, context, char):
        """Probability of ``char`` after ``context`` (only the last ``order - 1`` characters matter)."""
        self._check_fitted()
        if char not in self._vocab_set:
            raise ValueError(f"character {char!r} is not in the vocabulary")
        h = self._context(context)
        self._check_chars(h, "context")
        return self._prob(h, char)

    def logprob(self, context, char):
        """Natural log of :meth:`prob`; never ``-inf`` for a character of the vocabulary."""
        return math.log(self.prob(context, char))

    def probs(self, context):
        """The whole next-character distribution after ``context``.

        Returns an array of shape ``(len(vocab),)`` in the order of ``self.vocab``
        (sorted characters); it sums to 1.
        """
        self._check_fitted()
        h = self._context(context)
        self._check_chars(h, "context")
        return np.array([self._prob(h, c) for c in self.vocab])

    def nll_sum(self, text, start=0):
        """Total ``-log P`` (nats) of ``text[start:]`` and the number of characters predicted.

        Position ``i`` is predicted from ``text[:i]`` (its last ``order - 1``
        characters), so the first ``start`` characters only serve as context.
        """
        self._check_fitted()
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        if not 0 <= start <= len(text):
            raise ValueError(f"start={start} is outside the text (length {len(text)})")
        self._check_chars(text)
        n = self.order - 1
        total = 0.0
        for i in range(start, len(text)):
            total -= math.log(self._prob(text[max(0, i - n) : i], text[i]))
        return total, len(text) - start

    def mean_nll(self, text, start=0):
        """Mean over ``i >= start`` of ``-logprob(text[:i], text[i])``, in nats per character."""
        total, count = self.nll_sum(text, start)
        if count == 0:
            raise ValueError("nothing to score: text[start:] is empty")
        return total / count


class Uniform(_CharModel):
    """Every character of the vocabulary has probability ``1 / len(vocab)``."""

    def fit(self, texts=(), start=0):
        """Nothing to learn; checks the characters and returns ``self``."""
        for t in _as_texts(texts):
            self._check_chars(t)
        self._fitted = True
        return self

    def _prob(self, h, c):
        return 1.0 / self.V


class AddK(_CharModel):
    """Add-k smoothed n-gram: ``P(c | h) = (C(h c) + k) / (C(h) + k V)``.

    ``h`` is the last ``order - 1`` characters, shorter at the start of a
    stream (counted separately there, since ``C`` is indexed by the string).
    A context never seen in training gives the uniform distribution.
    """

    def __init__(self, order, vocab, k=1.0):
        super().__init__(vocab)
        self.order = _check_order(order)
        self.k = k

    @property
    def k(self):
        return self._k

    @k.setter
    def k(self, value):
        if not value > 0:
            raise ValueError(f"k must be > 0 (k = 0 would give probability 0 to unseen n-grams), got {value!r}")
        self._k = float(value)

    def fit(self, texts, start=0):
        """Count the n-grams of every stream in ``texts`` (targets ``i >= start``). Returns ``self``."""
        texts = _as_texts(texts)
        n = self.order - 1
        counts = defaultdict(lambda: defaultdict(int))
        for t in texts:
            self._check_chars(t)
            for i in range(start, len(t)):
                counts[t[max(0, i - n) : i]][t[i]] += 1
        self._counts = {h: (sum(d.values()), dict(d)) for h, d in counts.items()}
        self._fitted = True
        return self

    def _prob(self, h, c):
        st = self._counts.get(h)
        if st is None:
            return 1.0 / self.V
        total, d = st
        return (d.get(c, 0) + self._k) / (total + self._k * self.V)


class Unigram(AddK):
    """Character frequencies with add-k smoothing: ``(C(c) + k) / (N + k V)``."""

    def __init__(self, vocab, k=1.0):
        super().__init__(1, vocab, k)


def _ctx_stats(table):
    """Group ``{(h, c): count}`` into ``{h: (total, N1, N2, N3+, {c: count})}``."""
    by_ctx = defaultdict(dict)
    for (h, c), a in table.items():
        by_ctx[h][c] = a
    out = {}
    for h, d in by_ctx.items():
        vals = d.values()
        n1 = sum(1 for a in vals if a == 1)
        n2 = sum(1 for a in vals if a == 2)
        out[h] = (sum(vals), n1, n2, len(d) - n1 - n2, d)
    return out


def _estimate_modified(counts):
    """Chen & Goodman's discounts ``(D1, D2, D3+)`` from the count-of-counts of ``counts``."""
    n = [0] * 5
    for a in counts:
        if a <= 4:
            n[a] += 1
    if n[1] == 0 or n[2] == 0:
        return (0.5, 1.0, 1.5)  # too little data to estimate: moderate defaults
    y = n[1] / (n[1] + 2 * n[2])
    d1 = 1 - 2 * y * n[2] / n[1]
    d2 = 2 - 3 * y * n[3] / n[2] if n[2] else 1.0
    d3 = 3 - 4 * y * n[4] / n[3] if n[3] else 1.5
    # Keep them in the valid ranges (0, 1], (0, 2], (0, 3].
    return (min(max(d1, 0.05), 1.0), min(max(d2, 0.05), 2.0), min(max(d3, 0.05), 3.0))


class KneserNey(_CharModel):
    """Interpolated Kneser-Ney character n-gram model (modified or single discount).

    Arguments:
        order -- n, the number of characters of an n-gram (context = n - 1 characters)
        vocab -- iterable of the characters the model predicts
        discount -- one of
            * a float ``0 < D <= 1``: the same discount at every level (plain KN);
            * a tuple ``(D1, D2, D3)``: modified KN with these discounts for
              counts 1, 2 and >= 3 (``0 < Di <= i``);
            * ``"modified"``: modified KN, the three discounts of every level
              estimated from its count-of-counts (Chen & Goodman's formula).

    The discount can be changed after ``fit`` (counts do not depend on it),
    which is how :func:`tune_discount` searches a grid cheaply.
    """

    def __init__(self, order, vocab, discount=0.75):
        super().__init__(vocab)
        self.order = _check_order(order)
        self.discount = discount

    @property
    def discount(self):
        return self._discount

    @discount.setter
    def discount(self, value):
        if isinstance(value, str):
            if value != "modified":
                raise ValueError(f'discount must be a float, a tuple (D1, D2, D3) or "modified", got {value!r}')
        elif isinstance(value, (tuple, list)):
            if len(value) != 3 or not all(0 < float(d) <= i for i, d in enumerate(value, 1)):
                raise ValueError(f"modified discounts (D1, D2, D3) need 0 < D1 <= 1, 0 < D2 <= 2, 0 < D3 <= 3, got {value!r}")
            value = tuple(float(d) for d in value)
        else:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"discount must be a number, got {value!r}") from None
            if not 0 < value <= 1:
                raise ValueError(f"discount must be in (0, 1], got {value}")
        self._discount = value
        if self._fitted:
            self._set_level_discounts()

    def _set_level_discounts(self):
        d = self._discount
        levels = range(self.order)
        if d == "modified":
            self._d_raw = [_estimate_modified(self._raw_counts[k].values()) for k in levels]
            self._d_adj = [_estimate_modified(self._adj_counts[k].values()) for k in levels]
        else:
            triple = d if isinstance(d, tuple) else (d, d, d)
            self._d_raw = [triple] * self.order
            self._d_adj = [triple] * self.order

    def fit(self, texts, start=0):
        """Count every stream of ``texts`` (targets at positions ``i >= start``). Returns ``self``.

        Raw counts are kept for every context length ``0 .. order-1`` (the
        highest level of a query, which is shorter at a stream start);
        continuation counts for every level below ``order - 1``.
        """
        texts = _as_texts(texts)
        n = self.order - 1
        raw = [defaultdict(int) for _ in range(self.order)]
        left = [defaultdict(set) for _ in range(self.order)]  # distinct chars before (h, c)
        at_start = [defaultdict(int) for _ in range(self.order)]  # occurrences with nothing before
        for t in texts:
            self._check_chars(t)
            for i in range(start, len(t)):
                c = t[i]
                for k in range(min(n, i) + 1):
                    key = (t[i - k : i], c)
                    raw[k][key] += 1
                    if k < n:
                        if i - k > 0:
                            left[k][key].add(t[i - k - 1])
                        else:
                            at_start[k][key] += 1
        adj = []
        for k in range(self.order):
            table = {key: len(s) for key, s in left[k].items()}
            for key, a in at_start[k].items():
                table[key] = table.get(key, 0) + a
            adj.append(table)
        self._raw_counts = [dict(r) for r in raw]
        self._adj_counts = adj
        self._raw = [_ctx_stats(r) for r in self._raw_counts]
        self._adj = [_ctx_stats(a) for a in self._adj_counts]
        self._fitted = True
        self._set_level_discounts()
        return self

    def _prob(self, h, c):
        top = len(h)
        p = 1.0 / self.V
        for k in range(top + 1):
            ctx = h[top - k :]
            if k == top:
                st, (d1, d2, d3) = self._raw[k].get(ctx), self._d_raw[k]
            else:
                st, (d1, d2, d3) = self._adj[k].get(ctx), self._d_adj[k]
            if st is None:
                continue  # context never seen at this level: keep the lower-order estimate
            total, n1, n2, n3p, counts = st
            a = counts.get(c, 0)
            d = 0.0 if a == 0 else d1 if a == 1 else d2 if a == 2 else d3
            p = (a - d) / total + (d1 * n1 + d2 * n2 + d3 * n3p) / total * p
        return p


def corpus_mean_nll(model, texts, start=0):
    """Mean NLL per predicted character over several streams (pooled: total NLL / total count)."""
    total, count = 0.0, 0
    for t in _as_texts(texts):
        s, n = model.nll_sum(t, start)
        total += s
        count += n
    if count == 0:
        raise ValueError("nothing to score: every text is shorter than start")
    return total / count


def tune_discount(order, vocab, train_texts, dev_text_or_texts, grid=None, start=0):
    """Pick the single KN discount with the lowest dev NLL.

    Fits :class:`KneserNey` once on ``train_texts`` and scores the dev
    stream(s) for every discount of ``grid`` (default 0.05, 0.10, ..., 1.0).
    ``start`` applies to training and dev streams alike (1 for names).

    Returns:
        (best discount, its dev mean NLL in nats per character)
    """
    model = KneserNey(order, vocab)
    return _tune(model, "discount", DEFAULT_DISCOUNT_GRID if grid is None else grid, train_texts,
                 dev_text_or_texts, start)


def tune_k(order, vocab, train_texts, dev_text_or_texts, grid=None, start=0):
    """Pick the add-k constant with the lowest dev NLL; returns ``(best k, dev mean NLL)``."""
    return _tune(AddK(order, vocab), "k", DEFAULT_K_GRID if grid is None else grid, train_texts, dev_text_or_texts,
                 start)


def _tune(model, attribute, grid, train_texts, dev_text_or_texts, start):
    """Fit ``model`` once, then set ``attribute`` to every value of ``grid``; the best ``(value, dev NLL)``."""
    grid = tuple(grid)
    if not grid:
        raise ValueError("grid is empty")
    model.fit(train_texts, start=start)
    best = None
    for value in grid:
        setattr(model, attribute, value)
        nll = corpus_mean_nll(model, dev_text_or_texts, start)
        if best is None or nll < best[1]:
            best = (float(value), nll)
    return best
