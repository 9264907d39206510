"""The checks behind the notebook's visible test cells, one function per exercise.

Each test cell of Dinosaurus Island calls one of these with your function::

    check_clip(clip)
    check_sample(sample, char_to_ix)
    check_optimize(optimize, clip)
    check_model(model, data, ix_to_char, char_to_ix, optimize, clip)

A check runs your function on small, known inputs, one behaviour at a time,
and prints a line for each behaviour that is right ("...: ok"). At the first
thing that is wrong it stops with an ``AssertionError`` whose message says what
is wrong and what to look at. When everything is right it prints
"All tests passed!".

Each function is judged on its own: ``optimize`` calls your ``clip``, and
``model`` calls your ``optimize`` and ``sample``, but a mistake in one of
those does not make the later check fail. The later check passes and tells
you which function to fix first.

Read this file if a message is not clear enough: the code right above the
failing ``assert`` shows exactly what was tried. When your notebook is graded,
the course runs its own copy of this file (editing yours changes nothing), and
hidden tests with other inputs run as well.
"""

import contextlib
import io

import numpy as np

from .rnn import get_initial_loss, rnn_backward, rnn_forward, smooth, softmax
from .stand_ins import RecordingOptimize, RecordingSample, run_with_stand_ins

__all__ = ["check_clip", "check_sample", "check_optimize", "check_model"]

GRADIENT_NAMES = ["dWax", "dWaa", "dWya", "db", "dby"]
PASSED = "\033[92mAll tests passed!"  # printed in green


def _ok(behaviour):
    """Say that one behaviour is right."""
    print(f"{behaviour}: ok")


# ----- Exercise 1: clip -------------------------------------------------------------------------


def _clip_works(clip):
    """Whether clip(gradients, 5) turns [-7, 0.5, 7] into [-5, 0.5, 5] in all five gradients."""
    probe = clip({name: np.array([[-7.0, 0.5, 7.0]]) for name in GRADIENT_NAMES}, 5)
    return isinstance(probe, dict) and all(np.array_equal(probe.get(name), [[-5.0, 0.5, 5.0]]) for name in GRADIENT_NAMES)


def check_clip(clip):
    """Check clip(gradients, maxValue) on gradients with values outside [-10, 10] (seed 3), then with maxValue 5.

    Every value of the five gradients must end up in [-maxValue, maxValue]; values inside keep theirs; the bound
    is the argument maxValue. Prints the published values first. (That clip works in place, on the caller's
    arrays, is checked by the hidden tests when your notebook is graded.)
    """
    np.random.seed(3)
    dWax = np.random.randn(5, 3) * 10
    dWaa = np.random.randn(5, 5) * 10
    dWya = np.random.randn(2, 5) * 10
    db = np.random.randn(5, 1) * 10
    dby = np.random.randn(2, 1) * 10
    gradients = {"dWax": dWax, "dWaa": dWaa, "dWya": dWya, "db": db, "dby": dby}
    originals = {name: g.copy() for name, g in gradients.items()}
    gradients = clip(gradients, 10)

    assert isinstance(gradients, dict), f"clip should return the gradients dictionary, got {type(gradients).__name__}"
    print("gradients[\"dWaa\"][1][2] =", gradients["dWaa"][1][2])
    print("gradients[\"dWax\"][3][1] =", gradients["dWax"][3][1])
    print("gradients[\"dWya\"][1][2] =", gradients["dWya"][1][2])
    print("gradients[\"db\"][4] =", gradients["db"][4])
    print("gradients[\"dby\"][1] =", gradients["dby"][1])

    # The gradients with values outside [-10, 10]: clip must change them.
    to_clip = [name for name in GRADIENT_NAMES if np.max(np.abs(originals[name])) > 10]
    assert any(not np.array_equal(gradients[name], originals[name]) for name in to_clip), (
        "clip returned the gradients unchanged (dWaa[1][2] is still {:.4f}). The last lines of clip rebuild the dictionary "
        "from the original arrays dWaa, dWax, dWya, db, dby, so a new array made by `gradient = np.clip(gradient, ...)` is "
        "thrown away: clip each array in place, with np.clip's out= argument (see the instructions)".format(
            float(gradients["dWaa"][1][2])))
    _ok("clip returns the gradients, clipped")

    for name in GRADIENT_NAMES:
        got, original = gradients[name], originals[name]
        assert np.shape(got) == original.shape, f"{name} should keep its shape {original.shape}, got {np.shape(got)}"
        assert name not in to_clip or not np.array_equal(got, original), (
            f"{name} was not clipped: clip all five gradients dWax, dWaa, dWya, db and dby")
        assert not (np.all(got == -10) or np.all(got == 10)), (
            f"every value of {name} became {float(got.flat[0])}: the bounds are swapped. The lower bound is -maxValue, "
            "the upper one maxValue")
        assert np.max(got) <= 10, (
            f"{name} still has values above maxValue = 10 (up to {float(np.max(got)):.4f}): the upper bound is maxValue")
        assert np.min(got) >= -10, (
            f"{name} still has values below -maxValue = -10 (down to {float(np.min(got)):.4f}): the lower bound is "
            "-maxValue, a negative number")
        assert not (np.min(got) >= 0 > np.min(original)), f"{name} has no negative values left: the lower bound is -maxValue, not 0"
    _ok("clip clips all five gradients to [-10, 10]")

    for name in GRADIENT_NAMES:
        assert np.array_equal(gradients[name], np.minimum(np.maximum(originals[name], -10), 10)), (
            f"{name} changed values that lie inside [-10, 10]: clip element by element (values inside the range keep "
            "theirs; this is not a rescaling of the whole gradient)")
    _ok("values inside [-10, 10] keep theirs")

    # The bound is the argument maxValue, not a fixed number.
    gradients5 = clip({name: g.copy() for name, g in originals.items()}, 5)
    for name in GRADIENT_NAMES:
        assert np.array_equal(gradients5[name], np.minimum(np.maximum(originals[name], -5), 5)), (
            f"clip(gradients, 5) should clip {name} to [-5, 5]: use the argument maxValue, not a fixed number")
    _ok("clip(gradients, 5) clips to [-5, 5]")

    # The published values.
    assert gradients["dWaa"][1][2] == 10.0, f"dWaa[1][2] should be clipped to 10.0, got {float(gradients['dWaa'][1][2])}"
    assert gradients["dWax"][3][1] == -10.0, f"dWax[3][1] should be clipped to -10.0, got {float(gradients['dWax'][3][1])}"
    assert np.isclose(gradients["dWya"][1][2], 0.29713815361), (
        f"dWya[1][2] is inside [-10, 10] and should keep its value 0.29713815361, got {float(gradients['dWya'][1][2])}")
    assert np.allclose(gradients["db"][4], [10.0]), f"db[4] should be clipped to [10.0], got {np.ravel(gradients['db'][4]).tolist()}"
    assert np.allclose(gradients["dby"][1], [8.45833407]), (
        f"dby[1] is inside [-10, 10] and should stay [8.45833407], got {np.ravel(gradients['dby'][1]).tolist()}")
    _ok("the published values")
    print(PASSED)


# ----- Exercise 2: sample -----------------------------------------------------------------------


def _tiny_model(vocab_size, n_a, **weights):
    """The parameters of a small hand-made RNN: the weights given, zeros for the others."""
    parameters = {"Wax": np.zeros((n_a, vocab_size)), "Waa": np.zeros((n_a, n_a)), "Wya": np.zeros((vocab_size, n_a)),
                  "b": np.zeros((n_a, 1)), "by": np.zeros((vocab_size, 1))}
    parameters.update(weights)
    return parameters


def _drawn(sample, parameters, char_to_ix, seed):
    """What sample returns, as a list of plain ints."""
    return [int(i) for i in sample(parameters, char_to_ix, seed)]


def _text(indices, ix_to_char):
    """Indices as the text they spell (the newline written as \\n)."""
    return "".join(ix_to_char.get(i, "?") for i in indices).replace("\n", "\\n")


def _one_draw_per_seed(p, seeds, vocab_size):
    """One draw after each reseed, as Step 3 says (p=None: a draw that ignores the probabilities)."""
    out = []
    for s in seeds:
        np.random.seed(s)
        out.append(int(np.random.choice(range(vocab_size), p=p)))
    return out


def _draws_hint(got, want, p, newline, vocab_size):
    """Which mistake in the draws gives ``got`` instead of ``want`` (all weights zero except by, seed 14)."""
    k = min(len(got), len(want))
    if got == want + [newline]:
        return "the sample got a second newline: append the newline index yourself only when 50 characters were drawn"
    if len(got) > len(want) and got[:len(want)] == want:
        return "sample kept drawing after the newline: the loop stops as soon as it draws the newline index"
    if len(got) > 2 and set(got[:-1]) == {int(np.argmax(p))}:
        return ("sample always picks the most likely character (np.argmax): draw at random instead, "
                "np.random.choice(range(vocab_size), p=y.ravel())")
    np.random.seed(14)
    once = [int(np.random.choice(range(vocab_size), p=p)) for _ in range(k)]
    if k > 1 and got[:k] == once:
        return ("sample seeds numpy only once: its draws are those of np.random.seed(seed) followed by several draws. "
                "Call np.random.seed(counter + seed) inside the loop, right before every draw")
    if got[:k] == _one_draw_per_seed(p, range(14, 14 + k), vocab_size):
        return ("the draws are seeded with seed, seed + 1, seed + 2, ...: reseed with np.random.seed(counter + seed) "
                "and keep both `seed += 1` and `counter += 1` at the end of the loop (draw t is then seeded with "
                "seed + 2t, as in the published run)")
    if got[:k] == _one_draw_per_seed(None, range(14, 14 + 2 * k, 2), vocab_size):
        return ("the draws ignore the model's probabilities: np.random.choice was called without p. "
                "Draw with np.random.choice(range(vocab_size), p=y.ravel())")
    if got[:k] == _one_draw_per_seed(np.full(vocab_size, 1 / vocab_size), range(14, 14 + 2 * k, 2), vocab_size):
        return ("the draws follow a uniform distribution, not y: compute z = Wya a + by (do not forget by) "
                "and y = softmax(z), and draw with p=y.ravel()")
    return ("reseed with np.random.seed(counter + seed) right before each draw, then draw with "
            "np.random.choice(range(vocab_size), p=y.ravel()), where y = softmax(Wya a + by)")


# The published run of sample (seed 2 weights, sample seed 0).
PUBLISHED_SAMPLE = [12, 17, 24, 14, 13, 9, 10, 22, 24, 6, 13, 11, 12, 6, 21, 15, 21, 14, 3, 2, 1, 21,
                    18, 24, 7, 25, 6, 25, 18, 10, 16, 2, 3, 8, 15, 12, 11, 7, 1, 12, 10, 2, 7, 7, 11,
                    5, 6, 12, 25, 0, 0]
# These weights are unscaled N(0, 1), so the sampler is chaotic: a difference in the last bit of a matrix
# product (which depends on the BLAS library of the machine) eventually changes one draw, and every draw after
# it. On numpy 2 the first 43 indices are the same everywhere; we compare those, and only check the shape of
# the rest.
PUBLISHED_PREFIX = 43


def check_sample(sample, char_to_ix):
    """Check sample(parameters, char_to_ix, seed) on small hand-made models, one behaviour at a time.

    First the published run (seed 2 weights, sample seed 0) is printed; then the draws, feeding the drawn
    character back, the stopping rules and the hidden state are checked on models whose behaviour is known
    exactly; then the published indices.
    """
    ix_to_char = {i: ch for ch, i in char_to_ix.items()}
    vocab_size, newline = len(char_to_ix), char_to_ix["\n"]

    np.random.seed(2)
    n_a = 100
    Wax, Waa, Wya = np.random.randn(n_a, vocab_size), np.random.randn(n_a, n_a), np.random.randn(vocab_size, n_a)
    b, by = np.random.randn(n_a, 1), np.random.randn(vocab_size, 1)
    parameters = {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}
    try:
        indices = sample(parameters, char_to_ix, 0)
    except ValueError as error:
        raise AssertionError(
            f"sample raised ValueError: {error}. Check the shapes and the draw: x must be (vocab_size, 1) and a_prev "
            "(n_a, 1); a = tanh(Wax x + Waa a_prev + b), z = Wya a + by; np.random.choice needs p=y.ravel(), a 1-D array "
            "of probabilities, so y = softmax(z)") from error
    assert isinstance(indices, list), f"sample should return a list of indices, got {type(indices).__name__}"
    indices = [int(i) for i in indices]
    print("Sampling:")
    print("list of sampled indices:\n", indices)
    print("size indices:\n", len(indices))
    print("list of sampled characters:\n", [ix_to_char[i] for i in indices])

    # 1. The draws. All weights are zero except by, so y = softmax(by) at every step: each character depends
    #    only on the seed set right before its draw.
    by_flat = np.zeros((vocab_size, 1))
    by_flat[[char_to_ix[ch] for ch in "aeioru"]] = 4.0
    by_flat[newline] = 2.5
    flat = _tiny_model(vocab_size, 4, by=by_flat)
    p = softmax(by_flat).ravel()
    want = [12, 5, 15, 15, 5, 21, 5, 18, 15, 21, 1, 18, 9, 9, 9, 21, 18, 0]  # "leooeuerouariiiur\n"
    np.random.seed(1000)
    got = _drawn(sample, flat, char_to_ix, 14)
    np.random.seed(2000)
    assert _drawn(sample, flat, char_to_ix, 14) == got, (
        "sample gave two different results for the same seed: its draws depend on numpy's global random state. "
        "Reseed with np.random.seed(counter + seed) inside the loop, right before every draw (did you delete that line?)")
    assert got == want, (
        f"with all weights zero except by, every character is drawn from y = softmax(by); sample(..., seed=14) should "
        f"give '{_text(want, ix_to_char)}', got '{_text(got, ix_to_char)}': "
        + _draws_hint(got, want, p, newline, vocab_size))
    _ok("sample reseeds before every draw and draws from y = softmax(z)")

    # 2. Feeding the drawn character back. In this model each character decides the next one: d -> i -> n -> o -> newline.
    Wya_chain = np.zeros((vocab_size, vocab_size))
    for ch, following, weight in [("d", "i", 60.0), ("i", "n", 50.0), ("n", "o", 40.0), ("o", "\n", 30.0)]:
        Wya_chain[char_to_ix[following], char_to_ix[ch]] = weight
    by_chain = np.zeros((vocab_size, 1))
    by_chain[char_to_ix["d"]] = 15.0  # the first character: "d"
    by_chain[newline] = 9.0
    chain = _tiny_model(vocab_size, vocab_size, Wax=10.0 * np.eye(vocab_size), Wya=Wya_chain, by=by_chain)
    got = _drawn(sample, chain, char_to_ix, 0)
    assert not (len(got) > 2 and set(got[:-1]) == {char_to_ix["d"]}), (
        "after the first 'd' the characters are all 'd' again: the input x never changes. After each draw, overwrite x "
        "with the one-hot vector of idx (a vector of zeros with a 1 in row idx): the drawn character is the next input")
    dino = [char_to_ix[ch] for ch in "dino\n"]
    assert got == dino, (
        f"in this model each character decides the next one (d -> i -> n -> o -> newline), so sample should give 'dino\\n', "
        f"got '{_text(got, ix_to_char)}': x must be the one-hot vector of the last drawn character only (start from a "
        "vector of zeros each time), and y must come from the new hidden state a")
    _ok("sample feeds the drawn character back as the next input")

    # 3. The stopping rules: stop at the first newline; otherwise stop after 50 draws and append the newline index.
    sure_newline = np.zeros((vocab_size, 1))
    sure_newline[newline] = 30.0
    got = _drawn(sample, _tiny_model(vocab_size, 2, by=sure_newline), char_to_ix, 0)
    assert got != [newline, newline], (
        "the sample [newline] got a second newline: append the newline index yourself only when 50 characters were drawn")
    assert got == [newline], (
        f"a model that always draws the newline should give [{newline}], got {got}: stop as soon as idx is the newline index")
    got = _drawn(sample, _tiny_model(vocab_size, 3), char_to_ix, 61)  # uniform y: with seed 61 the first newline would only be draw 79
    assert len(got) <= 51, (
        f"sample returned {len(got)} indices: stop after 50 draws (while counter != 50), then append the newline index")
    assert got and got[-1] == newline, (
        f"sample drew {len(got)} characters and did not end with the newline index: draw up to 50 characters (the loop "
        "runs while counter != 50), then append the newline index yourself (if counter == 50)")
    assert len(got) == 51, f"sample stopped after {len(got) - 1} draws: draw up to 50 characters, then append the newline"
    assert newline not in got[:-1] and got[-1] == newline, "only the appended last index should be the newline here"
    _ok("sample stops at the newline, or after 50 draws with a newline appended")

    # 4. The hidden state. Here the hidden state flips sign at every step and the characters alternate: a, b, a, b, ...
    Wya_ab = np.zeros((vocab_size, 1))
    Wya_ab[char_to_ix["a"]], Wya_ab[char_to_ix["b"]] = 30.0, -30.0
    got = _drawn(sample, _tiny_model(vocab_size, 1, Waa=np.array([[-10.0]]), b=np.array([[3.0]]), Wya=Wya_ab), char_to_ix, 0)
    a, b_ = char_to_ix["a"], char_to_ix["b"]
    assert got != [a] * 50 + [newline], (
        "the characters should alternate 'abab...', got 'aaaa...': the hidden state never changes. Compute "
        "a = tanh(Wax x + Waa a_prev + b) and set a_prev = a after each draw")
    assert got == [a, b_] * 25 + [newline], (
        f"the characters should alternate 'abab...', got '{_text(got, ix_to_char)}': check a = tanh(Wax x + Waa a_prev + b), "
        "z = Wya a + by, y = softmax(z), and a_prev = a after each draw")
    _ok("sample carries the hidden state from one step to the next")

    # 5. The published run (see PUBLISHED_PREFIX: only the first 43 indices are the same on every machine).
    assert len(indices) >= PUBLISHED_PREFIX, f"expected at least {PUBLISHED_PREFIX} indices here, got {len(indices)}"
    for t in range(PUBLISHED_PREFIX):
        assert indices[t] == PUBLISHED_SAMPLE[t], (
            f"index {t} should be {PUBLISHED_SAMPLE[t]} ('{ix_to_char[PUBLISHED_SAMPLE[t]]}'), got {indices[t]}. The "
            "draws, the feedback and the stopping rules are right (checked above), so check the forward step of Step 2 "
            "with these weights: a = tanh(Wax x + Waa a_prev + b), z = Wya a + by, y = softmax(z)")
    assert len(indices) <= 51, f"at most 50 drawn characters plus a newline: got {len(indices)} indices"
    assert indices[-1] == newline, "the sample must end with the newline index"
    _ok("the published indices")
    print(PASSED)


# ----- Exercise 3: optimize ---------------------------------------------------------------------


def _loss_hint(loss, X, Y, n_a, before):
    if np.isclose(loss, rnn_forward(X, Y, np.zeros((n_a, 1)), before)[0]):
        return "rnn_forward was given a zero hidden state: pass it a_prev"
    return "return the loss that rnn_forward(X, Y, a_prev, parameters) computes, before the update"


def _update_hint(name, change, lr, gradient):
    """Why the parameter ``name`` moved by ``change`` instead of -lr * gradient."""
    if np.allclose(change, lr * gradient):
        return "the parameters moved up the gradient: update_parameters(parameters, gradients, learning_rate) subtracts"
    largest = np.argmax(np.abs(gradient))
    factor = float(-np.ravel(change)[largest] / (lr * np.ravel(gradient)[largest])) if np.ravel(gradient)[largest] else 0.0
    if factor > 0 and not np.isclose(factor, 1.0) and np.allclose(change, -factor * lr * gradient):
        return (f"{name} moved by {factor:.3g} * learning_rate * d{name}, not by learning_rate * d{name}: pass "
                "learning_rate itself to update_parameters(parameters, gradients, learning_rate)")
    if np.max(np.abs(change)) > 5 * lr * (1 + 1e-9):
        return "they moved by more than learning_rate * 5: clip the gradients before update_parameters, not after"
    return f"{name} should change by -learning_rate * d{name}: call update_parameters(parameters, gradients, learning_rate)"


def check_optimize(optimize, clip):
    """Check optimize(X, Y, a_prev, parameters, learning_rate) for one SGD step (seed 1 weights), with your clip.

    optimize must return the loss of rnn_forward, the gradients of rnn_backward clipped with clip(gradients, 5),
    and the last hidden state, and update the parameters with the learning rate it is given. optimize calls
    your clip: if clip does not work yet, this check says so and checks the published values once it does.
    """
    # optimize calls your clip, and is checked with your clip as it is.
    clip_works = _clip_works(clip)
    if not clip_works:
        print("Note: optimize calls your clip, but clip(gradients, 5) does not turn [-7, 0.5, 7] into [-5, 0.5, 5] yet: "
              "fix clip first (its test above fails too). optimize is checked here with your clip as it is; the "
              "published values are checked once clip works.")

    np.random.seed(1)
    vocab_size, n_a = 27, 100
    a_prev = np.random.randn(n_a, 1)
    Wax, Waa, Wya = np.random.randn(n_a, vocab_size), np.random.randn(n_a, n_a), np.random.randn(vocab_size, n_a)
    b, by = np.random.randn(n_a, 1), np.random.randn(vocab_size, 1)
    parameters = {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}
    X = [12, 3, 5, 11, 22, 3]
    Y = [4, 14, 11, 22, 25, 26]
    before = {name: p.copy() for name, p in parameters.items()}
    a_prev_before = a_prev.copy()

    loss, gradients, a_last = optimize(X, Y, a_prev, parameters, learning_rate=0.01)
    print("Loss =", float(f"{loss:.12g}"))  # 12 significant digits: the same on every machine
    print("gradients[\"dWaa\"][1][2] =", float(f"{gradients['dWaa'][1][2]:.12g}"))
    print("np.argmax(gradients[\"dWax\"]) =", np.argmax(gradients["dWax"]))
    print("gradients[\"dWya\"][1][2] =", float(f"{gradients['dWya'][1][2]:.12g}"))
    print("gradients[\"db\"][4] =", gradients["db"][4])
    print("gradients[\"dby\"][1] =", gradients["dby"][1])
    print("a_last[4] =", a_last[4])

    assert np.isclose(loss, 126.503975722), (
        f"Loss should be 126.503975722, got {float(loss)}: " + _loss_hint(loss, X, Y, n_a, before))
    _ok("optimize returns the loss of rnn_forward")

    # What optimize should return: the gradients of rnn_backward, clipped by YOUR clip(gradients, 5).
    expected = clip(rnn_backward(X, Y, before, rnn_forward(X, Y, a_prev_before.copy(), before)[1])[0], 5)
    largest = float(max(np.max(np.abs(gradients[name])) for name in GRADIENT_NAMES))
    if clip_works:
        assert largest <= 5, f"the gradients reach {largest:.4g}: " + (
            "they are clipped at 10, optimize clips at maxValue = 5" if largest <= 10 else
            "they are not clipped: call clip(gradients, 5) on the gradients of rnn_backward and keep what it returns")
    for name in GRADIENT_NAMES:
        assert np.allclose(gradients[name], expected[name]), (
            f"{name} is not the gradient of rnn_backward clipped with clip(gradients, 5): call clip on the gradients of "
            "rnn_backward with maxValue = 5 and keep what it returns")
    _ok("optimize returns the gradients clipped with clip(gradients, 5)")

    changes = {name: parameters[name] - before[name] for name in before}
    assert any(np.any(change != 0) for change in changes.values()), (
        "the parameters did not change: after clipping, optimize must take one step of gradient descent with "
        "update_parameters(parameters, gradients, learning_rate) (it updates the dictionary it is given)")
    for name, change in changes.items():
        assert np.allclose(change, -0.01 * gradients["d" + name]), (
            f"{name} was not updated as expected: " + _update_hint(name, change, 0.01, gradients["d" + name]))
    _ok("optimize updates the parameters by -learning_rate * gradient")

    parameters_big_step = {name: p.copy() for name, p in before.items()}
    _, gradients_big_step, _ = optimize(X, Y, a_prev_before.copy(), parameters_big_step, learning_rate=0.1)
    changes = {name: parameters_big_step[name] - before[name] for name in before}
    assert not all(np.allclose(changes[name], -0.01 * gradients_big_step["d" + name]) for name in before), (
        "with learning_rate=0.1 the parameters moved as far as with 0.01: pass the learning_rate argument to "
        "update_parameters, not a fixed number")
    for name, change in changes.items():
        assert np.allclose(change, -0.1 * gradients_big_step["d" + name]), (
            "with learning_rate=0.1: " + _update_hint(name, change, 0.1, gradients_big_step["d" + name]))
    _ok("optimize uses the learning_rate it is given")

    assert np.shape(a_last) == (n_a, 1), (
        f"the returned hidden state should have shape ({n_a}, 1), got {np.shape(a_last)}: return a[len(X) - 1], the hidden "
        "state of the last time step (not all of a)")
    assert not np.array_equal(a_last, a_prev_before), (
        "optimize returned the hidden state it was given: return a[len(X) - 1], the hidden state of the last time step")
    assert np.allclose(a_last[4], [-1.0]), (
        f"a_last[4] should be [-1.0], got {np.ravel(a_last[4]).tolist()}: return a[len(X) - 1], the last hidden state")
    _ok("optimize returns the hidden state of the last time step")

    # The published values (they need a clip that works).
    if not clip_works:
        print("optimize passes its own checks; its published values are checked once your clip works.")
        return
    assert np.isclose(gradients["dWaa"][1][2], 0.194709315347), (
        f"dWaa[1][2] should be 0.194709315347, got {float(gradients['dWaa'][1][2])}")
    assert np.argmax(gradients["dWax"]) == 93, f"np.argmax(dWax) should be 93, got {int(np.argmax(gradients['dWax']))}"
    assert np.isclose(gradients["dWya"][1][2], -0.007773876032), (
        f"dWya[1][2] should be -0.007773876032, got {float(gradients['dWya'][1][2])}")
    assert np.allclose(gradients["db"][4], [-0.06809825]), (
        f"db[4] should be [-0.06809825], got {np.ravel(gradients['db'][4]).tolist()}")
    assert np.allclose(gradients["dby"][1], [0.01538192]), (
        f"dby[1] should be [0.01538192], got {np.ravel(gradients['dby'][1]).tolist()}")
    _ok("the published values")
    print(PASSED)


# ----- Exercise 4: model ------------------------------------------------------------------------


def _what_model_does(model, data, ix_to_char, char_to_ix, num_iterations):
    """Run model() with stand-ins for optimize and sample (utils/stand_ins.py): nothing is trained.

    Returns the stand-ins (what they recorded is in their .calls), the smoothed losses, what model returned,
    and the error that stopped model early (or None).
    """
    stand_ins = {"optimize": RecordingOptimize(), "sample": RecordingSample()}
    history, returned, error = [], None, None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            returned = run_with_stand_ins(model, stand_ins, data, ix_to_char, char_to_ix,
                                          num_iterations=num_iterations, loss_history=history)
    except NotImplementedError:
        raise  # model is not written yet: nothing to diagnose
    except Exception as exc:
        error = exc
    return stand_ins, history, returned, error


def _model_steps(model, data, ix_to_char, char_to_ix):
    """model's own work, behaviour by behaviour: ``[(behaviour, problem or None)]``, computed lazily.

    model runs with stand-ins for optimize and sample that record what it gives them, for one pass over the
    names and 5 more iterations.
    """
    examples = [x.strip() for x in data.splitlines()]
    n = len(examples)
    shuffled = list(examples)
    np.random.RandomState(0).shuffle(shuffled)  # the shuffle of model: np.random.seed(0), then np.random.shuffle
    vocab_size = len(char_to_ix)
    stand_ins, history, returned, stopped = _what_model_does(model, data, ix_to_char, char_to_ix, n + 5)
    calls = stand_ins["optimize"].calls

    def runs():
        if stopped is not None and len(calls) == n:
            return (f"model ran out of names after {n} iterations ({stopped!r}): there are {n} names, so use "
                    "idx = j % len(examples) to start again from the first name")
        if stopped is not None:
            return (f"model raised {stopped!r} after {len(calls)} iterations with a stand-in for optimize: check how "
                    "idx, X and Y are built, and use only what optimize returns (curr_loss, gradients, a_prev)")
        if len(calls) != n + 5:
            return f"model called optimize {len(calls)} times in {n + 5} iterations: call it exactly once per iteration"
        return None

    def x_and_y():
        X, Y = calls[0]["X"], calls[0]["Y"]
        if X[:1] != [None]:
            return "X must start with None (the zero vector that starts every name): X = [None] + the indices of the name"
        if Y != X[1:] + [char_to_ix["\n"]]:
            return "Y must be X shifted left by one, with the newline index appended: Y = X[1:] + [char_to_ix['\\n']]"
        return None

    def learning_rate():
        rates = sorted({call["learning_rate"] for call in calls})
        if rates != [0.01]:
            return f"model trained with learning_rate {rates}: use learning_rate=0.01"
        return None

    def order():
        names = ["".join(ix_to_char.get(i, "?") for i in call["X"][1:]) for call in calls]
        if names[:n] == examples:
            return ("the names come in the order of the file: keep np.random.seed(0) and np.random.shuffle(examples) "
                    "before the loop")
        if names[:n] != shuffled:
            return "model should take the (shuffled) names one after the other: examples[idx] with idx = j % len(examples)"
        if names[n:] != shuffled[:5]:
            return ("after the last name, model should start again with the first one: idx = j % len(examples) "
                    "(shuffle only once, before the loop)")
        return None

    def hidden_state():
        if calls[0]["a_prev_value"] != 0 or calls[0]["a_prev_shape"] != [50, 1]:
            return "start from a hidden state of zeros of shape (n_a, 1): a_prev = np.zeros((n_a, 1))"
        if any(call["a_prev_value"] != j for j, call in enumerate(calls)):
            return ("carry the hidden state over: pass the a_prev that optimize returned for the previous name to the "
                    "next call (do not reset it to zeros)")
        return None

    def smoothed_loss():
        loss, smoothed = get_initial_loss(vocab_size, 7), []
        for k, call in enumerate(calls, start=1):
            loss = smooth(loss, k + len(call["X"]) / 10)  # what the stand-in returned as curr_loss
            smoothed.append(loss)
        if len(history) != len(calls) or not np.allclose(history, smoothed, rtol=1e-12):
            return ("the smoothed loss is wrong: start from get_initial_loss(vocab_size, dino_names), then in every "
                    "iteration loss = smooth(loss, curr_loss) with the curr_loss optimize returned, appended to "
                    "loss_history")
        return None

    def samples():
        if [(s["seed"], s["by"]) for s in stand_ins["sample"].calls] != [(seed, 1.0) for seed in range(7)]:
            return ("at iteration 0, model should sample dino_names = 7 names with the trained parameters, with "
                    "sample(parameters, char_to_ix, seed) and seed = 0, 1, ..., 6: keep the given sampling lines")
        return None

    def returns():
        if not (isinstance(returned, dict) and np.shape(returned.get("by")) == (vocab_size, 1)
                and np.all(returned["by"] == len(calls))):
            return "model should return the parameters that optimize updated in every iteration"
        return None

    return [("model calls optimize once per iteration", runs),
            ("model builds X and Y from the name", x_and_y),
            ("model trains with learning_rate=0.01", learning_rate),
            ("model takes the shuffled names one after the other", order),
            ("model carries the hidden state over", hidden_state),
            ("model smooths the loss", smoothed_loss),
            ("model samples 7 names at iteration 0", samples),
            ("model returns the trained parameters", returns)]


def _optimize_problem(optimize, clip):
    """Why your clip or optimize would change the checkpoints (their own tests say more); None: they work."""
    if not _clip_works(clip):
        return "model trains with your clip, which does not clip correctly yet"
    rng = np.random.RandomState(0)
    small = {"Wax": rng.randn(3, 27), "Waa": rng.randn(3, 3), "Wya": rng.randn(27, 3), "b": rng.randn(3, 1), "by": rng.randn(27, 1)}
    before = {name: p.copy() for name, p in small.items()}
    loss, grads, a_last = optimize([None, 1, 2], [1, 2, 0], np.zeros((3, 1)), small, learning_rate=0.01)
    want_loss, cache = rnn_forward([None, 1, 2], [1, 2, 0], np.zeros((3, 1)), before)
    want, want_a = rnn_backward([None, 1, 2], [1, 2, 0], before, cache)
    if not np.isclose(loss, want_loss) or np.shape(a_last) != (3, 1) or not np.allclose(a_last, want_a[2]) or not all(
            np.allclose(small[k], before[k] - 0.01 * np.clip(want["d" + k], -5, 5)) for k in small):
        return "model trains with your optimize, which does not pass its test yet"
    return None


def check_model(model, data, ix_to_char, char_to_ix, optimize, clip):
    """Check model(data, ix_to_char, char_to_ix, ...) on its own, then train it for 2001 iterations.

    model is first run with stand-ins for optimize and sample that record what model gives them
    (utils/stand_ins.py), so its own work is checked whatever your optimize and sample do. Then it trains for
    real, with your optimize (which calls your clip) and sample: the published checkpoints at iterations 0
    and 2000 need those too. When they differ because of clip or optimize, this check says so without failing.
    """
    for behaviour, problem in _model_steps(model, data, ix_to_char, char_to_ix):
        problem = problem()
        assert problem is None, problem
        _ok(behaviour)

    out, stopped = io.StringIO(), None
    try:
        with contextlib.redirect_stdout(out):
            model(data, ix_to_char, char_to_ix, num_iterations=2001, verbose=True)
    except Exception as error:
        stopped = error
    printed = out.getvalue()
    print(printed)
    if stopped is not None:
        print(f"model itself works (checked above), but training stopped with {stopped!r}: it comes from your optimize, "
              "clip or sample; fix them first (see their tests above).")
    elif "Iteration: 0, Loss: 23.087336" in printed and "Iteration: 2000, Loss: 27.884160" in printed:
        print(PASSED)
    else:
        other = _optimize_problem(optimize, clip)
        assert other is not None, (
            "the checkpoints should read 'Iteration: 0, Loss: 23.087336' and 'Iteration: 2000, Loss: 27.884160': "
            "compare model with the instructions once more")
        print(f"model itself works (checked above), but the checkpoints differ from the published ones: {other}. "
              "Fix it first (see its test above).")
