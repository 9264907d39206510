"""Tests of utils.name_models (the numpy LSTM): gradients, scoring, training, storage."""

import math

import numpy as np
import pytest

from utils.name_eval import CHAR_TO_IX, count_predicted, generate_names
from utils.name_models import CharLSTM, batch_names

NAMES = ["rex", "ab", "tyrannosaurus", "abc", "rexa", "tyro", "saurus", "abra"]


def test_batch_names():
    X, Y, mask = batch_names(["ab", "rex"])
    assert X.shape == Y.shape == mask.shape == (2, 4)
    assert X[1].tolist() == [0, 18, 5, 24]
    assert Y[1].tolist() == [18, 5, 24, 0]
    assert X[0, :3].tolist() == [0, 1, 2] and Y[0, :3].tolist() == [1, 2, 0]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    with pytest.raises(ValueError, match="outside a-z"):
        batch_names(["t-rex"])


@pytest.mark.parametrize("dropouts", [(0.0, 0.0, 0.0), (0.3, 0.2, 0.4)])
def test_gradients_match_finite_differences(dropouts):
    d_out, d_in, d_rec = dropouts
    m = CharLSTM(hidden=4, dropout=d_out, dropout_input=d_in, dropout_rec=d_rec, seed=1, dtype=np.float64)
    X, Y, mask = batch_names(["abc", "de", "fghij"])

    def mean_loss():  # same dropout masks every call
        return m.forward_backward(X, Y, mask, rng=np.random.default_rng(7))[0] / mask.sum()

    _, grads = m.forward_backward(X, Y, mask, rng=np.random.default_rng(7))
    rng = np.random.default_rng(0)
    for name, p in m.params.items():
        for idx in [tuple(rng.integers(0, s) for s in p.shape) for _ in range(6)]:
            old = p[idx]
            p[idx] = old + 1e-6
            up = mean_loss()
            p[idx] = old - 1e-6
            down = mean_loss()
            p[idx] = old
            assert grads[name][idx] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8), name


def test_scoring_paths_agree():
    m = CharLSTM(hidden=8, seed=2, dtype=np.float64)
    total, count = m.nll(NAMES)
    assert count == count_predicted(NAMES)
    lp = m.char_logprobs(NAMES)
    assert lp.shape == (count,)
    assert -lp.sum() == pytest.approx(total)
    # the one-step generator gives the same probabilities as the batched forward pass
    state, step = m.stepper()
    logp, ix = 0.0, None
    for ch in "tyrannosaurus\n":
        p, state = step(state, ix)
        assert p.sum() == pytest.approx(1.0)
        logp += math.log(p[CHAR_TO_IX[ch]])
        ix = CHAR_TO_IX[ch]
    assert -logp == pytest.approx(m.nll(["tyrannosaurus"])[0])
    # a fresh model is close to uniform
    assert m.mean_nll(NAMES) == pytest.approx(math.log(27), abs=0.1)


def test_fit_learns_and_keeps_best_dev_parameters():
    m = CharLSTM(hidden=16, dropout=0.1, seed=0)
    before = m.mean_nll(NAMES)
    history = m.fit(NAMES, NAMES[:3], epochs=12, batch_size=4, lr=1e-2, patience=20, verbose=False)
    assert len(history["train"]) == len(history["dev"]) == 12
    assert history["train"][-1] < before - 0.5
    best = int(np.argmin(history["dev"]))
    assert history["best_epoch"] == best + 1
    assert m.mean_nll(NAMES[:3]) == pytest.approx(history["dev"][best], rel=1e-5)


def test_early_stopping_and_time_limit():
    m = CharLSTM(hidden=8, seed=0)
    h = m.fit(NAMES, ["zzzzzz"], epochs=50, batch_size=4, lr=5e-2, patience=2, verbose=False)
    assert len(h["dev"]) - h["best_epoch"] == 2 and len(h["dev"]) < 50
    h2 = CharLSTM(hidden=8, seed=0).fit(NAMES, NAMES, epochs=50, max_seconds=0, verbose=False)
    assert len(h2["dev"]) == 1


def test_save_load_roundtrip(tmp_path):
    m = CharLSTM(hidden=8, dropout=0.2, dropout_input=0.1, dropout_rec=0.3, seed=5)
    m.save(tmp_path / "m.npz")
    m2 = CharLSTM.load(tmp_path / "m.npz")
    assert (m2.hidden, m2.dropout, m2.dropout_input, m2.dropout_rec) == (8, 0.2, 0.1, 0.3)
    assert m2.mean_nll(NAMES) == m.mean_nll(NAMES)
    assert generate_names(m2.stepper(), 5, seed=1) == generate_names(m.stepper(), 5, seed=1)


def test_bad_settings():
    with pytest.raises(ValueError, match="hidden"):
        CharLSTM(hidden=0)
    with pytest.raises(ValueError, match="dropout_rec"):
        CharLSTM(dropout_rec=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        CharLSTM(hidden=4).fit([], ["rex"])
