"""Stand-ins for the graded functions, so that a test judges one function on its own.

``model`` calls your ``optimize`` and ``sample``. To check ``model`` itself, its
test runs it with these two replaced by stand-ins that record what ``model``
gives them and return simple, predictable values. ``model`` then passes or
fails on its own work (the shuffle, the order of the names, ``X`` and ``Y``,
the carried hidden state, the learning rate, the smoothed loss, the samples at
each checkpoint), whatever your ``optimize`` and ``sample`` do::

    stand_ins = {"optimize": RecordingOptimize(), "sample": RecordingSample()}
    parameters = run_with_stand_ins(model, stand_ins, data, ix_to_char, char_to_ix, num_iterations=10)
    stand_ins["optimize"].calls[0]["X"]   # what model passed to optimize first

Nothing here trains anything.
"""

import numpy as np

__all__ = ["RecordingOptimize", "RecordingSample", "run_with_stand_ins"]


def _plain(value):
    """An index as a plain int (``None`` stays ``None``; anything else is recorded as its text)."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


class RecordingOptimize:
    """Stands for ``optimize(X, Y, a_prev, parameters, learning_rate)``; trains nothing.

    Call number k (1, 2, ...) records ``X``, ``Y``, the hidden state it was
    given (``a_prev``: its shape, and its value when all entries are equal)
    and the learning rate; adds 1 to every entry of ``parameters["by"]`` (so
    the parameters ``model`` returns show how many steps it took); and returns
    the loss ``k + len(X) / 10``, no gradients, and a hidden state full of k.
    """

    def __init__(self):
        self.calls = []

    def init_kwargs(self):
        return {}

    def __call__(self, X, Y, a_prev, parameters, learning_rate=0.01):
        k = len(self.calls) + 1
        a_prev = np.asarray(a_prev, dtype=float)
        value = float(a_prev.flat[0]) if a_prev.size and np.all(a_prev == a_prev.flat[0]) else None
        self.calls.append({"X": [_plain(x) for x in X], "Y": [_plain(y) for y in Y],
                           "a_prev_shape": list(a_prev.shape), "a_prev_value": value,
                           "learning_rate": float(learning_rate)})
        parameters["by"] += 1.0
        return k + len(X) / 10, {}, np.full(a_prev.shape, float(k))


class RecordingSample:
    """Stands for ``sample(parameters, char_to_ix, seed)``.

    Records the seed and ``parameters["by"][0, 0]`` (with
    :class:`RecordingOptimize`, the number of steps taken so far), and
    returns the indices of a two-letter name chosen by the seed ("aa" for
    seed 0, "bb" for 1, ...) followed by the newline.
    """

    def __init__(self):
        self.calls = []

    def init_kwargs(self):
        return {}

    def __call__(self, parameters, char_to_ix, seed):
        self.calls.append({"seed": _plain(seed), "by": float(np.asarray(parameters["by"]).flat[0])})
        letter = 1 + int(seed) % 26
        return [letter, letter, char_to_ix["\n"]]


def run_with_stand_ins(function, stand_ins, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` while the names in ``stand_ins`` stand for the given stand-ins.

    ``stand_ins`` maps a name that ``function`` uses (``"optimize"``) to a
    stand-in (``RecordingOptimize()``); afterwards each stand-in's ``calls``
    say how it was called. The names get their own values back afterwards.
    When the course grades a notebook, ``function`` runs in your notebook's
    kernel and the grader does the same through its own copy of this module.
    """
    if hasattr(function, "call_with_stand_ins"):  # at grading time: the grader's handle on your function
        return function.call_with_stand_ins(stand_ins, *args, **kwargs)
    namespace = function.__globals__
    missing = object()
    saved = {name: namespace.get(name, missing) for name in stand_ins}
    namespace.update(stand_ins)
    try:
        return function(*args, **kwargs)
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
