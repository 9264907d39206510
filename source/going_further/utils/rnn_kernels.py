"""Numba kernels of the RNN fast path (used through :mod:`utils.rnn_fast`, never directly).

Each kernel does what ``rnn_forward`` / ``rnn_backward`` of :mod:`utils.rnn`
do, in the same order, operation for operation. The four calls that decide
the last bits of the result go to numpy's own code, by symbol names that
:mod:`utils.rnn_fast` registers before this module is compiled:

* ``dino_cblas_dgemv``: numpy's OpenBLAS ``cblas_dgemv`` (ILP64), as ``np.dot``
  calls it for a matrix times a column;
* ``dino_np_tanh``, ``dino_np_exp``, ``dino_np_log``: numpy's float64 inner
  loops of those ufuncs; their ``context``/``auxdata`` pointers come in the
  ``h`` argument, ``h = [tanh ctx, tanh aux, exp ctx, exp aux, log ctx, log aux]``.

Importing this module needs numba; it is imported only by
:func:`utils.rnn_fast.enable`, after the symbols exist. Compiled code is cached
on disk (``cache=True``), so later processes load it in a fraction of a second.

Array layout: ``A`` has shape ``(T + 1, n_a)`` with ``A[0] = a<-1>`` and
``A[t + 1] = a<t>``; ``P`` has shape ``(T, n_y)`` with ``P[t] = y_hat<t>``;
inputs ``xs`` (read-only int64) hold :data:`NONE` where ``X[t]`` is None.

The kernels are compiled for one exact signature each (float64, C-contiguous
arrays, int64 indices); calling them with anything else raises ``TypeError``,
and they check shapes and index ranges themselves (status ``BAD_INPUT``), so
the caller can fall back to the readable code without checking first.
"""

import numpy as np
from numba import njit, types

_BLAS_INT = types.int64
_dgemv = types.ExternalFunction(
    "dino_cblas_dgemv",
    types.void(types.int32, types.int32, _BLAS_INT, _BLAS_INT, types.float64, types.intp,
               _BLAS_INT, types.intp, _BLAS_INT, types.float64, types.intp, _BLAS_INT),
)
_LOOP_SIG = types.int32(types.intp, types.intp, types.intp, types.intp, types.intp)
_tanh_loop = types.ExternalFunction("dino_np_tanh", _LOOP_SIG)
_exp_loop = types.ExternalFunction("dino_np_exp", _LOOP_SIG)
_log_loop = types.ExternalFunction("dino_np_log", _LOOP_SIG)

ROW_MAJOR, COL_MAJOR, NO_TRANS = 101, 102, 111
NONE = -(2**62)  # stands for X[t] = None (the zero input)
OK, BAD_INPUT = 0, -1

_f8_2d = types.Array(types.float64, 2, "C")
_f8_1d = types.Array(types.float64, 1, "C")
_i8_1d = types.Array(types.int64, 1, "C")
_idx = types.Array(types.int64, 1, "C", readonly=True)  # xs, ys: cached, read-only
_FORWARD_SIG = types.Tuple((types.float64, _f8_2d, _f8_2d, types.int64))(
    _idx, _idx, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _i8_1d)
_BACKWARD_SIG = types.Tuple((_f8_2d,) * 6 + (types.int64,))(
    _idx, _idx, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d)
_UPDATE_SIG = types.int64(_f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d, _f8_2d,
                          types.float64)
_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


@njit(types.boolean(_idx, _idx, types.int64, types.int64, types.boolean), **_OPTIONS)
def _indices_ok(xs, ys, n_x, n_y, x_may_be_none):
    if xs.shape[0] != ys.shape[0] or xs.shape[0] == 0:
        return False
    for t in range(xs.shape[0]):
        ix = xs[t]
        if not (0 <= ix < n_x or (x_may_be_none and ix == NONE)):
            return False
        if not 0 <= ys[t] < n_y:
            return False
    return True


@njit(types.UniTuple(types.intp, 3)(types.Array(types.intp, 1, "C"), types.intp, types.intp, types.intp),
      **_OPTIONS)
def _io(io, src, dst, n):
    """Fill the ``data``/``dimensions``/``strides`` block of a ufunc loop call: (in, out), n, (8, 8)."""
    io[0] = src
    io[1] = dst
    io[2] = n
    io[3] = 8
    io[4] = 8
    base = io.ctypes.data
    return base, base + 16, base + 24  # data, dimensions, strides


@njit(types.float64(_f8_1d, types.int64), **_OPTIONS)
def pairwise_sum(x, n):
    """``x[:n].sum()`` in numpy's pairwise order (``n <= 128``: eight accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += x[i]
        return res
    r0, r1, r2, r3 = x[0], x[1], x[2], x[3]
    r4, r5, r6, r7 = x[4], x[5], x[6], x[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[i]
        i += 1
    return res


@njit(_FORWARD_SIG, **_OPTIONS)
def forward(xs, ys, a0, Wax, Waa, Wya, b, by, h):
    """Loss, hidden states ``A (T+1, n_a)`` and distributions ``P (T, n_y)`` of one example.

    Returns ``(loss, A, P, status)``; ``status`` is ``BAD_INPUT`` for shapes or
    indices the readable code must handle, non-zero if a numpy loop failed.
    """
    T = xs.shape[0]
    n_a, n_x = Wax.shape
    n_y = Wya.shape[0]
    # n_a or n_y == 1 makes np.dot multiply scalars instead of calling BLAS: leave those to numpy
    if (n_a < 2 or n_y < 2 or Waa.shape != (n_a, n_a) or Wya.shape != (n_y, n_a) or b.shape != (n_a, 1)
            or by.shape != (n_y, 1) or a0.shape != (n_a, 1) or h.shape[0] != 6
            or not _indices_ok(xs, ys, n_x, n_y, True)):
        return 0.0, np.empty((0, 0)), np.empty((0, 0)), BAD_INPUT
    A = np.empty((T + 1, n_a))
    P = np.empty((T, n_y))
    z = np.empty(n_a)
    s = np.empty(n_y)
    e = np.empty(n_y)
    lg = np.empty(1)
    io = np.empty(5, np.intp)
    for i in range(n_a):
        A[0, i] = a0[i, 0]
    loss = 0.0
    status = 0
    for t in range(T):
        # a<t> = tanh((Wax x<t> + Waa a<t-1>) + b), x<t> one-hot: column xs[t] of Wax
        _dgemv(ROW_MAJOR, NO_TRANS, n_a, n_a, 1.0, Waa.ctypes.data, n_a, A[t].ctypes.data, 1,
               0.0, z.ctypes.data, 1)
        ix = xs[t]
        if ix != NONE:
            for i in range(n_a):
                z[i] = (Wax[i, ix] + z[i]) + b[i, 0]
        else:
            for i in range(n_a):
                z[i] = (0.0 + z[i]) + b[i, 0]
        d, n, st = _io(io, z.ctypes.data, A[t + 1].ctypes.data, n_a)
        status |= _tanh_loop(h[0], d, n, st, h[1])
        # y<t> = softmax(Wya a<t> + by) = exp(s - max(s)) / sum(exp(s - max(s)))
        _dgemv(ROW_MAJOR, NO_TRANS, n_y, n_a, 1.0, Wya.ctypes.data, n_a, A[t + 1].ctypes.data, 1,
               0.0, s.ctypes.data, 1)
        for i in range(n_y):
            s[i] = s[i] + by[i, 0]
        m = s[0]
        for i in range(n_y):  # np.max: nan wins
            v = s[i]
            if v != v:
                m = v
                break
            if v > m:
                m = v
        for i in range(n_y):
            s[i] = s[i] - m
        d, n, st = _io(io, s.ctypes.data, e.ctypes.data, n_y)
        status |= _exp_loop(h[2], d, n, st, h[3])
        total = pairwise_sum(e, n_y)
        for i in range(n_y):
            P[t, i] = e[i] / total
        # loss -= log(y<t>[Y[t]])
        d, n, st = _io(io, P[t].ctypes.data + 8 * ys[t], lg.ctypes.data, 1)
        status |= _log_loop(h[4], d, n, st, h[5])
        loss = loss - lg[0]
    return loss, A, P, status


@njit(cache=True, nogil=True)
def backward(xs, ys, Wax, Waa, Wya, A, P):
    """Gradients ``(dWax, dWaa, dWya, db, dby, da_next)`` of the loss of :func:`forward`."""
    T = xs.shape[0]
    n_a = Waa.shape[0]
    n_y = Wya.shape[0]
    dWax = np.zeros(Wax.shape)
    dWaa = np.zeros((n_a, n_a))
    dWya = np.zeros((n_y, n_a))
    db = np.zeros((n_a, 1))
    dby = np.zeros((n_y, 1))
    da_next = np.zeros((n_a, 1))
    dy = np.empty(n_y)
    da = np.empty(n_a)
    daraw = np.empty(n_a)
    for t in range(T - 1, -1, -1):
        a = A[t + 1]
        a_prev = A[t]
        for i in range(n_y):
            dy[i] = P[t, i]
        dy[ys[t]] -= 1.0
        for i in range(n_y):  # dWya += dy a.T ; dby += dy
            dyi = dy[i]
            for j in range(n_a):
                dWya[i, j] += dyi * a[j]
            dby[i, 0] += dyi
        # da = Wya.T dy + da_next (Wya.T is Wya read column-major)
        _dgemv(COL_MAJOR, NO_TRANS, n_a, n_y, 1.0, Wya.ctypes.data, n_a, dy.ctypes.data, 1,
               0.0, da.ctypes.data, 1)
        for i in range(n_a):
            da[i] = da[i] + da_next[i, 0]
            daraw[i] = (1.0 - a[i] * a[i]) * da[i]  # back through tanh
            db[i, 0] += daraw[i]
        ix = xs[t]
        if ix != NONE:
            for i in range(n_a):
                dWax[i, ix] += daraw[i]
        for i in range(n_a):  # dWaa += daraw a_prev.T
            di = daraw[i]
            for j in range(n_a):
                dWaa[i, j] += di * a_prev[j]
        # da_next = Waa.T daraw
        _dgemv(COL_MAJOR, NO_TRANS, n_a, n_a, 1.0, Waa.ctypes.data, n_a, daraw.ctypes.data, 1,
               0.0, da_next.ctypes.data, 1)
    return dWax, dWaa, dWya, db, dby, da_next, OK


@njit(_UPDATE_SIG, **_OPTIONS)
def update(Wax, Waa, Wya, b, by, dWax, dWaa, dWya, db, dby, lr):
    """``param += -lr * dparam`` for the five pairs, in place (as ``update_parameters``)."""
    params = (Wax, Waa, Wya, b, by)
    grads = (dWax, dWaa, dWya, db, dby)
    for k in range(5):
        if params[k].shape != grads[k].shape:
            return BAD_INPUT
    step = -lr
    for k in range(5):
        p = params[k].reshape(params[k].size)
        g = grads[k].reshape(grads[k].size)
        for i in range(p.shape[0]):
            p[i] += step * g[i]
    return OK
