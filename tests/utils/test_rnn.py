"""utils.rnn on its own: docs/reference.md §2 semantics, shapes, stability and a numerical gradient check."""

import io
from contextlib import redirect_stdout

import numpy as np
import pytest

from utils import rnn
from utils.rnn import (
    get_initial_loss,
    initialize_parameters,
    print_sample,
    rnn_backward,
    rnn_forward,
    smooth,
    softmax,
    update_parameters,
)

PARAMS = ("Wax", "Waa", "Wya", "b", "by")


def random_parameters(seed, n_a=5, n_x=27, scale=0.5):
    rng = np.random.RandomState(seed)
    return {
        "Wax": rng.randn(n_a, n_x) * scale,
        "Waa": rng.randn(n_a, n_a) * scale,
        "Wya": rng.randn(n_x, n_a) * scale,
        "b": rng.randn(n_a, 1) * scale,
        "by": rng.randn(n_x, 1) * scale,
    }


def textbook_forward_backward(X, Y, a0, p):
    """docs/reference.md §2 written with one-hot vectors and one matrix product per term."""
    n_x = p["Wax"].shape[1]
    xs, a, y = {}, {-1: np.copy(a0)}, {}
    loss = 0.0
    for t in range(len(X)):
        xs[t] = np.zeros((n_x, 1))
        if X[t] is not None:
            xs[t][X[t]] = 1
        a[t] = np.tanh(np.dot(p["Wax"], xs[t]) + np.dot(p["Waa"], a[t - 1]) + p["b"])
        y[t] = softmax(np.dot(p["Wya"], a[t]) + p["by"])
        loss -= np.log(y[t][Y[t], 0])
    g = {"d" + k: np.zeros_like(p[k]) for k in PARAMS}
    da_next = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y[t])
        dy[Y[t]] -= 1
        g["dWya"] += np.dot(dy, a[t].T)
        g["dby"] += dy
        da = np.dot(p["Wya"].T, dy) + da_next
        daraw = (1 - a[t] * a[t]) * da
        g["db"] += daraw
        g["dWax"] += np.dot(daraw, xs[t].T)
        g["dWaa"] += np.dot(daraw, a[t - 1].T)
        da_next = np.dot(p["Waa"].T, daraw)
    return loss, g, a


def test_softmax_is_a_distribution_and_stable_for_large_inputs():
    x = np.array([[1000.0], [1000.0], [-1000.0]])
    p = softmax(x)
    assert np.all(np.isfinite(p)), "softmax overflowed on large inputs"
    np.testing.assert_allclose(p.ravel(), [0.5, 0.5, 0.0], atol=1e-300)
    q = softmax(np.array([[1.0], [2.0], [3.0]]))
    np.testing.assert_allclose(q.sum(), 1.0)
    np.testing.assert_allclose(q.ravel(), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_smooth_and_initial_loss_follow_the_spec():
    assert smooth(10.0, 20.0) == pytest.approx(0.999 * 10 + 0.001 * 20)
    assert get_initial_loss(27, 7) == pytest.approx(-np.log(1 / 27) * 7)
    assert f"{get_initial_loss(27, 7):.4f}" == "23.0709"


def test_initialize_parameters_is_seeded_and_shaped():
    p = initialize_parameters(4, 27, 27)
    np.random.seed(1)
    want_wax = np.random.randn(4, 27) * 0.01
    want_waa = np.random.randn(4, 4) * 0.01
    np.testing.assert_array_equal(p["Wax"], want_wax)
    np.testing.assert_array_equal(p["Waa"], want_waa)
    assert p["Wya"].shape == (27, 4) and p["b"].shape == (4, 1) and p["by"].shape == (27, 1)
    assert not p["b"].any() and not p["by"].any()


def test_update_parameters_is_in_place():
    p = random_parameters(0)
    arrays = dict(p)
    g = {"d" + k: np.ones_like(v) for k, v in p.items()}
    before = {k: v.copy() for k, v in p.items()}
    out = update_parameters(p, g, 0.1)
    for k in PARAMS:
        assert out[k] is arrays[k], f"{k} was replaced instead of updated in place"
        np.testing.assert_allclose(out[k], before[k] - 0.1)


def test_print_sample_capitalises_and_keeps_the_newline():
    ix_to_char = {0: "\n", 1: "a", 2: "b"}
    buf = io.StringIO()
    with redirect_stdout(buf):
        print_sample([2, 1, 2, 0], ix_to_char)
    assert buf.getvalue() == "Bab\n"


def test_forward_shapes_none_input_and_start_state():
    p = random_parameters(1, n_a=6)
    a0 = np.random.RandomState(2).randn(6, 1)
    a0_copy = a0.copy()
    X = [None, 3, 5]
    Y = [3, 5, 0]
    loss, (y_hat, a, x) = rnn_forward(X, Y, a0, p)
    np.testing.assert_array_equal(a0, a0_copy)  # the start state is not modified
    np.testing.assert_array_equal(a[-1], a0)
    assert a[-1] is not a0, "a[-1] must be a copy of a0"
    assert all(a[t].shape == (6, 1) and y_hat[t].shape == (27, 1) for t in range(3))
    # X[0] = None: a<0> uses no input column at all.
    np.testing.assert_allclose(a[0], np.tanh(p["Waa"] @ a0 + p["b"]))
    assert loss == pytest.approx(-sum(np.log(y_hat[t][Y[t], 0]) for t in range(3)))


def test_column_lookup_is_bit_identical_to_one_hot_products():
    """docs/reference.md §2: exploiting the one-hot input gives bit-identical results."""
    p = random_parameters(3, n_a=20, scale=1.0)
    a0 = np.random.RandomState(4).randn(20, 1)
    X = [None, 1, 14, 7, 3, 26, 9]
    Y = X[1:] + [0]
    loss, cache = rnn_forward(X, Y, a0, p)
    grads, a = rnn_backward(X, Y, p, cache)
    ref_loss, ref_grads, ref_a = textbook_forward_backward(X, Y, a0, p)
    assert loss == ref_loss
    for k in PARAMS:
        np.testing.assert_array_equal(grads["d" + k], ref_grads["d" + k], err_msg=f"d{k} differs")
    np.testing.assert_array_equal(a[len(X) - 1], ref_a[len(X) - 1])


def numerical_gradient(f, array, eps=1e-5):
    grad = np.zeros_like(array)
    it = np.nditer(array, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = array[i]
        array[i] = old + eps
        fp = f()
        array[i] = old - eps
        fm = f()
        array[i] = old
        grad[i] = (fp - fm) / (2 * eps)
    return grad


def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def test_rnn_backward_matches_finite_differences(capsys):
    p = random_parameters(5, n_a=4, n_x=6, scale=0.7)
    a0 = np.random.RandomState(6).randn(4, 1) * 0.5
    X = [None, 2, 5, 1, 3]
    Y = [2, 5, 1, 3, 0]
    _, cache = rnn_forward(X, Y, a0, p)
    grads, _ = rnn_backward(X, Y, p, cache)

    def loss():
        return rnn_forward(X, Y, a0, p)[0]

    errors = {k: rel_error(grads["d" + k], numerical_gradient(loss, p[k])) for k in PARAMS}
    with capsys.disabled():
        print("\nrnn_backward vs finite differences, max relative error:")
        for k, e in errors.items():
            print(f"  d{k:<4} {e:.2e}")
    for k, e in errors.items():
        assert e < 1e-7, f"d{k}: relative error {e:.2e} against finite differences"


def test_from_utils_import_star_never_imports_tensorflow():
    import subprocess
    import sys

    code = "from utils import *; import sys; assert 'tensorflow' not in sys.modules; print(sorted(k for k in dir() if not k.startswith('_')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=rnn.__file__.rsplit("/utils/", 1)[0],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for name in ("softmax", "rnn_forward", "rnn_backward", "initialize_parameters", "update_parameters",
                 "get_initial_loss", "smooth", "print_sample"):
        assert name in out.stdout
    for name in ("clip", "sample", "optimize", "model"):
        assert f"'{name}'" not in out.stdout, f"utils must not ship the graded function {name}"
