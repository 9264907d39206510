"""Tests of utils.shakespeare: corpus, windows, model, scoring and generation.

The tiny models built here are seeded and untrained; the shipped model's
figures are checked in tests/training/test_shakespeare_train.py.
"""

import builtins
import math

import numpy as np
import pytest

from coursetools.settings import DATA_DIR
from utils import shakespeare as S


@pytest.fixture(scope="module")
def corpus():
    return S.load_corpus(DATA_DIR / "shakespeare.txt")


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    return S.build_model(embed_dim=8, units=(16,), dropout=0.0, embed_dropout=0.0)


# --- corpus and windows -----------------------------------------------------

def test_corpus_is_lowercased_sonnets_with_the_fixed_vocabulary(corpus):
    assert len(corpus) == 94275
    assert corpus == corpus.lower()
    assert "".join(sorted(set(corpus))) == S.VOCAB
    assert S.VOCAB_SIZE == 38 and S.CHAR_TO_IX["\n"] == 0


def test_missing_corpus_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/shakespeare.txt"):
        S.load_corpus(tmp_path / "nope.txt")


def test_split_is_consecutive_and_sized_ten_percent(corpus):
    train, dev, test = S.split_corpus(corpus)
    assert train + dev + test == corpus
    assert len(test) == len(corpus) // 10 == 9427
    assert len(dev) == (len(corpus) - len(test)) // 10 == 8484
    assert len(train) == 76364
    assert corpus.endswith(test)


def test_windows_of_the_whole_corpus_match_the_spec(corpus):
    X, Y = S.make_windows(corpus)
    assert X.shape == Y.shape == (31412, 40)
    assert X.dtype == np.int32
    # window k starts at 3k; Y is X shifted by one character
    assert S.decode(X[5]) == corpus[15:55]
    assert S.decode(Y[5]) == corpus[16:56]
    np.testing.assert_array_equal(X[:, 1:], Y[:, :-1])
    last_start = 3 * (len(X) - 1)
    assert last_start + 40 < len(corpus) <= last_start + 3 + 40


@pytest.mark.parametrize("n, tx, stride, expected", [(50, 40, 3, 4), (41, 40, 3, 1), (100, 10, 7, 13)])
def test_window_count(n, tx, stride, expected):
    text = ("abc de" * 30)[:n]
    X, Y = S.make_windows(text, tx=tx, stride=stride)
    assert X.shape == Y.shape == (expected, tx)
    assert len(range(0, n - tx, stride)) == expected


def test_windows_reject_bad_arguments():
    with pytest.raises(ValueError, match="too short"):
        S.make_windows("abc", tx=40)
    with pytest.raises(ValueError, match="positive"):
        S.make_windows("a" * 100, stride=0)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        S.make_windows("A" * 100)


def test_one_hot_and_decode_round_trip():
    ids = S.encode("shall i compare thee")
    oh = S.one_hot(ids)
    assert oh.shape == (20, 38) and oh.sum() == 20
    assert S.decode(oh.argmax(axis=1)) == "shall i compare thee"
    with pytest.raises(ValueError):
        S.one_hot([38])


# --- cleaning odd input -----------------------------------------------------

def test_clean_text_maps_everything_onto_the_vocabulary():
    cleaned, replaced = S.clean_text("Größe “Quoted” — naïve\tcafé! 🎭 Ω")
    assert set(cleaned) <= set(S.VOCAB)
    assert "'quoted'" in cleaned and "naive" in cleaned and "cafe!" in cleaned
    assert "  " not in cleaned
    assert {"“", "”", "ö", "ß", "🎭", "Ω"} <= set(replaced)


def test_a_typed_zero_is_text_not_padding():
    cleaned, replaced = S.clean_text("room 101")
    assert cleaned == "room one zero one"
    assert replaced == ["0", "1"]
    assert S.clean_text("0")[0].strip() == "zero"


def test_clean_text_rejects_non_strings():
    with pytest.raises(TypeError):
        S.clean_text(42)


# --- the model --------------------------------------------------------------

@pytest.mark.parametrize("cell, units", [("lstm", (16, 12)), ("gru", (8,))])
def test_model_shapes(cell, units):
    model = S.build_model(embed_dim=4, units=units, cell=cell)
    assert model.input_shape == (None, None)
    assert model.output_shape == (None, None, 38)
    out = np.asarray(model(np.zeros((3, 40), np.int32)))
    assert out.shape == (3, 40, 38)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)
    # a shorter prompt works too
    assert np.asarray(model(np.zeros((1, 7), np.int32))).shape == (1, 7, 38)
    recurrent = [layer for layer in model.layers if layer.name.startswith(cell)]
    assert [layer.units for layer in recurrent] == list(units)


def test_build_model_rejects_bad_settings():
    with pytest.raises(ValueError, match="cell"):
        S.build_model(cell="rnn")
    with pytest.raises(ValueError, match="units"):
        S.build_model(units=())


@pytest.mark.slow
def test_a_short_fit_lowers_the_loss(tiny_model):
    import keras

    keras.utils.set_random_seed(0)
    model = S.build_model(embed_dim=8, units=(16,), dropout=0.0, embed_dropout=0.0,
                          learning_rate=1e-2)
    X, Y = S.make_windows("to be or not to be, that is the question\n" * 12, stride=5)
    hist = model.fit(X, Y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < hist[0] - 0.5


# --- scoring ----------------------------------------------------------------

def _uniform_model():
    model = S.build_model(embed_dim=4, units=(8,))
    dense = model.get_layer("next_char")
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    return model


def test_mean_nll_of_a_uniform_model_is_log_vocab_size():
    text = "when i do count the clock that tells the time,\n" * 3
    assert S.mean_nll(_uniform_model(), text, start=1) == pytest.approx(math.log(38), abs=1e-6)


def test_mean_nll_uses_at_most_40_characters_of_context(tiny_model):
    text = "shall i compare thee to a summer's day?\nthou art more lovely and more temperate:"
    start = 30
    expected = []
    for i in range(start, len(text)):
        window = S.encode(text[max(0, i - 40):i])[None, :]
        p = S.next_char_probs(tiny_model, window)[0]
        expected.append(-math.log(p[S.CHAR_TO_IX[text[i]]]))
    got = S.mean_nll(tiny_model, text, start=start, batch_size=7)
    assert got == pytest.approx(np.mean(expected), rel=1e-5)


def test_mean_nll_rejects_bad_ranges(tiny_model):
    with pytest.raises(ValueError, match="start"):
        S.mean_nll(tiny_model, "abc", start=0)
    with pytest.raises(ValueError, match="nothing to score"):
        S.mean_nll(tiny_model, "abc", start=3)
    with pytest.raises(TypeError, match="Keras model"):
        S.mean_nll("not a model", "abc", start=1)


# --- generation -------------------------------------------------------------

def test_generation_is_reproducible_with_a_seed(tiny_model):
    a = S.generate_output(tiny_model, "shall i compare thee", length=60, seed=7, verbose=False)
    b = S.generate_output(tiny_model, "shall i compare thee", length=60, seed=7, verbose=False)
    c = S.generate_output(tiny_model, "shall i compare thee", length=60, seed=8, verbose=False)
    assert a == b
    assert a != c
    assert len(a) == 60 and set(a) <= set(S.VOCAB)


def test_generation_handles_long_and_odd_input(tiny_model, capsys):
    long = "o" * 1000 + "shall i compare thee to a summer's day?"
    out_long = S.generate_output(tiny_model, long, length=30, seed=1, verbose=False)
    # only the last 40 characters matter
    out_tail = S.generate_output(tiny_model, long[-40:], length=30, seed=1, verbose=False)
    assert out_long == out_tail
    odd = S.generate_output(tiny_model, "Émile's 2nd 🎭 sonnet\t«0»", length=30, seed=1)
    assert odd is None, "verbose: the poem is printed, not returned (a cell ending with the call shows it once)"
    printed = capsys.readouterr().out
    assert "replaced" in printed and "here is your poem" in printed.lower()
    poem = printed.split("Here is your poem: \n\n")[1][:-1]  # the cleaned sentence, its continuation
    assert poem.startswith("emile's two nd sonnet zero") and len(poem) == len("emile's two nd sonnet zero") + 30
    assert len(S.generate_output(tiny_model, "", length=10, seed=1, verbose=False)) == 10
    assert S.generate_output(tiny_model, "abc", length=0, verbose=False) == ""


def test_zero_temperature_is_greedy(tiny_model):
    a = S.generate_output(tiny_model, "love", length=20, temperature=0, seed=1, verbose=False)
    b = S.generate_output(tiny_model, "love", length=20, temperature=0, seed=2, verbose=False)
    assert a == b
    with pytest.raises(ValueError, match="temperature"):
        S.generate_output(tiny_model, "love", length=5, temperature=-1, verbose=False)
    with pytest.raises(ValueError, match="length"):
        S.generate_output(tiny_model, "love", length=-1, verbose=False)


def test_sample_index_temperature():
    probs = np.array([0.7, 0.2, 0.1])
    rng = np.random.default_rng(0)
    cold = [S.sample_index(probs, 0.05, rng) for _ in range(200)]
    hot = [S.sample_index(probs, 5.0, rng) for _ in range(2000)]
    assert set(cold) == {0}
    assert 0.2 < np.mean(np.array(hot) == 2) < 0.45


def test_sentence_is_asked_for_only_when_missing(tiny_model, monkeypatch):
    asked = []

    def fake_input(prompt=""):
        asked.append(prompt)
        return "my mistress' eyes"

    monkeypatch.setattr(builtins, "input", fake_input)
    prompted = S.generate_output(tiny_model, length=15, seed=3, verbose=False)
    given = S.generate_output(tiny_model, "my mistress' eyes", length=15, seed=3, verbose=False)
    assert len(asked) == 1 and prompted == given


def test_star_import_of_utils_never_imports_tensorflow():
    import subprocess
    import sys

    from coursetools.settings import ROOT

    code = "import sys; from utils import *; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.slow
def test_importing_the_helpers_prints_no_tensorflow_log_lines():
    import subprocess
    import sys

    from coursetools.settings import ROOT

    proc = subprocess.run([sys.executable, "-c", "import utils.shakespeare"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert proc.stdout == "" and proc.stderr == ""
