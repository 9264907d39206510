"""Compiled fast path for :func:`utils.rnn.rnn_forward` and :func:`utils.rnn.rnn_backward`.

You do not need to read this file for the assignment: the readable functions
in :mod:`utils.rnn` define what the RNN computes. This module computes *the
very same numbers, bit for bit*, only faster (training 35,000 iterations takes
a few seconds instead of a quarter of a minute).

How it stays bit-identical
--------------------------
Floating-point results depend on the order of operations, and numpy uses
neither the C library for ``tanh``, ``exp`` and ``log`` (it ships its own SIMD
versions) nor a naive loop for matrix-vector products (it calls OpenBLAS). A
compiled loop that re-implemented them would differ in the last bits, and
training is chaotic: the sampled names would change after a few thousand
iterations. So the compiled loop (numba, in :mod:`utils.rnn_kernels`) calls

* the **same OpenBLAS** ``cblas_dgemv`` that ``np.dot`` calls, with the same
  arguments (row-major for ``W @ a``, column-major for ``W.T @ d``);
* numpy's **own inner loops** of ``np.tanh``, ``np.exp`` and ``np.log``,
  obtained with ``ufunc._get_strided_loop`` (the hook numpy offers to
  compilers such as numba);
* numpy's **pairwise summation** order for the softmax denominator;

and does everything else (``+``, ``*``, outer products) element by element in
the textbook order.

Safety
------
:func:`enable` compiles the kernels (or loads them from the disk cache), then
runs them next to the readable code on random examples and keeps them only if
every number agrees bit for bit. If numba is missing, numpy's internals
differ (another BLAS, a future numpy), or a check fails, the fast path stays
off, :func:`disabled_reason` says why, and :mod:`utils.rnn` uses the readable
code. Calls it cannot handle (non-float64 or non-contiguous arrays, odd
indices) also go to the readable code, which raises the usual errors.

One difference that is not a number: numpy's floating-point warnings
(``RuntimeWarning: overflow encountered in exp``, ``divide by zero encountered
in log``) and ``np.seterr(all="raise")`` do not reach the fast path; the values
(``inf``, ``nan``) are the same.

``DINO_RNN_FASTPATH=0`` turns it off; ``=1`` turns it on from the first call
(default ``auto``: after :data:`AUTO_AFTER_CALLS` calls, see ``utils.rnn``).
Compiled code is cached under ``DINO_RNN_CACHE_DIR`` (default
``~/.cache/dinosaurus-island/rnn-kernels``), keyed by the kernel source and
the numpy/numba versions, so every copy of ``utils/`` on a machine (one per
graded submission, say) shares one compilation.
"""

import operator
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["forward", "backward", "update", "enable", "set_mode", "get_mode", "is_enabled", "disabled_reason",
           "AUTO_AFTER_CALLS"]

AUTO_AFTER_CALLS = 100  # "auto": compile once a process has made this many forward calls
PARAMETER_NAMES = ("Wax", "Waa", "Wya", "b", "by")


def _mode_from_env():
    value = os.environ.get("DINO_RNN_FASTPATH", "auto").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    if value in ("1", "on", "true", "yes"):
        return "on"
    return "auto"


# enabled: None = not tried, True = compiled and checked, False = tried and failed
_state = {"mode": _mode_from_env(), "calls": 0, "enabled": None, "reason": "not compiled yet",
          "kernels": None, "handles": None, "bypass": False}
_keepalive = []  # numpy capsules whose pointers the compiled code uses


def set_mode(mode):
    """Use the fast path ``"on"`` (compile now), ``"off"``, or ``"auto"`` (after enough calls).

    Returns True if the fast path is active after the call. The results are the
    same bit for bit in every mode; only the speed differs.
    """
    if mode not in ("on", "off", "auto"):
        raise ValueError(f"mode must be 'on', 'off' or 'auto', not {mode!r}")
    _state["mode"], _state["calls"] = mode, 0
    if mode == "on":
        enable()
    return _active()


def get_mode():
    """The current mode: ``"on"``, ``"off"`` or ``"auto"`` (from ``DINO_RNN_FASTPATH`` at import)."""
    return _state["mode"]


def is_enabled():
    """True once :func:`enable` compiled and checked the fast path in this process."""
    return bool(_state["enabled"])


def disabled_reason():
    """Why the fast path is not in use (``""`` when it is)."""
    if _state["mode"] == "off":
        return "turned off (DINO_RNN_FASTPATH=0 or set_mode('off'))"
    return "" if _state["enabled"] else _state["reason"]


def _active():
    return bool(_state["enabled"]) and _state["mode"] != "off" and not _state["bypass"]


def _wanted():
    """Hook logic: is this forward call one for the fast path? May compile it (once)."""
    if _state["bypass"] or _state["mode"] == "off" or _state["enabled"] is False:
        return False
    if _state["enabled"]:
        return True
    _state["calls"] += 1
    if _state["mode"] == "auto" and _state["calls"] < AUTO_AFTER_CALLS:
        return False
    return enable()


def _numpy_dgemv():
    """Address of ``cblas_dgemv`` in the OpenBLAS that numpy itself uses (ILP64 wheels)."""
    import ctypes
    import glob

    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in blas.get("openblas configuration", ""):
        raise RuntimeError(f"numpy is not built with the bundled 64-bit scipy-openblas ({blas.get('name')})")
    here = Path(np.__file__).parent
    libs = sorted(glob.glob(str(here.parent / "numpy.libs" / "libscipy_openblas64_*")))
    libs += sorted(glob.glob(str(here / ".dylibs" / "libscipy_openblas64_*")))
    if not libs:
        raise RuntimeError("numpy's bundled OpenBLAS library was not found")
    lib = ctypes.CDLL(libs[0])
    try:
        return ctypes.cast(lib.scipy_cblas_dgemv64_, ctypes.c_void_p).value
    except AttributeError:
        raise RuntimeError("scipy_cblas_dgemv64_ not found in numpy's OpenBLAS") from None


def _ufunc_loop(ufunc):
    """``(loop, context, auxdata)`` addresses of numpy's contiguous float64 loop of ``ufunc``."""
    import ctypes

    class CallInfo(ctypes.Structure):  # numpy's ``ufunc_call_info`` capsule (numpy >= 1.24)
        _fields_ = [("strided_loop", ctypes.c_void_p), ("context", ctypes.c_void_p),
                    ("auxdata", ctypes.c_void_p), ("requires_pyapi", ctypes.c_bool),
                    ("no_floatingpoint_errors", ctypes.c_bool)]

    f64 = np.dtype(np.float64)
    _dtypes, capsule = ufunc._resolve_dtypes_and_context((f64, f64))
    ufunc._get_strided_loop(capsule, fixed_strides=(8, 8))
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    info = CallInfo.from_address(get(capsule, b"numpy_1.24_ufunc_call_info"))
    if info.requires_pyapi or not info.strided_loop:
        raise RuntimeError(f"numpy's {ufunc.__name__} loop cannot be called from compiled code")
    _keepalive.append(capsule)
    return info.strided_loop, info.context or 0, info.auxdata or 0


def _cache_dir():
    root = os.environ.get("DINO_RNN_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dinosaurus-island" / "rnn-kernels"


def _import_kernels():
    """Import :mod:`utils.rnn_kernels` from a content-keyed copy, so numba's disk cache is shared.

    numba keys its cache on the path of the source file; a copy under the
    cache folder named after the source's hash gives every copy of ``utils/``
    (e.g. one per graded submission) the same path. Falls back to the module
    in place if the cache folder is not writable.
    """
    import hashlib
    import importlib.util
    import platform
    import tempfile

    import numba

    src = Path(__file__).with_name("rnn_kernels.py")
    text = src.read_bytes()
    key = hashlib.sha256(
        text + f"|{np.__version__}|{numba.__version__}|{sys.version_info[:2]}|{platform.machine()}".encode()
    ).hexdigest()[:16]
    name = f"dino_rnn_kernels_{key}"
    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.py"
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(text)
            try:
                os.link(tmp, target)  # atomic; loses gracefully to a concurrent writer
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        if target.read_bytes() != text:
            raise OSError(f"{target} does not match {src}")
        spec = importlib.util.spec_from_file_location(name, target)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except OSError:
        from . import rnn_kernels

        return rnn_kernels


def _register_symbols():
    import llvmlite.binding as llvm

    llvm.add_symbol("dino_cblas_dgemv", _numpy_dgemv())
    handles = []
    for symbol, ufunc in (("dino_np_tanh", np.tanh), ("dino_np_exp", np.exp), ("dino_np_log", np.log)):
        loop, context, auxdata = _ufunc_loop(ufunc)
        llvm.add_symbol(symbol, loop)
        handles += [context, auxdata]
    return np.array(handles, dtype=np.intp)


def _self_check():
    """Run fast and readable code side by side; raise if any number differs in any bit."""
    from . import rnn

    rng = np.random.RandomState(20240917)
    for n_a, scale, X in ((50, 0.3, [None, 3, 1, 14, 3, 0, 5]), (7, 2.0, [None] + list(range(1, 27))), (2, 1.0, [2])):
        p = {"Wax": rng.randn(n_a, 27) * scale, "Waa": rng.randn(n_a, n_a) * scale,
             "Wya": rng.randn(27, n_a) * scale, "b": rng.randn(n_a, 1), "by": rng.randn(27, 1)}
        a0 = rng.randn(n_a, 1)
        Y = [x if x is not None else 0 for x in X[1:]] + [0]
        _state["bypass"] = True
        try:
            want_loss, want_cache = rnn.rnn_forward(X, Y, a0, p)
            want_grads, _ = rnn.rnn_backward(X, Y, p, want_cache)
        finally:
            _state["bypass"] = False
        got = _forward(X, Y, a0, p)
        if got is None:
            raise RuntimeError(f"the compiled forward pass declined a valid example (n_a={n_a})")
        got_loss, got_cache = got
        got = _backward(X, Y, p, got_cache)
        if got is None:
            raise RuntimeError(f"the compiled backward pass declined a valid example (n_a={n_a})")
        got_grads = got[0]
        same = want_loss == got_loss
        for t in range(-1, len(X)):
            same &= np.array_equal(want_cache[1][t], got_cache[1][t])
        for t in range(len(X)):
            same &= np.array_equal(want_cache[0][t], got_cache[0][t])
        for k in want_grads:
            same &= np.array_equal(want_grads[k], got_grads[k])
        p_fast = {k: v.copy() for k, v in p.items()}
        _state["bypass"] = True
        try:
            rnn.update_parameters(p, want_grads, 0.01)
        finally:
            _state["bypass"] = False
        same &= update(p_fast, got_grads, 0.01)
        for k in p:
            same &= np.array_equal(p[k], p_fast[k])
        if not same:
            raise RuntimeError(f"the compiled path differs from the readable one (n_a={n_a})")


def enable():
    """Compile (or load from the disk cache) and self-check the kernels; True if they pass.

    Safe to call many times: the first call decides, later calls return its answer.
    """
    if _state["enabled"] is not None:
        return _state["enabled"]
    _state["enabled"] = False
    try:
        _state["handles"] = _register_symbols()
        _state["kernels"] = _import_kernels()
        _state["enabled"] = True  # provisionally, so that the self-check uses the kernels
        _self_check()
    except ImportError as exc:
        _state["enabled"] = False
        _state["reason"] = f"numba is not installed ({exc})"
    except Exception as exc:  # anything at all: the readable path is always there
        _state["enabled"] = False
        _state["reason"] = f"{type(exc).__name__}: {exc}"
    else:
        _state["reason"] = ""
    return _state["enabled"]


# ----------------------------------------------------------------------------------------------
# Wrappers with the signatures of utils.rnn. They return None for calls they do not handle; the
# kernels reject (TypeError or status BAD_INPUT) anything but float64 C-contiguous arrays of
# consistent shapes and indices in range, so the checks here are only about Python types.


_INDEX_CACHE = {}  # tuple of indices -> int64 array; names repeat every epoch
_INDEX_CACHE_SIZE = 20000


def _indices(seq):
    """``seq`` as a read-only int64 array (None -> NONE), or None unless every entry is an int or None."""
    if bool in map(type, seq):  # True == 1 as a dict key, but not as an index
        return None
    key = tuple(seq)
    arr = _INDEX_CACHE.get(key)
    if arr is None:
        none = _state["kernels"].NONE
        arr = np.array([none if i is None else i for i in seq])
        if arr.dtype != np.int64:
            return None
        arr.flags.writeable = False
        if len(_INDEX_CACHE) >= _INDEX_CACHE_SIZE:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = arr
    return arr


class StepDict(dict):
    """A per-step dict of the cache (``a[t]`` or ``y_hat[t]``): a plain dict whose values are
    views of the rows of one 2-D array, which it keeps for :func:`backward`."""

    __slots__ = ("matrix", "views", "xs", "ys", "X", "Y")


def _step_dict(matrix, first):
    views = list(matrix[:, :, None])  # row t as a column (n, 1), a view
    d = StepDict(enumerate(views, first))
    d.matrix = matrix
    d.views = views
    return d


def _unchanged(d):
    """True if the dict still holds exactly the views :func:`_forward` put in it."""
    return type(d) is StepDict and len(d) == len(d.views) and all(map(operator.is_, d.values(), d.views))


def _forward(X, Y, a0, parameters):
    try:
        Wax, Waa, Wya, b, by = parameters["Wax"], parameters["Waa"], parameters["Wya"], parameters["b"], parameters["by"]
    except (KeyError, TypeError):
        return None
    xs, ys = _indices(X), _indices(Y)
    if xs is None or ys is None:
        return None
    try:
        loss, A, P, status = _state["kernels"].forward(xs, ys, a0, Wax, Waa, Wya, b, by, _state["handles"])
    except TypeError:  # not float64 / not C-contiguous: numpy's rules apply, so numpy runs it
        return None
    if status:
        return None
    a, y_hat = _step_dict(A, -1), _step_dict(P, 0)
    y_hat.xs, y_hat.ys, y_hat.X, y_hat.Y = xs, ys, list(X), list(Y)
    return np.float64(loss), (y_hat, a, dict(enumerate(X)))


def _backward(X, Y, parameters, cache):
    try:
        y_hat, a, _x = cache
        Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    except (KeyError, TypeError, ValueError):
        return None
    if not (_unchanged(y_hat) and _unchanged(a)):
        return None
    if type(X) is list and type(Y) is list and X == y_hat.X and Y == y_hat.Y:
        xs, ys = y_hat.xs, y_hat.ys
    else:
        xs, ys = _indices(X), _indices(Y)
        if xs is None or ys is None:
            return None
    try:
        *grads, status = _state["kernels"].backward(xs, ys, Wax, Waa, Wya, a.matrix, y_hat.matrix)
    except TypeError:
        return None
    if status:
        return None
    return dict(zip(("dWax", "dWaa", "dWya", "db", "dby", "da_next"), grads)), a


def forward(X, Y, a0, parameters):
    """Fast :func:`utils.rnn.rnn_forward`, or None when the readable code should run."""
    if not _wanted():
        return None
    return _forward(X, Y, a0, parameters)


def backward(X, Y, parameters, cache):
    """Fast :func:`utils.rnn.rnn_backward` for a cache made by :func:`forward`, else None."""
    if not _active():
        return None
    return _backward(X, Y, parameters, cache)


def update(parameters, gradients, lr):
    """Fast :func:`utils.rnn.update_parameters`: True if it did the update, False if numpy should."""
    if not _active():
        return False
    p, g = parameters, gradients
    try:
        return _state["kernels"].update(p["Wax"], p["Waa"], p["Wya"], p["b"], p["by"], g["dWax"], g["dWaa"],
                                        g["dWya"], g["db"], g["dby"], lr) == 0
    except (KeyError, TypeError):
        return False
