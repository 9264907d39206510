"""A better dinosaur-name model: a character LSTM in numpy, trained with mini-batches and Adam.

Compared with the course RNN it changes four things, each a standard tool:

* an **LSTM** cell instead of the plain ``tanh`` RNN (gates keep information
  across a long name and make the gradients better behaved);
* **mini-batches** of names (padded, with a mask) and the **Adam** optimiser
  instead of one name at a time with plain gradient descent;
* **dropout** on the hidden state before the output layer, so a model with
  more units does not just memorise the 1235 training names;
* **early stopping**: after every epoch the dev names are scored and the
  parameters with the best dev NLL are kept.

Shapes (batch-major, a batch of ``m`` names padded to ``T`` steps; ``V`` = 27
characters, ``H`` hidden units)::

    X, Y, mask     (m, T)        input index, target index, 1.0 where Y is a real character
    Wx (V, 4H)  Wh (H, 4H)  b (4H,)   gates in the order input, forget, output, candidate
    Wy (H, V)   by (V,)

    z<t> = Wx[X[:, t]] + h<t-1> Wh + b             (m, 4H)  (row lookup = one-hot product)
    i, f, o = sigmoid(z parts), g = tanh(z part)
    c<t> = f * c<t-1> + i * g,   h<t> = o * tanh(c<t>)          (m, H)
    p<t> = softmax(dropout(h<t>) Wy + by)                     (m, V)

A name is fed as ``'\\n' + name`` and must predict ``name + '\\n'``: the
newline plays the role of the zero input of the course RNN, and every name
starts from zero ``h`` and ``c``.
"""

import math
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .name_eval import CHAR_TO_IX, NEWLINE, count_predicted

__all__ = ["CharLSTM", "batch_names", "LSTM_MODEL", "LSTM_FIT"]

PARAM_NAMES = ("Wx", "Wh", "b", "Wy", "by")

LSTM_MODEL = {"hidden": 256, "dropout": 0.5, "dropout_input": 0.1, "dropout_rec": 0.5, "seed": 0}
"""Settings of the notebook's LSTM (chosen on the dev names; see docs/going_further.md)."""
LSTM_FIT = {"epochs": 150, "batch_size": 32, "lr": 3e-3, "weight_decay": 0.01, "patience": 10, "max_seconds": 270}
"""Training settings of the notebook's LSTM; ``max_seconds`` keeps it under 5 minutes on any CPU."""


def _blas_threads(n):
    """Context limiting numpy's BLAS to ``n`` threads (a no-op without ``threadpoolctl`` or when ``n`` is None).

    The matrices here are small: one thread is the fastest, and several
    threads on a busy CPU can make training several times slower.
    """
    if n is None:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def batch_names(names):
    """Encode names into padded arrays.

    Returns:
        X -- (m, T) int inputs: index of '\\n', then the letters
        Y -- (m, T) int targets: the letters, then '\\n'
        mask -- (m, T) float, 1.0 on the ``len(name) + 1`` real steps of each row
    """
    names = list(names)
    if not names:
        raise ValueError("no names to encode")
    T = max(len(n) for n in names) + 1
    X = np.zeros((len(names), T), dtype=np.int64)
    Y = np.zeros((len(names), T), dtype=np.int64)
    mask = np.zeros((len(names), T))
    for r, name in enumerate(names):
        try:
            ix = [CHAR_TO_IX[c] for c in name]
        except KeyError as e:
            raise ValueError(f"name {name!r} has a character outside a-z: {e.args[0]!r}") from None
        L = len(ix) + 1
        X[r, 1:L] = ix
        Y[r, : L - 1] = ix
        Y[r, L - 1] = NEWLINE
        mask[r, :L] = 1.0
    X[:, 0] = NEWLINE
    return X, Y, mask


def _length_buckets(names, batch_size, rng, pool=16):
    """Shuffled mini-batches of names of similar length (less padding, same names each epoch).

    The names are shuffled, cut into pools of ``pool`` batches, each pool is
    sorted by length and cut into batches, and the batches are shuffled.
    """
    order = rng.permutation(len(names))
    batches = []
    step = batch_size * pool
    for s in range(0, len(order), step):
        chunk = sorted((names[j] for j in order[s : s + step]), key=len)
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class CharLSTM:
    """One-layer character LSTM with output dropout, trained by :meth:`fit`.

    Arguments:
        hidden -- number of LSTM units ``H``
        vocab_size -- ``V`` (27 for the names)
        dropout -- probability of zeroing a hidden unit before the output layer (training only)
        seed -- seed of the initial weights
    """

    def __init__(self, hidden=128, vocab_size=27, dropout=0.3, dropout_input=0.0, dropout_rec=0.0, seed=0,
                 dtype=np.float32):
        if not (isinstance(hidden, (int, np.integer)) and hidden >= 1):
            raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
        for name, value in (("dropout", dropout), ("dropout_input", dropout_input), ("dropout_rec", dropout_rec)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        self.hidden, self.vocab_size, self.dropout = int(hidden), int(vocab_size), float(dropout)
        self.dropout_input, self.dropout_rec = float(dropout_input), float(dropout_rec)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        H, V = self.hidden, self.vocab_size
        Wh = np.concatenate([np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(4)], axis=1)
        b = np.zeros(4 * H)
        b[H : 2 * H] = 1.0  # forget gate open at the start
        self.params = {
            "Wx": rng.standard_normal((V, 4 * H)) * 0.1,
            "Wh": Wh,
            "b": b,
            "Wy": rng.standard_normal((H, V)) / math.sqrt(H),
            "by": np.zeros(V),
        }
        self.params = {k: v.astype(self.dtype) for k, v in self.params.items()}
        self.history = None

    # ------------------------------------------------------------------
    # Forward and backward
    # ------------------------------------------------------------------
    def forward_backward(self, X, Y, mask, rng=None, grads=True):
        """Loss of a padded batch and, optionally, its gradients.

        Arguments:
            X, Y, mask -- from :func:`batch_names`, shape ``(m, T)``
            rng -- numpy Generator for dropout masks; None means no dropout (evaluation)
            grads -- compute the gradients too

        Returns:
            total -- summed NLL over the masked characters (nats)
            gradients -- dict ``Wx, Wh, b, Wy, by`` of the gradient of the
                *mean* NLL per character (None when ``grads`` is False)
        """
        P = self.params
        Wx, Wh, b, Wy, by = (P[k] for k in PARAM_NAMES)
        m, T = X.shape
        H = self.hidden
        dt = self.dtype
        mask = mask.astype(dt)
        hs = np.zeros((m, T + 1, H), dt)  # hs[:, t + 1] = h<t>, hs[:, 0] = 0
        cs = np.zeros((m, T + 1, H), dt)
        gates = np.zeros((m, T, 4 * H), dt)  # activated i, f, o, g
        train = rng is not None
        if train and self.dropout_input > 0:  # drop whole input characters
            keep_x = ((rng.random((m, T, 1)) >= self.dropout_input) / (1.0 - self.dropout_input)).astype(dt)
            xz = Wx[X] * keep_x + b
        else:
            keep_x = None
            xz = Wx[X] + b  # (m, T, 4H)
        if train and self.dropout_rec > 0:  # same mask at every step (variational dropout)
            keep_h = ((rng.random((m, H)) >= self.dropout_rec) / (1.0 - self.dropout_rec)).astype(dt)
        else:
            keep_h = None
        h_in = np.zeros((m, T, H), dt)  # the (dropped-out) h<t-1> fed to step t
        for t in range(T):
            h_in[:, t] = hs[:, t] if keep_h is None else hs[:, t] * keep_h
            z = xz[:, t] + h_in[:, t] @ Wh
            ifo = _sigmoid(z[:, : 3 * H])
            g = np.tanh(z[:, 3 * H :])
            c = ifo[:, H : 2 * H] * cs[:, t] + ifo[:, :H] * g
            cs[:, t + 1] = c
            hs[:, t + 1] = ifo[:, 2 * H :] * np.tanh(c)
            gates[:, t, : 3 * H] = ifo
            gates[:, t, 3 * H :] = g
        h_all = hs[:, 1:]
        if train and self.dropout > 0:
            keep = ((rng.random(h_all.shape) >= self.dropout) / (1.0 - self.dropout)).astype(dt)
            h_out = h_all * keep
        else:
            keep = None
            h_out = h_all
        logits = h_out @ Wy + by  # (m, T, V)
        logits -= logits.max(axis=2, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
        nll = -np.take_along_axis(logp, Y[:, :, None], axis=2)[:, :, 0]
        total = float((nll.astype(np.float64) * mask).sum())
        if not grads:
            return total, None

        n = mask.sum()
        dlogits = np.exp(logp)
        np.put_along_axis(dlogits, Y[:, :, None], np.take_along_axis(dlogits, Y[:, :, None], axis=2) - 1.0, axis=2)
        dlogits *= (mask / dt.type(n))[:, :, None]
        g_Wy = h_out.reshape(-1, H).T @ dlogits.reshape(-1, self.vocab_size)
        g_by = dlogits.sum(axis=(0, 1))
        dh_all = dlogits @ Wy.T
        if keep is not None:
            dh_all *= keep
        dz_all = np.zeros((m, T, 4 * H), dt)
        dh_next = np.zeros((m, H), dt)
        dc_next = np.zeros((m, H), dt)
        for t in reversed(range(T)):
            i, f, o = gates[:, t, :H], gates[:, t, H : 2 * H], gates[:, t, 2 * H : 3 * H]
            g = gates[:, t, 3 * H :]
            tc = np.tanh(cs[:, t + 1])
            dh = dh_all[:, t] + dh_next
            dc = dh * o * (1.0 - tc * tc) + dc_next
            dz = dz_all[:, t]
            dz[:, :H] = dc * g * i * (1.0 - i)
            dz[:, H : 2 * H] = dc * cs[:, t] * f * (1.0 - f)
            dz[:, 2 * H : 3 * H] = dh * tc * o * (1.0 - o)
            dz[:, 3 * H :] = dc * i * (1.0 - g * g)
            dc_next = dc * f
            dh_next = dz @ Wh.T
            if keep_h is not None:
                dh_next *= keep_h
        dz_flat = dz_all.reshape(-1, 4 * H)
        g_Wh = h_in.reshape(-1, H).T @ dz_flat
        g_b = dz_flat.sum(axis=0)
        onehot = np.zeros((self.vocab_size, X.size), dt)
        onehot[X.ravel(), np.arange(X.size)] = 1.0 if keep_x is None else keep_x.ravel()
        g_Wx = onehot @ dz_flat  # sum of dz over the steps that read each character
        return total, {"Wx": g_Wx, "Wh": g_Wh, "b": g_b, "Wy": g_Wy, "by": g_by}

    # ------------------------------------------------------------------
    # Scoring
    # ------------------------------------------------------------------
    def nll(self, names, batch_size=256):
        """Total NLL (nats) of ``names`` (no dropout, zero start state) and the number of predicted characters."""
        names = list(names)
        total = 0.0
        for s in range(0, len(names), batch_size):
            X, Y, mask = batch_names(names[s : s + batch_size])
            total += self.forward_backward(X, Y, mask, rng=None, grads=False)[0]
        return total, count_predicted(names)

    def char_logprobs(self, names, batch_size=256):
        """Log-probability of every predicted character of ``names`` (no dropout).

        Returns:
            array of shape ``(count_predicted(names),)``: name by name, its
            letters then its newline
        """
        names = list(names)
        out = []
        for s in range(0, len(names), batch_size):
            X, Y, mask = batch_names(names[s : s + batch_size])
            logp = self._log_softmax_outputs(X)
            lp = np.take_along_axis(logp, Y[:, :, None], axis=2)[:, :, 0]
            out.extend(lp[r, : int(mask[r].sum())] for r in range(len(X)))
        return np.concatenate(out).astype(np.float64)

    def _log_softmax_outputs(self, X):
        """Log-probabilities ``(m, T, V)`` of every next character for the inputs ``X`` (no dropout)."""
        m, T = X.shape
        P = self.params
        H = self.hidden
        h = np.zeros((m, H), self.dtype)
        c = np.zeros((m, H), self.dtype)
        out = np.empty((m, T, self.vocab_size), self.dtype)
        for t in range(T):
            z = P["Wx"][X[:, t]] + h @ P["Wh"] + P["b"]
            ifo = _sigmoid(z[:, : 3 * H])
            c = ifo[:, H : 2 * H] * c + ifo[:, :H] * np.tanh(z[:, 3 * H :])
            h = ifo[:, 2 * H :] * np.tanh(c)
            logits = h @ P["Wy"] + P["by"]
            logits -= logits.max(axis=1, keepdims=True)
            out[:, t] = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return out

    def mean_nll(self, names):
        """Mean NLL per predicted character (nats) on ``names``."""
        total, count = self.nll(names)
        return total / count

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------
    def fit(
        self,
        train_names,
        dev_names,
        epochs=60,
        batch_size=32,
        lr=3e-3,
        clip_norm=5.0,
        patience=8,
        max_seconds=None,
        weight_decay=0.0,
        seed=0,
        verbose=True,
        blas_threads=1,
    ):
        """Train with Adam on mini-batches; keep the parameters with the best dev NLL.

        Arguments:
            train_names, dev_names -- lists of names (dev only for early stopping)
            epochs -- at most this many passes over the training names
            batch_size -- names per mini-batch
            lr -- Adam learning rate (betas 0.9, 0.999)
            clip_norm -- the gradient is rescaled when its global L2 norm exceeds this
            patience -- stop after this many epochs without a better dev NLL
            max_seconds -- also stop when training has taken this long (None: no limit)
            seed -- shuffling and dropout seed
            blas_threads -- BLAS threads while training (1 is fastest for these
                small matrices; None leaves numpy's setting alone)

        Returns:
            history -- dict with lists ``train`` (training NLL, no dropout),
            ``dev`` (dev NLL), ``seconds`` (wall clock) and ``cpu_seconds`` (this
            process's CPU time) at the end of each epoch, and ``best_epoch`` (1-based);
            also stored in ``self.history``
        """
        train_names, dev_names = list(train_names), list(dev_names)
        if not train_names or not dev_names:
            raise ValueError("fit needs non-empty train_names and dev_names")
        with _blas_threads(blas_threads):
            return self._fit(train_names, dev_names, epochs, batch_size, lr, clip_norm, patience, max_seconds,
                             weight_decay, seed, verbose)

    def _fit(self, train_names, dev_names, epochs, batch_size, lr, clip_norm, patience, max_seconds, weight_decay,
             seed, verbose):
        rng = np.random.default_rng(seed)
        m_ = {k: np.zeros_like(v) for k, v in self.params.items()}
        v_ = {k: np.zeros_like(v) for k, v in self.params.items()}
        step = 0
        history = {"train": [], "dev": [], "seconds": [], "cpu_seconds": [], "best_epoch": 0}
        best = (math.inf, None)
        t0, cpu0 = time.perf_counter(), time.process_time()
        for epoch in range(1, epochs + 1):
            for batch in _length_buckets(train_names, batch_size, rng):
                X, Y, mask = batch_names(batch)
                _, g = self.forward_backward(X, Y, mask, rng=rng)
                norm = math.sqrt(sum(float((x * x).sum()) for x in g.values()))
                scale = min(1.0, clip_norm / (norm + 1e-12))
                step += 1
                for k, p in self.params.items():
                    gk = g[k] * scale
                    m_[k] = 0.9 * m_[k] + 0.1 * gk
                    v_[k] = 0.999 * v_[k] + 0.001 * gk * gk
                    mhat = m_[k] / (1 - 0.9**step)
                    vhat = v_[k] / (1 - 0.999**step)
                    p -= lr * mhat / (np.sqrt(vhat) + 1e-8)
                    if weight_decay and k in ("Wx", "Wh", "Wy"):
                        p -= lr * weight_decay * p  # decoupled weight decay (AdamW)
            train_nll, dev_nll = self.mean_nll(train_names), self.mean_nll(dev_names)
            elapsed = time.perf_counter() - t0
            history["train"].append(train_nll)
            history["dev"].append(dev_nll)
            history["seconds"].append(elapsed)
            history["cpu_seconds"].append(time.process_time() - cpu0)
            if dev_nll < best[0]:
                best = (dev_nll, {k: v.copy() for k, v in self.params.items()})
                history["best_epoch"] = epoch
            if verbose:
                flag = " *" if history["best_epoch"] == epoch else ""
                print(f"epoch {epoch:3d}  train {train_nll:.4f}  dev {dev_nll:.4f}  ({elapsed:5.1f} s){flag}")
            if epoch - history["best_epoch"] >= patience:
                break
            if max_seconds is not None and elapsed >= max_seconds:
                if verbose:
                    print(f"time limit of {max_seconds} s reached")
                break
        self.params = best[1]
        self.history = history
        return history

    # ------------------------------------------------------------------
    # Generation and storage
    # ------------------------------------------------------------------
    def stepper(self):
        """``(initial state, step)`` for :func:`utils.name_eval.generate_names`.

        ``step((h, c), ix)`` feeds index ``ix`` (None = start, i.e. the newline)
        and returns ``(probabilities (V,), (h, c))``.
        """
        P = self.params
        H = self.hidden

        def step(state, ix):
            h, c = state
            ix = NEWLINE if ix is None else ix
            z = P["Wx"][ix] + h @ P["Wh"] + P["b"]
            ifo = _sigmoid(z[: 3 * H])
            c = ifo[H : 2 * H] * c + ifo[:H] * np.tanh(z[3 * H :])
            h = ifo[2 * H :] * np.tanh(c)
            logits = h @ P["Wy"] + P["by"]
            e = np.exp(logits - logits.max())
            return e / e.sum(), (h, c)

        return (np.zeros(H, self.dtype), np.zeros(H, self.dtype)), step

    def save(self, path):
        """Save the parameters and settings to an ``.npz`` file."""
        np.savez(Path(path), hidden=self.hidden, vocab_size=self.vocab_size, dropout=self.dropout,
                 dropout_input=self.dropout_input, dropout_rec=self.dropout_rec, **self.params)

    @classmethod
    def load(cls, path):
        """A model with the parameters saved by :meth:`save`."""
        with np.load(Path(path)) as f:
            model = cls(int(f["hidden"]), int(f["vocab_size"]), float(f["dropout"]), float(f["dropout_input"]),
                        float(f["dropout_rec"]), dtype=f["Wx"].dtype)
            model.params = {k: f[k].copy() for k in PARAM_NAMES}
        return model
