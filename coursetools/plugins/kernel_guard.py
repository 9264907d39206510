"""Kernel-side guard: undo global monkeypatches before each graded test cell.

This module's source is sent to every grading kernel (it is never imported by
students' notebooks and never shipped). :func:`install` runs before the first
cell: it records the functions, classes and modules that the tests rely on
(``builtins``, ``numpy``, ``numpy.random``, ``math``, ``random``, ``utils``
and its submodules). :func:`restore` runs (silently) right before every
graded test cell and puts back whatever a submission replaced, so that a test
always checks the student's functions with the real ``np.clip``,
``np.random.seed``, ``np.allclose``, ``utils.rnn_forward`` and so on. It also
drops the last exception's traceback, which would otherwise keep alive the
memory of a cell that failed (for example after a ``MemoryError``). And it caps
what ``sys.stdout``/``sys.stderr`` send per cell (:func:`cap_output`), inside
the kernel, before the output is kept, buffered or sent.

Limits, stated honestly: code that runs inside the kernel can defeat any
in-process guard (a function may patch numpy at call time, or remove this
module). The guard closes the cheap tricks; the hidden tests and a look at
the submission close the rest.
"""

import gc
import importlib
import sys
import types

GUARD_MODULE = "_course_grading_guard"
PROTECTED_MODULES = ("builtins", "numpy", "numpy.random", "numpy.linalg", "math", "random", "utils")
# Swapped by ipykernel around every execution (stdin forwarding): not a submission's doing.
VOLATILE = {("builtins", "input"), ("builtins", "raw_input"), ("getpass", "getpass")}
# Names of the notebook's namespace that must mean what the imports cell made them mean.
PROTECTED_BINDINGS = {"np": "numpy"}


def _worth_protecting(value):
    return callable(value) or isinstance(value, types.ModuleType)


def _snapshot_module(mod):
    return {k: v for k, v in vars(mod).items() if _worth_protecting(v)}


def capped_write(write, limit, note):
    """A ``write`` function that passes on at most ``limit`` characters, then one ``note``, then nothing."""
    state = {"used": 0, "cut": False}

    def capped(text, *args, **kwargs):
        n = len(text)
        room = limit - state["used"]
        if n <= room:
            state["used"] += n
            return write(text, *args, **kwargs)
        if room > 0:
            write(text[:room], *args, **kwargs)
        state["used"] = limit
        if not state["cut"]:
            state["cut"] = True
            write(note)
        return n

    return capped


def cap_output(limit, note, streams=("stdout", "stderr")):
    """Cap what each cell writes to ``sys.stdout``/``sys.stderr`` (a fresh budget per cell).

    IPython wraps ``stream.write`` around every cell (to keep outputs in its
    history) and puts the original back afterwards; so the cap is put on top
    at each cell's start (the ``pre_run_cell`` event) and leaves with it. The
    excess is dropped before IPython's history, ipykernel's buffer or the
    network see it.
    """

    def wrap(*_args, **_kwargs):
        for name in streams:
            stream = getattr(sys, name)
            stream.write = capped_write(stream.write, limit, note)

    get_ipython().events.register("pre_run_cell", wrap)  # noqa: F821 (defined in a kernel)
    return wrap


def install(user_ns=None, max_output_chars=0):
    """Record the protected objects and register the guard as a module; returns the guard module.

    With ``max_output_chars > 0``, ``sys.stdout`` and ``sys.stderr`` keep at
    most that many characters per cell (counted from each cell's start).
    """
    modules = {}
    for name in PROTECTED_MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception:  # a protected module that does not import is simply not protected
            continue
        modules[name] = mod
        if name == "utils":  # utils' submodules too (utils.rnn, ...)
            for sub_name, sub in list(sys.modules.items()):
                if sub_name.startswith("utils.") and isinstance(sub, types.ModuleType):
                    modules[sub_name] = sub
    snapshot = {name: (mod, _snapshot_module(mod)) for name, mod in modules.items()}
    utils_public = {}
    if "utils" in modules:
        utils = modules["utils"]
        names = getattr(utils, "__all__", None) or [n for n in vars(utils) if not n.startswith("_")]
        utils_public = {n: getattr(utils, n) for n in names if hasattr(utils, n)}

    guard = types.ModuleType(GUARD_MODULE)
    guard.restored = []  # every restoration, in order: "numpy.clip", "np", ...
    guard.last = []  # the restorations of the latest call

    def restore(ns=None):
        """Put back every protected object that changed; return the names restored."""
        done = []
        sys.modules[GUARD_MODULE] = guard
        for name, (mod, saved) in snapshot.items():
            if sys.modules.get(name) is not mod and name in sys.modules:
                sys.modules[name] = mod
                done.append(f"sys.modules[{name!r}]")
            current = vars(mod)
            for key, value in saved.items():
                if (name, key) in VOLATILE:
                    continue
                if current.get(key, _MISSING) is not value:
                    try:
                        setattr(mod, key, value)
                    except (AttributeError, TypeError):
                        continue
                    done.append(f"{name}.{key}")
        if ns is not None:
            for key, module_name in PROTECTED_BINDINGS.items():
                if key in ns and module_name in modules and ns[key] is not modules[module_name]:
                    ns[key] = modules[module_name]
                    done.append(key)
            for key, value in utils_public.items():
                if key in ns and ns[key] is not value:
                    ns[key] = value
                    done.append(key)
        for attr in ("last_type", "last_value", "last_traceback", "last_exc"):
            if hasattr(sys, attr):
                try:
                    delattr(sys, attr)
                except AttributeError:
                    pass
        gc.collect()
        guard.last = done
        guard.restored.extend(done)
        return done

    guard.restore = restore
    sys.modules[GUARD_MODULE] = guard
    if max_output_chars and max_output_chars > 0:
        cap_output(max_output_chars, f"\n[grader: output cut, this cell printed more than {max_output_chars} characters]\n")
    if user_ns is not None:
        # the namespace is captured here so that the call before each test needs no name in it
        guard.restore_user = lambda: restore(user_ns)
    return guard


_MISSING = object()

# What the grading kernel runs once, before the notebook's first cell.
INSTALL_CODE = (
    "def __course_install_guard():\n"
    "    import types as _t\n"
    "    _m = _t.ModuleType('_course_grading_guard_src')\n"
    "    exec(compile({source!r}, 'kernel_guard.py', 'exec'), _m.__dict__)\n"
    "    _m.install(get_ipython().user_ns, {max_output_chars})\n"
    "__course_install_guard()\n"
    "del __course_install_guard\n"
)
# What it runs, silently, before each graded test cell.
RESTORE_CODE = f"__import__({GUARD_MODULE!r}).restore_user()"
# The expression that reports what the latest restore put back.
LAST_EXPR = f"__import__({GUARD_MODULE!r}).last"


def install_code(max_output_chars=0):
    """The code that installs this guard in a kernel (this file's source, sent as a string)."""
    with open(__file__, encoding="utf-8") as f:
        return INSTALL_CODE.format(source=f.read(), max_output_chars=int(max_output_chars))
