"""The reference solution in the source notebook reproduces the published values of docs/reference.md §3."""

import contextlib
import io

import numpy as np

# docs/reference.md §3: the sampler is chaotic with N(0, 1) weights; the first 43 draws are BLAS-independent.
PUBLISHED_SAMPLE = [12, 17, 24, 14, 13, 9, 10, 22, 24, 6, 13, 11, 12, 6, 21, 15, 21, 14, 3, 2, 1, 21,
                    18, 24, 7, 25, 6, 25, 18, 10, 16, 2, 3, 8, 15, 12, 11, 7, 1, 12, 10, 2, 7, 7, 11,
                    5, 6, 12, 25, 0, 0]
ROBUST_PREFIX = 43


def test_clip_published_values(solution):
    np.random.seed(3)
    g = {"dWax": np.random.randn(5, 3) * 10, "dWaa": np.random.randn(5, 5) * 10,
         "dWya": np.random.randn(2, 5) * 10, "db": np.random.randn(5, 1) * 10,
         "dby": np.random.randn(2, 1) * 10}
    g = solution.clip(g, 10)
    assert g["dWaa"][1][2] == 10.0
    assert g["dWax"][3][1] == -10.0
    assert f"{g['dWya'][1][2]:.11f}" == "0.29713815361"
    assert g["db"][4] == [10.0]
    assert f"{g['dby'][1][0]:.8f}" == "8.45833407"


def test_sample_published_prefix(solution, names_data):
    _, char_to_ix, _ = names_data
    np.random.seed(2)
    n_a = 100
    p = {"Wax": np.random.randn(n_a, 27), "Waa": np.random.randn(n_a, n_a), "Wya": np.random.randn(27, n_a),
         "b": np.random.randn(n_a, 1), "by": np.random.randn(27, 1)}
    got = solution.sample(p, char_to_ix, 0)
    assert got[:ROBUST_PREFIX] == PUBLISHED_SAMPLE[:ROBUST_PREFIX]
    assert got[-1] == 0 and len(got) <= 51


def test_optimize_published_values(solution):
    np.random.seed(1)
    vocab_size, n_a = 27, 100
    a_prev = np.random.randn(n_a, 1)
    p = {"Wax": np.random.randn(n_a, vocab_size), "Waa": np.random.randn(n_a, n_a),
         "Wya": np.random.randn(vocab_size, n_a), "b": np.random.randn(n_a, 1), "by": np.random.randn(vocab_size, 1)}
    loss, g, a_last = solution.optimize([12, 3, 5, 11, 22, 3], [4, 14, 11, 22, 25, 26], a_prev, p, learning_rate=0.01)
    assert f"{loss:.9f}" == "126.503975722"
    assert f"{g['dWaa'][1][2]:.12f}" == "0.194709315347"
    assert np.argmax(g["dWax"]) == 93
    assert f"{g['dWya'][1][2]:.12f}" == "-0.007773876032"
    assert f"{g['db'][4][0]:.8f}" == "-0.06809825"
    assert f"{g['dby'][1][0]:.8f}" == "0.01538192"
    assert f"{a_last[4][0]:.8f}" == "-1.00000000"


def test_model_published_checkpoints(solution, names_data):
    data, char_to_ix, ix_to_char = names_data
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        solution.model(data, ix_to_char, char_to_ix, num_iterations=2001)
    text = out.getvalue()
    first = text.split("Iteration: 2000")[0]
    names = [line for line in first.splitlines()[1:] if line.strip()]
    assert first.startswith("Iteration: 0, Loss: 23.087336\n")
    assert names == ["Nkzxwtdmfqoeyhsqwasjkjvu", "Kneb", "Kzxwtdmfqoeyhsqwasjkjvu", "Neb",
                     "Zxwtdmfqoeyhsqwasjkjvu", "Eb", "Xwtdmfqoeyhsqwasjkjvu"]
    assert "Iteration: 2000, Loss: 27.884160\n" in text
