"""utils.rnn_fast: the compiled twin of rnn_forward/rnn_backward/update_parameters.

Every test compares the fast path with the readable code of utils.rnn *bit for
bit* (np.array_equal, ==), on this machine's numpy; nothing here is a number
copied from a run.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils import rnn, rnn_fast

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ("Wax", "Waa", "Wya", "b", "by")

pytest.importorskip("numba", reason="the fast path needs numba (requirements.txt)")


@pytest.fixture(autouse=True)
def _restore_mode():
    before = rnn_fast.get_mode()
    yield
    rnn_fast.set_mode(before)


@pytest.fixture(scope="module")
def fast():
    assert rnn_fast.set_mode("on"), f"fast path failed to start: {rnn_fast.disabled_reason()}"
    return rnn_fast


def params(seed, n_a, scale, n_x=27):
    rng = np.random.RandomState(seed)
    return {"Wax": rng.randn(n_a, n_x) * scale, "Waa": rng.randn(n_a, n_a) * scale,
            "Wya": rng.randn(n_x, n_a) * scale, "b": rng.randn(n_a, 1) * scale, "by": rng.randn(n_x, 1) * scale}


def run_step(mode, X, Y, a0, p, lr=0.01):
    """forward + backward + update with the fast path 'on' or 'off'; returns everything they give."""
    rnn_fast.set_mode(mode)
    p = {k: v.copy(order="K") for k, v in p.items()}  # keep each array's memory order
    loss, cache = rnn.rnn_forward(X, Y, a0, p)
    grads, a = rnn.rnn_backward(X, Y, p, cache)
    grads_copy = {k: v.copy() for k, v in grads.items()}
    rnn.update_parameters(p, grads, lr)
    return loss, cache, grads_copy, a, p


def assert_bitwise_same(one, two):
    (l1, (y1, a1, x1), g1, r1, p1), (l2, (y2, a2, x2), g2, r2, p2) = one, two
    assert type(l1) is type(l2) and l1 == l2
    assert sorted(a1) == sorted(a2) and sorted(y1) == sorted(y2) and x1 == x2
    for t in a1:
        assert a1[t].shape == a2[t].shape and np.array_equal(a1[t], a2[t]), f"a[{t}] differs"
        assert r1[t] is a1[t] and r2[t] is a2[t], "rnn_backward must return the cache's hidden states"
    for t in y1:
        assert y1[t].shape == y2[t].shape and np.array_equal(y1[t], y2[t]), f"y_hat[{t}] differs"
    assert list(g1) == list(g2)
    for k in g1:
        assert g1[k].shape == g2[k].shape and np.array_equal(g1[k], g2[k]), f"{k} differs"
    for k in PARAMS:
        assert np.array_equal(p1[k], p2[k]), f"updated {k} differs"


CASES = [
    # seed, n_a, weight scale, X
    (0, 50, 0.01, [None, 1, 2, 3]),  # the course's size, freshly initialised scale
    (1, 50, 0.5, [None] + list(range(1, 27)) + [0, 5]),
    (2, 100, 1.0, [None, 12, 3, 5, 11, 22, 3]),  # the notebook's optimize test: saturated tanh
    (3, 2, 3.0, [4]),  # smallest size the fast path takes, no None
    (4, 20, 0.3, [None, 7, None, 7, None]),  # None in the middle: zero input
    (5, 64, 0.2, list(np.random.RandomState(5).randint(0, 27, 60))),  # numpy ints, 60 steps
]


@pytest.mark.parametrize("seed,n_a,scale,X", CASES)
def test_fast_step_is_bit_identical_to_readable(fast, seed, n_a, scale, X):
    p = params(seed, n_a, scale)
    Y = [int(x) if x is not None else 0 for x in X[1:]] + [0]
    a0 = np.random.RandomState(seed + 100).randn(n_a, 1)
    slow = run_step("off", X, Y, a0, p)
    quick = run_step("on", X, Y, a0, p)
    assert isinstance(quick[1][1], rnn_fast.StepDict), "the fast path did not take this call"
    assert_bitwise_same(slow, quick)
    assert np.array_equal(a0, np.random.RandomState(seed + 100).randn(n_a, 1)), "a0 was modified"


def test_reference_training_is_bit_identical(fast):
    """3000 iterations of the notebook's own model(): same losses, printed names and weights."""
    from training.expected_output import load_names_data
    from coursetools.solution import load_solution

    sol = load_solution()
    data, char_to_ix, ix_to_char = load_names_data()
    runs = {}
    for mode in ("off", "on"):
        rnn_fast.set_mode(mode)
        history, out = [], io.StringIO()
        with contextlib.redirect_stdout(out):
            trained = sol.model(data, ix_to_char, char_to_ix, num_iterations=3000, loss_history=history)
        runs[mode] = (np.array(history), out.getvalue(), trained)
    assert rnn_fast.is_enabled()
    (h0, o0, w0), (h1, o1, w1) = runs["off"], runs["on"]
    assert np.array_equal(h0, h1), f"first differing iteration: {np.argmax(h0 != h1)}"
    assert o0 == o1 and "Iteration: 2000, Loss: 27.884160" in o1
    for k in PARAMS:
        assert np.array_equal(w0[k], w1[k])


def test_calls_the_fast_path_cannot_take_fall_back_to_numpy(fast):
    p = params(7, 6, 0.5)
    X, Y, a0 = [None, 3, 4], [3, 4, 0], np.zeros((6, 1))
    # float32 weights, Fortran-ordered weights, one hidden unit: numpy's own rules apply
    odd = [
        {k: v.astype(np.float32) for k, v in p.items()},
        {k: np.asfortranarray(v) if v.shape[1] > 1 else v for k, v in p.items()},
        params(8, 1, 0.5),
    ]
    for q in odd:
        a = np.zeros((q["Waa"].shape[0], 1), dtype=q["Waa"].dtype)
        slow = run_step("off", X, Y, a, q)
        quick = run_step("on", X, Y, a, q)
        assert not isinstance(quick[1][1], rnn_fast.StepDict)
        assert_bitwise_same(slow, quick)
    # bad indices raise exactly what the readable code raises
    rnn_fast.set_mode("on")
    with pytest.raises(IndexError):
        rnn.rnn_forward([None, 3], [3, 27], a0, p)
    with pytest.raises(TypeError):
        rnn.rnn_forward([None, 2.0], [2, 0], a0, p)
    with pytest.raises(ValueError):  # a literal -1 is a bad index, not the zero input
        rnn.rnn_forward([-1, 3], [3, 0], a0, p)


def test_backward_of_an_edited_cache_uses_the_edited_values(fast):
    p = params(9, 8, 0.5)
    X, Y, a0 = [None, 3, 4], [3, 4, 0], np.zeros((8, 1))
    rnn_fast.set_mode("on")
    _, cache = rnn.rnn_forward(X, Y, a0, p)
    cache[1][1] = cache[1][1] * 0.5  # replace one hidden state
    fast_grads, _ = rnn.rnn_backward(X, Y, p, cache)
    rnn_fast.set_mode("off")
    slow_grads, _ = rnn.rnn_backward(X, Y, p, cache)
    for k in slow_grads:
        assert np.array_equal(fast_grads[k], slow_grads[k])


def test_set_mode_rejects_unknown_modes():
    with pytest.raises(ValueError, match="'on', 'off' or 'auto'"):
        rnn_fast.set_mode("fast")


def _python(code, **env):
    full = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_utils_does_not_import_numba():
    out = _python("import sys, utils; print('numba' in sys.modules, 'tensorflow' in sys.modules)")
    assert out == "False False"


def test_auto_mode_compiles_only_after_enough_calls():
    """One-off calls (a notebook's test cells) never pay for compiling; training does, once."""
    code = (
        "import numpy as np; from utils import rnn, rnn_fast\n"
        "p = rnn.initialize_parameters(5, 27, 27); a0 = np.zeros((5, 1))\n"
        "kinds = [type(rnn.rnn_forward([None, 1], [1, 0], a0, p)[1][1]).__name__"
        " for _ in range(rnn_fast.AUTO_AFTER_CALLS + 1)]\n"
        "print(rnn_fast.get_mode(), kinds.index('StepDict') + 1 == rnn_fast.AUTO_AFTER_CALLS, kinds[0])"
    )
    assert _python(code, DINO_RNN_FASTPATH="auto") == "auto True dict"


def test_environment_variable_turns_it_off():
    code = (
        "import sys, numpy as np; from utils import rnn, rnn_fast\n"
        "p = rnn.initialize_parameters(5, 27, 27); a0 = np.zeros((5, 1))\n"
        "kinds = {type(rnn.rnn_forward([None, 1], [1, 0], a0, p)[1][1]).__name__"
        " for _ in range(2 * rnn_fast.AUTO_AFTER_CALLS)}\n"
        "print(rnn_fast.get_mode(), kinds, 'numba' in sys.modules, rnn_fast.disabled_reason()[:11])"
    )
    assert _python(code, DINO_RNN_FASTPATH="0") == "off {'dict'} False turned off"


def test_compiled_kernels_are_cached_on_disk_and_shared(tmp_path):
    """A second process (as with each graded submission) loads the kernels instead of compiling."""
    code = ("from utils import rnn_fast; assert rnn_fast.set_mode('on'), rnn_fast.disabled_reason();"
            "k = rnn_fast._state['kernels']; s = k.forward.stats;"
            "print(len(s.cache_hits), len(s.cache_misses), k.__file__)")
    first = _python(code, DINO_RNN_CACHE_DIR=str(tmp_path)).split()
    second = _python(code, DINO_RNN_CACHE_DIR=str(tmp_path)).split()
    assert first[:2] == ["0", "1"] and second[:2] == ["1", "0"]
    assert Path(first[2]).parent == tmp_path and first[2] == second[2]
    assert Path(first[2]).read_bytes() == (ROOT / "utils" / "rnn_kernels.py").read_bytes()
