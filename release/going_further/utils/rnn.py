"""Numpy building blocks of the character-level RNN in *Dinosaurus Island*.

Everything here is given to the student; the graded functions (``clip``,
``sample``, ``optimize``, ``model``) are written in the notebook itself.

Notation (all vectors are columns, shape ``(n, 1)``):

* ``n_x`` -- size of the one-hot input (the vocabulary size, 27 for the names)
* ``n_a`` -- number of hidden units
* ``n_y`` -- size of the output distribution (the vocabulary size again)

Parameters live in a dict with the keys ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``,
``Wya (n_y, n_a)``, ``b (n_a, 1)`` and ``by (n_y, 1)``; gradients in a dict
with the same shapes under ``dWax, dWaa, dWya, db, dby``.

A time step ``t`` reads index ``X[t]`` (``None`` stands for the zero vector
that starts a name) and must predict index ``Y[t]``::

    a<t> = tanh(Wax x<t> + Waa a<t-1> + b)
    y<t> = softmax(Wya a<t> + by)
    loss = - sum_t log y<t>[Y[t]]

Because ``x<t>`` is one-hot, ``Wax x<t>`` is just column ``X[t]`` of ``Wax``.
The code below uses that column lookup; it gives bit-for-bit the same numbers
as the matrix product with a one-hot vector (see ``tests/utils/test_rnn.py``).
"""

import numpy as np

__all__ = [
    "softmax",
    "smooth",
    "get_initial_loss",
    "initialize_parameters",
    "update_parameters",
    "print_sample",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
]

PARAMETER_NAMES = ("Wax", "Waa", "Wya", "b", "by")


def softmax(x):
    """Softmax over axis 0 of ``x`` (shape ``(n, m)``), stable for large inputs.

    The maximum is subtracted before exponentiating, so ``softmax([1000, 1000])``
    is ``[0.5, 0.5]`` instead of ``nan``.
    """
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def smooth(loss, cur_loss):
    """Exponential moving average of the loss: ``0.999 * loss + 0.001 * cur_loss``."""
    return loss * 0.999 + cur_loss * 0.001


def get_initial_loss(vocab_size, seq_length):
    """Loss of a model that guesses uniformly: ``-log(1 / vocab_size) * seq_length``.

    ``get_initial_loss(27, 7)`` is 23.0708..., the starting point of the
    smoothed loss in ``model``.
    """
    return -np.log(1.0 / vocab_size) * seq_length


def initialize_parameters(n_a, n_x, n_y):
    """Small random weights and zero biases, seeded with ``np.random.seed(1)``.

    Arguments:
        n_a -- number of hidden units
        n_x -- input size (vocabulary size)
        n_y -- output size (vocabulary size)

    Returns:
        parameters -- dict with ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``,
        ``Wya (n_y, n_a)``, ``b (n_a, 1)``, ``by (n_y, 1)``
    """
    np.random.seed(1)
    Wax = np.random.randn(n_a, n_x) * 0.01  # input to hidden
    Waa = np.random.randn(n_a, n_a) * 0.01  # hidden to hidden
    Wya = np.random.randn(n_y, n_a) * 0.01  # hidden to output
    b = np.zeros((n_a, 1))
    by = np.zeros((n_y, 1))
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}


def update_parameters(parameters, gradients, lr):
    """One gradient-descent step, in place: ``param += -lr * dparam`` for all five.

    Returns the same ``parameters`` dict (updated).
    """
    for name in PARAMETER_NAMES:
        parameters[name] += -lr * gradients["d" + name]
    return parameters


def print_sample(sample_ix, ix_to_char):
    """Print the name encoded by the indices ``sample_ix``, first letter capitalised.

    The last index is normally the newline, so ``end=''`` avoids a blank line.
    """
    txt = "".join(ix_to_char[ix] for ix in sample_ix)
    txt = txt[0].upper() + txt[1:]
    print(txt, end="")


def rnn_step_forward(parameters, a_prev, ix):
    """One time step of the RNN.

    Arguments:
        parameters -- dict of weights (see module docstring)
        a_prev -- previous hidden state, shape ``(n_a, 1)``
        ix -- index of the input character, or None for the zero input

    Returns:
        a_next -- new hidden state, shape ``(n_a, 1)``
        p_t -- distribution over the next character, shape ``(n_y, 1)``
    """
    Waa, Wax, Wya, by, b = (parameters[k] for k in ("Waa", "Wax", "Wya", "by", "b"))
    # Wax @ (one-hot vector of ix) is column ix of Wax (exact zeros for the None input);
    # the sum keeps the textbook order (Wax x) + (Waa a_prev) + b, bit for bit.
    wax_x = Wax[:, ix : ix + 1] if ix is not None else 0.0
    a_next = np.tanh(wax_x + np.dot(Waa, a_prev) + b)
    p_t = softmax(np.dot(Wya, a_next) + by)
    return a_next, p_t


def rnn_forward(X, Y, a0, parameters):
    """Run the RNN over one example and add up the cross-entropy loss.

    Arguments:
        X -- list of input indices; ``X[0]`` may be None (zero input)
        Y -- list of target indices, same length as ``X``
        a0 -- initial hidden state, shape ``(n_a, 1)`` (not modified)
        parameters -- dict of weights

    Returns:
        loss -- sum over t of ``-log p<t>[Y[t]]`` (a float)
        cache -- ``(y_hat, a, x)``: dicts indexed by t (``a[-1]`` is a copy of
        ``a0``); ``x[t]`` holds the input index (None for the zero vector)
    """
    x, a, y_hat = {}, {}, {}
    a[-1] = np.copy(a0)
    loss = 0
    for t in range(len(X)):
        x[t] = X[t]
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], X[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    cache = (y_hat, a, x)
    return loss, cache


def rnn_step_backward(dy, gradients, parameters, x_ix, a, a_prev):
    """Back-propagate one time step, accumulating into ``gradients`` (in place).

    Arguments:
        dy -- gradient of the loss w.r.t. the output scores, shape ``(n_y, 1)``
        gradients -- dict of running gradients; must hold ``da_next (n_a, 1)``
        parameters -- dict of weights
        x_ix -- input index at this step (None for the zero input)
        a -- hidden state at this step, shape ``(n_a, 1)``
        a_prev -- hidden state of the previous step, shape ``(n_a, 1)``

    Returns:
        gradients -- the same dict, updated
    """
    gradients["dWya"] += np.dot(dy, a.T)
    gradients["dby"] += dy
    da = np.dot(parameters["Wya"].T, dy) + gradients["da_next"]
    daraw = (1 - a * a) * da  # backprop through tanh
    gradients["db"] += daraw
    if x_ix is not None:  # daraw @ (one-hot vector of x).T only touches column x_ix
        gradients["dWax"][:, x_ix : x_ix + 1] += daraw
    gradients["dWaa"] += np.dot(daraw, a_prev.T)
    gradients["da_next"] = np.dot(parameters["Waa"].T, daraw)
    return gradients


def rnn_backward(X, Y, parameters, cache):
    """Gradients of the loss of ``rnn_forward`` with respect to every parameter.

    Arguments:
        X, Y -- the lists given to ``rnn_forward``
        parameters -- dict of weights
        cache -- the cache returned by ``rnn_forward``

    Returns:
        gradients -- dict ``dWax, dWaa, dWya, db, dby`` (same shapes as the
        weights; also ``da_next``, the gradient flowing into ``a<-1>``)
        a -- the hidden states from the cache, ``a[len(X) - 1]`` the last one
    """
    (y_hat, a, x) = cache
    gradients = {"d" + k: np.zeros_like(parameters[k]) for k in PARAMETER_NAMES}
    gradients["da_next"] = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return gradients, a
