"""Tests of utils.name_eval: the held-out split, scoring, generation, interpolation."""

import math

import numpy as np
import pytest

from coursetools.settings import DATA_DIR
from utils.name_eval import (
    CHAR_TO_IX,
    VOCAB,
    adjust_distribution,
    count_predicted,
    dev_split,
    encode_name,
    format_table,
    generate_names,
    sample_next,
    load_course_rnn,
    mixture_mean_nll,
    ngram_baselines,
    ngram_char_logprobs,
    ngram_stepper,
    novelty_rate,
    read_names,
    rnn_mean_nll,
    rnn_nll,
    rnn_stepper,
    split_names,
    to_bits,
    tune_mixture_weight,
)
from utils.ngram import KneserNey, corpus_mean_nll, name_streams


@pytest.fixture(scope="module")
def split():
    names = read_names(DATA_DIR / "dinos.txt")
    train, test = split_names(names)
    fit, dev = dev_split(train)
    return names, train, test, fit, dev


def test_split_follows_spec_section_5(split):
    names, train, test, fit, dev = split
    assert len(names) == 1536
    unique = sorted(set(names))
    assert len(unique) == 1524
    assert test == unique[9::10]
    assert (len(train), len(test), count_predicted(test)) == (1372, 152, 1965)
    assert not set(train) & set(test)
    assert sorted(train + test) == unique


def test_dev_split_is_inside_train(split):
    _, train, test, fit, dev = split
    assert (len(fit), len(dev)) == (1235, 137)
    assert sorted(fit + dev) == sorted(train)
    assert not set(dev) & set(fit)
    assert not set(dev) & set(test)


def test_encode_name_matches_spec():
    X, Y = encode_name("rex")
    assert X == [None, 18, 5, 24]
    assert Y == [18, 5, 24, 0]
    with pytest.raises(ValueError, match="outside a-z"):
        encode_name("t-rex")


def test_read_names_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="names file not found"):
        read_names(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("Rex\nT-Rex\n")
    with pytest.raises(ValueError, match="outside a-z"):
        read_names(bad)
    with pytest.raises(TypeError, match="list of names"):
        split_names("rex")


def _zero_rnn(n_a=4):
    return {"Wax": np.zeros((n_a, 27)), "Waa": np.zeros((n_a, n_a)), "Wya": np.zeros((27, n_a)),
            "b": np.zeros((n_a, 1)), "by": np.zeros((27, 1))}


def test_rnn_with_zero_weights_is_uniform():
    total, count = rnn_nll(_zero_rnn(), ["rex", "ab"])
    assert count == 7
    assert total == pytest.approx(7 * math.log(27))


def test_rnn_scoring_starts_every_name_from_zero():
    rng = np.random.default_rng(0)
    p = {k: rng.standard_normal(v.shape) * 0.5 for k, v in _zero_rnn(6).items()}
    names = ["tyrannosaurus", "rex", "ab"]
    together, n = rnn_nll(p, names)
    separate = sum(rnn_nll(p, [name])[0] for name in reversed(names))
    assert together == pytest.approx(separate)
    assert rnn_mean_nll(p, names) == pytest.approx(together / n)
    with pytest.raises(KeyError, match="Wax"):
        rnn_nll({"Waa": 1}, names)


def test_adjust_distribution():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(adjust_distribution(p), p)
    np.testing.assert_allclose(adjust_distribution(p, top_k=1), [1, 0, 0, 0])
    top2 = adjust_distribution(p, top_k=2)
    np.testing.assert_allclose(top2, [0.625, 0.375, 0, 0])
    cold, hot = adjust_distribution(p, 0.5), adjust_distribution(p, 2.0)
    np.testing.assert_allclose(cold, p**2 / (p**2).sum())
    assert cold[0] > p[0] > hot[0]
    assert hot.max() - hot.min() < p.max() - p.min()
    with pytest.raises(ValueError, match="temperature"):
        adjust_distribution(p, 0)
    with pytest.raises(ValueError, match="top_k"):
        adjust_distribution(p, top_k=0)


@pytest.fixture(scope="module")
def kn5(split):
    _, train, *_ = split
    return KneserNey(5, VOCAB, 0.85).fit(name_streams(train), start=1)


def test_generation_is_seeded_and_steerable(split, kn5):
    _, train, *_ = split
    stepper = ngram_stepper(kn5)
    a = generate_names(stepper, 20, temperature=1.0, seed=3)
    assert a == generate_names(stepper, 20, temperature=1.0, seed=3)
    assert a != generate_names(stepper, 20, temperature=1.0, seed=4)
    assert all(set(n) <= set(VOCAB[1:]) for n in a)
    greedy = generate_names(stepper, 3, top_k=1, seed=0)
    assert len(set(greedy)) == 1  # top-1 is deterministic
    long = generate_names(stepper, 5, temperature=50.0, seed=1, max_len=7)
    assert all(len(n) <= 7 for n in long)


def _newline_prone_stepper(first_newline):
    """A stepper whose first character is the newline with probability ``first_newline``, then a fixed mix."""
    first = np.full(len(VOCAB), (1 - first_newline) / (len(VOCAB) - 1))
    first[0] = first_newline
    later = np.full(len(VOCAB), 0.8 / (len(VOCAB) - 1))
    later[0] = 0.2

    def step(count, ix):
        return (first if count == 0 else later), count + 1

    return 0, step


def test_no_generated_name_is_empty_and_the_others_do_not_change():
    """A newline drawn first is drawn again from a second stream: the names that did not need it are unchanged."""
    stepper = _newline_prone_stepper(0.4)
    names = generate_names(stepper, 200, temperature=1.3, seed=5)
    assert all(names), "a generated name is empty"
    # the same draws without the rule (what generate_names did before): empty names where a newline came first
    rng, before = np.random.default_rng(5), []
    for _ in range(200):
        count, ix, letters = 0, None, []
        while len(letters) < 50:
            p, count = stepper[1](count, ix)
            ix = sample_next(p, rng, 1.3)
            if ix == 0:
                break
            letters.append(VOCAB[ix])
        before.append("".join(letters))
    assert before.count("") > 20
    assert all(a == b for a, b in zip(names, before) if b), "a name that was not empty changed"
    # a model that can only end at once keeps its empty name (no endless redraw)
    assert generate_names(_newline_prone_stepper(1.0), 3, seed=0) == ["", "", ""]


def test_rnn_stepper_matches_rnn_scoring():
    rng = np.random.default_rng(1)
    p = {k: rng.standard_normal(v.shape) * 0.5 for k, v in _zero_rnn(5).items()}
    state, step = rnn_stepper(p)
    logp, ix = 0.0, None
    for ch in "rex\n":
        probs, state = step(state, ix)
        logp += math.log(probs[CHAR_TO_IX[ch]])
        ix = CHAR_TO_IX[ch]
    assert -logp == pytest.approx(rnn_nll(p, ["rex"])[0])


def test_novelty_rate():
    assert novelty_rate(["rex", "new", "", "neo"], ["rex", "bob"]) == 0.5
    with pytest.raises(ValueError):
        novelty_rate([], ["rex"])


@pytest.mark.slow
def test_baselines_are_tuned_on_dev_only(split):
    _, train, test, fit, dev = split
    rows = ngram_baselines(train, test, fit, dev)
    other = ngram_baselines(train, test[:10], fit, dev)  # different test names: same settings
    assert [r["setting"] for r in rows] == [r["setting"] for r in other]
    by_name = {r["model"]: r for r in rows}
    assert by_name["uniform"]["test"] == pytest.approx(math.log(27))
    kn = by_name["Kneser-Ney 5-gram"]
    refit = KneserNey(5, VOCAB, kn["param"]).fit(name_streams(train), start=1)
    assert kn["test"] == pytest.approx(corpus_mean_nll(refit, name_streams(test), start=1))
    assert kn["test"] < by_name["trigram (add-k)"]["test"] < by_name["unigram (add-k)"]["test"] < math.log(27)


def test_mixture(split, kn5):
    _, train, test, *_ = split
    lp_kn = ngram_char_logprobs(kn5, test[:20])
    assert lp_kn.shape == (count_predicted(test[:20]),)
    assert -lp_kn.mean() == pytest.approx(corpus_mean_nll(kn5, name_streams(test[:20]), 1))
    lp_u = np.full_like(lp_kn, -math.log(27))
    assert mixture_mean_nll(lp_kn, lp_u, 1.0) == pytest.approx(-lp_kn.mean())
    assert mixture_mean_nll(lp_kn, lp_u, 0.0) == pytest.approx(math.log(27))
    w, nll = tune_mixture_weight(lp_kn, lp_u)
    assert 0 < w <= 1 and nll <= -lp_kn.mean() + 1e-12
    with pytest.raises(ValueError, match="different characters"):
        mixture_mean_nll(lp_kn, lp_u[:-1], 0.5)


def test_format_table_and_bits():
    assert to_bits(math.log(2)) == pytest.approx(1.0)
    text = format_table([("a", 2.0), ("b", 1.0)], 10)
    lines = text.splitlines()
    assert "10 characters" in lines[0]
    assert lines[3].startswith("a") and lines[4].startswith("b")  # worst first


def test_load_course_rnn_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="training.evaluate --train"):
        load_course_rnn(tmp_path / "none.npz")


def test_interpolation_is_chosen_on_dev(split):
    from utils.name_eval import interpolate_with_kneser_ney

    _, train, test, fit, dev = split
    bigram = KneserNey(2, VOCAB, 0.5).fit(name_streams(fit), start=1)

    def model(names):
        return ngram_char_logprobs(bigram, names)

    mix = interpolate_with_kneser_ney(model, train, test, fit, dev, orders=(3, 4))
    assert mix["order"] in (3, 4) and 0 <= mix["weight"] <= 1
    again = interpolate_with_kneser_ney(model, train, test[:5], fit, dev, orders=(3, 4))
    assert (again["order"], again["discount"], again["weight"]) == (mix["order"], mix["discount"], mix["weight"])
    kn = KneserNey(mix["order"], VOCAB, mix["discount"]).fit(name_streams(train), start=1)
    expected = mixture_mean_nll(model(test), ngram_char_logprobs(kn, test), mix["weight"])
    assert mix["test"] == pytest.approx(expected)
    # mixing a weak bigram into a 4-gram cannot be worse on dev than the 4-gram alone
    kn4 = KneserNey(4, VOCAB, 0.85).fit(name_streams(fit), start=1)
    assert mix["dev"] <= corpus_mean_nll(kn4, name_streams(dev), 1) + 1e-9
