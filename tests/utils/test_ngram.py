"""Tests of utils.ngram: hand-computed Kneser-Ney and add-k cases, plus invariants.

The expected fractions below were worked out on paper from the formulas in the
module docstring (the derivation is written next to each case).
"""

import math
import random

import numpy as np
import pytest

from utils.ngram import (
    AddK,
    KneserNey,
    Uniform,
    Unigram,
    corpus_mean_nll,
    name_streams,
    tune_discount,
    tune_k,
)

# Training text "abab" (one stream, start=0), vocabulary {a, b, c}, D = 0.5.
# Targets: a (ctx ""), b (ctx "a"), a (ctx "b"), b (ctx "a").
# Raw counts, context length 1:  a->b: 2,  b->a: 1.   Context "": a: 2, b: 2.
# Continuation counts, context "": a: {b} + 1 stream start = 2,  b: {a} = 1;  total 3.
#   P0(a) = (2-.5)/3 + .5*2/3 * 1/3 = 11/18,  P0(b) = 5/18,  P0(c) = 2/18.
# Bigram, context "a" (raw, total 2, one type):  P(b|a) = 1.5/2 + .25*5/18 = 59/72,
#   P(a|a) = .25*11/18 = 11/72,  P(c|a) = 2/72.
# Context "b" (raw, total 1): P(a|b) = .5 + .5*11/18 = 29/36, P(b|b) = 5/36, P(c|b) = 2/36.
# Stream start (context "", raw counts, total 4, two types): P(a) = 1.5/4 + .5*2/4/3 = 11/24,
#   P(b) = 11/24, P(c) = 2/24.
ABAB_BIGRAM = {
    "a": {"a": 11 / 72, "b": 59 / 72, "c": 2 / 72},
    "b": {"a": 29 / 36, "b": 5 / 36, "c": 2 / 36},
    "c": {"a": 11 / 18, "b": 5 / 18, "c": 2 / 18},  # unseen context: the continuation unigram
    "": {"a": 11 / 24, "b": 11 / 24, "c": 2 / 24},
}


@pytest.fixture
def abab_bigram():
    return KneserNey(2, "abc", discount=0.5).fit(["abab"])


@pytest.mark.parametrize("context", ["a", "b", "c", ""])
def test_kn_bigram_hand_computed(abab_bigram, context):
    for ch, expected in ABAB_BIGRAM[context].items():
        assert abab_bigram.prob(context, ch) == pytest.approx(expected, rel=1e-12)
        assert abab_bigram.logprob(context, ch) == pytest.approx(math.log(expected), rel=1e-12)


def test_kn_uses_only_last_chars_of_context(abab_bigram):
    assert abab_bigram.prob("cccba", "b") == pytest.approx(59 / 72)


def test_kn_mean_nll_hand_computed(abab_bigram):
    expected = -(math.log(11 / 24) + 2 * math.log(59 / 72) + math.log(29 / 36)) / 4
    assert abab_bigram.mean_nll("abab") == pytest.approx(expected, rel=1e-12)
    # start=2 scores only "ab" given the context "ab"
    expected2 = -(math.log(29 / 36) + math.log(59 / 72)) / 2
    assert abab_bigram.mean_nll("abab", start=2) == pytest.approx(expected2, rel=1e-12)


def test_kn_trigram_hand_computed():
    # Order 3 on "abab": continuation counts at context length 1 are
    # a->b: 1 (stream start) + {b} = 2,  b->a: {a} = 1, i.e. the same table as the raw
    # bigram above, so P1(b|a) = 59/72. Context "ba" (raw, total 1): P(b|ba) = .5 + .5*59/72.
    m = KneserNey(3, "abc", discount=0.5).fit(["abab"])
    assert m.prob("ba", "b") == pytest.approx(131 / 144)
    assert m.prob("ba", "a") == pytest.approx(11 / 144)
    assert m.prob("ba", "c") == pytest.approx(2 / 144)
    # A 1-character context is a stream start: its raw counts are used (b->a once).
    assert m.prob("b", "a") == pytest.approx(29 / 36)


def test_kn_name_streams_hand_computed():
    # Streams "\nab\n" and "\nb\n" scored from start=1, vocabulary {\n, a, b}, D = 0.5.
    # Continuation unigram: a: {\n}, b: {a, \n}, \n: {b}  -> 1, 2, 1 (total 4):
    #   P0(a) = .5/4 + .5*3/4/3 = 1/4, P0(b) = 1/2, P0(\n) = 1/4.
    # Context "\n" (raw: a 1, b 1): P(a|\n) = .5/2 + .5*1/4 = 3/8, P(b|\n) = 1/2, P(\n|\n) = 1/8.
    # Context "b" (raw: \n 2): P(\n|b) = 1.5/2 + .25*1/4 = 13/16.
    m = KneserNey(2, "\nab", discount=0.5).fit(name_streams(["ab", "b"]), start=1)
    assert m.prob("\n", "a") == pytest.approx(3 / 8)
    assert m.prob("\n", "b") == pytest.approx(1 / 2)
    assert m.prob("\n", "\n") == pytest.approx(1 / 8)
    assert m.mean_nll("\nb\n", start=1) == pytest.approx(-(math.log(1 / 2) + math.log(13 / 16)) / 2)


def test_modified_kn_hand_computed():
    # "abab", order 2, (D1, D2, D3) = (.5, .8, 1.2). Continuation unigram: a 2 (D2), b 1 (D1),
    # total 3, back-off weight (.5*1 + .8*1)/3: P0(a) = 1.2/3 + 1.3/9 = 4.9/9, P0(b) = 2.8/9,
    # P0(c) = 1.3/9. Context "a" (raw b: 2, D2): P(b|a) = 1.2/2 + .8/2 * 2.8/9.
    m = KneserNey(2, "abc", discount=(0.5, 0.8, 1.2)).fit(["abab"])
    assert m.prob("c", "a") == pytest.approx(4.9 / 9)
    assert m.prob("c", "b") == pytest.approx(2.8 / 9)
    assert m.prob("c", "c") == pytest.approx(1.3 / 9)
    assert m.prob("a", "b") == pytest.approx(0.6 + 0.4 * 2.8 / 9)


def test_addk_hand_computed():
    # "abab", bigram, k = 1, V = 3: context "a" has b twice -> (2+1)/(2+3); context "" at the
    # stream start has a once -> (1+1)/(1+3); unseen context "c" -> uniform.
    m = AddK(2, "abc", k=1).fit(["abab"])
    assert m.prob("a", "b") == pytest.approx(3 / 5)
    assert m.prob("a", "a") == pytest.approx(1 / 5)
    assert m.prob("", "a") == pytest.approx(1 / 2)
    assert m.prob("c", "c") == pytest.approx(1 / 3)
    u = Unigram("abc", k=0.5).fit(["abab"])
    assert u.prob("whatever", "c") == pytest.approx(0.5 / 5.5)
    assert Uniform("abc").fit().mean_nll("abc") == pytest.approx(math.log(3))


def _random_texts(rng, alphabet, n, max_len):
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len))) for _ in range(n)]


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("discount", [0.1, 0.75, 1.0, "modified", (0.3, 0.9, 1.4)])
def test_kn_distributions_sum_to_one_and_are_positive(order, discount):
    rng = random.Random(order)
    texts = _random_texts(rng, "abcde", 40, 12)
    m = KneserNey(order, "abcdefg", discount=discount).fit(texts)  # f, g never seen
    for ctx in ["", "a", "ab", "gfg", "abcde", "eeeeeee"] + _random_texts(rng, "abcdefg", 20, 6):
        p = m.probs(ctx)
        assert p.shape == (7,)
        assert np.all(p > 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_addk_distributions_sum_to_one():
    rng = random.Random(0)
    m = AddK(3, "abcd", k=0.1).fit(_random_texts(rng, "abc", 30, 10))
    for ctx in ["", "a", "ab", "dd"]:
        assert m.probs(ctx).sum() == pytest.approx(1.0)


def test_mean_nll_equals_sum_of_logprobs():
    rng = random.Random(1)
    texts = _random_texts(rng, "abc", 30, 10)
    m = KneserNey(4, "abc", discount=0.6).fit(texts)
    text = "abcabccba"
    expected = -np.mean([m.logprob(text[:i], text[i]) for i in range(2, len(text))])
    assert m.mean_nll(text, start=2) == pytest.approx(expected)


def test_corpus_mean_nll_pools_characters():
    m = KneserNey(2, "abc", discount=0.5).fit(["abab"])
    s1, n1 = m.nll_sum("ab")
    s2, n2 = m.nll_sum("abca")
    assert corpus_mean_nll(m, ["ab", "abca"]) == pytest.approx((s1 + s2) / (n1 + n2))


def test_higher_order_fits_training_text_better():
    text = "the cat sat on the mat and the rat sat on the hat " * 5
    nlls = [KneserNey(n, set(text), 0.75).fit([text]).mean_nll(text) for n in (1, 2, 3, 4)]
    assert nlls == sorted(nlls, reverse=True)


def test_tune_discount_matches_fresh_fits():
    rng = random.Random(2)
    train = _random_texts(rng, "abcd", 60, 8)
    dev = _random_texts(rng, "abcd", 20, 8)
    grid = [0.2, 0.5, 0.9]
    best_d, best_nll = tune_discount(3, "abcd", train, dev, grid=grid)
    fresh = {d: corpus_mean_nll(KneserNey(3, "abcd", d).fit(train), dev) for d in grid}
    assert best_d == min(fresh, key=fresh.get)
    assert best_nll == pytest.approx(fresh[best_d])
    best_k, nll_k = tune_k(2, "abcd", train, dev, grid=[0.1, 1.0])
    assert nll_k == pytest.approx(corpus_mean_nll(AddK(2, "abcd", best_k).fit(train), dev))


def test_clear_errors():
    m = KneserNey(2, "abc", 0.5)
    with pytest.raises(RuntimeError, match="not fitted"):
        m.logprob("a", "b")
    m.fit(["abab"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        m.mean_nll("abz")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        m.logprob("a", "z")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        KneserNey(2, "ab").fit(["abc"])
    with pytest.raises(ValueError, match=r"discount must be in \(0, 1\]"):
        KneserNey(2, "ab", discount=1.5)
    with pytest.raises(ValueError, match="order"):
        KneserNey(0, "ab")
    with pytest.raises(ValueError, match="k must be > 0"):
        AddK(2, "ab", k=0)
    with pytest.raises(TypeError, match="list of names"):
        name_streams("rex")
    with pytest.raises(ValueError, match="empty"):
        KneserNey(2, "")
