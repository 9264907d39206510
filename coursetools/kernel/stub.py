"""The grading kernel's side of trusted tests: it runs the student's functions on request, with plain data.

This file's source (with :mod:`coursetools.kernel.plaindata`'s) is sent to
every grading kernel before the notebook's first cell (:func:`install_code`);
students never get it and notebooks never import it. It registers a module
``_course_grading`` that

- caps what each cell writes to ``sys.stdout``/``sys.stderr`` (:func:`cap_output`);
- answers the grader's requests. Each is one ``user_expressions`` entry of a
  silent execution of no code (:func:`request_expression`): plain ``eval``,
  so nothing is stored in ``In`` and IPython's input transformers never see
  the request (IPython tokenizes a cell in pure Python, far slower than an
  ``eval`` of the same request). :func:`call` runs one student function on decoded
  arguments, with numpy's random state set from the request and ``stdout``/
  ``stderr`` captured, and leaves the answer (plain data, base64 JSON) in
  ``answer``, which the same expression then reads;
  :func:`push` sets variables a visible test cell defined (so later student
  cells find them, as under Validate); :func:`fetch` reads variables that
  solution cells define;
- before each call puts back the numpy/builtins/utils functions that a
  submission replaced at the top level of a cell (:func:`restore`), so that a
  student's function meets the real numpy, as it did under the old guard.

**None of this is a security boundary.** A submission can replace this
module, answer anything, or never answer: the verdict is computed in the
grader, from the returned plain data only, with trusted code. Whatever this
module does, a submission cannot do more than make its functions return
values, which is what it is graded on. The restore only spares students a
numpy they broke by accident; it promises nothing against a submission that
patches numpy while its function runs.
"""

import base64
import contextlib
import functools
import importlib
import json
import sys
import traceback
import types

MODULE = "_course_grading"
PLAIN_MODULE = "_course_plaindata"
PROTECTED_MODULES = ("builtins", "numpy", "numpy.random", "numpy.linalg", "math", "random", "utils")
# Swapped by ipykernel around every execution (stdin forwarding): not a submission's doing.
VOLATILE = {("builtins", "input"), ("builtins", "raw_input"), ("getpass", "getpass")}
# Names of the notebook's namespace that must mean what the imports cell made them mean.
PROTECTED_BINDINGS = {"np": "numpy"}
MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_CHARS = 8000

answer = ""  # the latest answer (base64 JSON), read by the grader
_state = {}


# ----- output caps (every cell) ---------------------------------------------------------


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

    IPython wraps ``stream.write`` around every cell and puts the original back
    afterwards; so the cap goes on top at each cell's start (``pre_run_cell``).
    """

    def wrap(*_args, **_kwargs):
        for name in streams:
            stream = getattr(sys, name)
            stream.write = capped_write(stream.write, limit, note)

    get_ipython().events.register("pre_run_cell", wrap)  # noqa: F821 (defined in a kernel)
    return wrap


class CappedText:
    """A text stream that keeps at most ``limit`` characters (what a called function prints)."""

    def __init__(self, limit):
        self.limit, self.parts, self.used, self.cut = limit, [], 0, False

    def write(self, text):
        text = str(text)
        room = self.limit - self.used
        if len(text) > room:
            self.cut = True
            text = text[:max(room, 0)]
        self.parts.append(text)
        self.used += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def getvalue(self):
        note = f"\n[grader: output cut, the call printed more than {self.limit} characters]\n" if self.cut else ""
        return "".join(self.parts) + note


# ----- the restore courtesy ------------------------------------------------------------


def _worth_protecting(value):
    return callable(value) or isinstance(value, types.ModuleType)


def _snapshot():
    modules = {}
    for name in PROTECTED_MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception:  # a module that does not import is simply not protected
            continue
        modules[name] = mod
        if name == "utils":
            for sub_name, sub in list(sys.modules.items()):
                if sub_name.startswith("utils.") and isinstance(sub, types.ModuleType):
                    modules[sub_name] = sub
    saved = {name: (mod, {k: v for k, v in vars(mod).items() if _worth_protecting(v)}) for name, mod in modules.items()}
    utils_public = {}
    if "utils" in modules:
        u = modules["utils"]
        names = getattr(u, "__all__", None) or [n for n in vars(u) if not n.startswith("_")]
        utils_public = {n: getattr(u, n) for n in names if hasattr(u, n)}
    return modules, saved, utils_public


def restore():
    """Put back every protected function or module that changed; return the names restored."""
    modules, saved, utils_public = _state["modules"], _state["saved"], _state["utils_public"]
    ns, done, missing = _state["ns"], [], object()
    for name, (mod, values) in saved.items():
        if name in sys.modules and sys.modules[name] is not mod:
            sys.modules[name] = mod
            done.append(f"sys.modules[{name!r}]")
        current = vars(mod)
        for key, value in values.items():
            if (name, key) in VOLATILE or current.get(key, missing) is value:
                continue
            try:
                setattr(mod, key, value)
            except (AttributeError, TypeError):
                continue
            done.append(f"{name}.{key}")
    for key, module_name in PROTECTED_BINDINGS.items():
        if key in ns and module_name in modules and ns[key] is not modules[module_name]:
            ns[key] = modules[module_name]
            done.append(key)
    for key, value in utils_public.items():
        if key in ns and ns[key] is not value:
            ns[key] = value
            done.append(key)
    for attr in ("last_type", "last_value", "last_traceback", "last_exc"):  # frees what a failed cell held
        if hasattr(sys, attr):
            try:
                delattr(sys, attr)
            except AttributeError:
                pass
    return done


# ----- requests ------------------------------------------------------------------------


def _plain():
    return sys.modules[PLAIN_MODULE]


def _request(text):
    return json.loads(base64.b64decode(text))


def _answer(obj, req=None):
    global answer
    if req is not None:
        obj["nonce"] = req.get("nonce")
    answer = base64.b64encode(json.dumps(obj, separators=(",", ":")).encode("ascii")).decode("ascii")


def _error(exc, skip_frames=0):
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    if skip_frames and len(tb) > 1:  # drop this module's own frame(s)
        tb = tb[:1] + tb[1 + skip_frames:]
    return {"type": type(exc).__name__, "message": str(exc)[:MAX_MESSAGE_CHARS],
            "traceback": "".join(tb)[-MAX_TRACEBACK_CHARS:]}


def as_in_a_cell(op):
    """Run a request with the builtins a cell sees (IPython adds ``get_ipython`` and hides ``exit`` around each
    cell; a request is evaluated outside any cell), so a student's function meets what it met under Validate."""

    @functools.wraps(op)
    def run(text):
        shell = _state.get("shell")
        with shell.builtin_trap if shell is not None else contextlib.nullcontext():
            return op(text)

    return run


@as_in_a_cell
def call(text):
    """Run ``user_ns[name](*args, **kwargs)`` from a request; leave the answer in :data:`answer`."""
    pd, np = _plain(), sys.modules["numpy"]
    req = _request(text)
    _answer({"error": {"type": "RuntimeError", "message": "the grading stub failed", "traceback": ""}}, req)
    max_bytes = req["max_bytes"]
    dec = pd.Decoder(max_bytes=max_bytes)
    args, kwargs = dec.decode(req["args"])
    state = pd.decode(req["random_state"])
    restored = restore()
    out, err = CappedText(req["max_output"]), CappedText(req["max_output"])
    fn = _state["ns"].get(req["name"])
    result, error, stand_ins = None, None, {}
    try:
        np.random.set_state(state)
        if fn is None:
            raise NameError(f"name {req['name']!r} is not defined")
        module, stand_ins = make_stand_ins(req.get("stand_ins") or {}, pd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if stand_ins:  # the names of fn's module mean the stand-ins while it runs
                result = module.run_with_stand_ins(fn, stand_ins, *args, **kwargs)
            else:
                result = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: B036 (KeyboardInterrupt too: the grader interrupted a call)
        error = _error(exc, skip_frames=1)
    reply = {"stdout": out.getvalue(), "stderr": err.getvalue(), "restored": restored, "error": error}
    try:
        reply["random_state"] = pd.encode(pd.random_state())
        reply["value"] = pd.Encoder(origins=dec.numbers, max_bytes=max_bytes).encode((args, kwargs, result))
        if stand_ins:
            reply["records"] = pd.encode({name: obj.calls for name, obj in stand_ins.items()}, max_bytes=max_bytes)
    except pd.NotPlainData as exc:
        reply.pop("value", None)
        reply["error"] = error or {"type": "NotPlainData", "message": str(exc), "traceback": ""}
    _answer(reply, req)


STAND_INS_MODULE = "utils.stand_ins"  # the course's stand-ins (shipped with the notebook, readable by students)


def make_stand_ins(specs, pd):
    """(the stand-ins' module, ``{name: stand-in}``) from a request's ``{name: {"class": ..., "kwargs": ...}}``."""
    if not specs:
        return None, {}
    module = importlib.import_module(STAND_INS_MODULE)
    return module, {name: getattr(module, spec["class"])(**pd.decode(spec["kwargs"])) for name, spec in specs.items()}


@as_in_a_cell
def push(text):
    """Set variables (plain values, modules by name) and numpy's random state from a request."""
    pd = _plain()
    req = _request(text)
    ns = _state["ns"]
    ns.update(pd.decode(req["values"]))
    for name, module in req["modules"].items():
        try:
            ns[name] = importlib.import_module(module)
        except Exception:
            pass
    if req["random_state"] is not None:
        sys.modules["numpy"].random.set_state(pd.decode(req["random_state"]))
    _answer({"ok": True}, req)


@as_in_a_cell
def fetch(text):
    """Answer the plain values of the requested variables (and why the others were not sent)."""
    pd = _plain()
    req = _request(text)
    ns, values, unsent = _state["ns"], {}, {}
    for name in req["names"]:
        if name not in ns:
            continue
        try:
            pd.encode(ns[name], max_bytes=req["max_bytes"])
            values[name] = ns[name]
        except pd.NotPlainData as exc:
            unsent[name] = str(exc)
    _answer({"values": pd.encode(values, max_bytes=req["max_bytes"]), "unsent": unsent,
             "random_state": pd.encode(pd.random_state())}, req)


def install(ns, max_output_chars=0, shell=None):
    """Snapshot the protected modules, cap cell output; called once, in a cell, before the notebook's first cell."""
    modules, saved, utils_public = _snapshot()
    _state.update(ns=ns, modules=modules, saved=saved, utils_public=utils_public, shell=shell)
    if max_output_chars and max_output_chars > 0:
        cap_output(max_output_chars, f"\n[grader: output cut, this cell printed more than {max_output_chars} characters]\n")


# ----- what the grader sends -----------------------------------------------------------

INSTALL_CODE = (
    "def __course_install():\n"
    "    import sys as _s, types as _t\n"
    "    for _name, _src in (({plain_name!r}, {plain_src!r}), ({name!r}, {src!r})):\n"
    "        _m = _t.ModuleType(_name)\n"
    "        _s.modules[_name] = _m\n"
    "        exec(compile(_src, _name + '.py', 'exec'), _m.__dict__)\n"
    "    _s.modules[{name!r}].install(get_ipython().user_ns, {max_output_chars}, get_ipython())\n"
    "__course_install()\n"
    "del __course_install\n"
)
ANSWER_EXPR = f"__import__({MODULE!r}).answer"


def install_code(max_output_chars=0):
    """The code that installs this stub (and the plain-data codec) in a kernel."""
    # Imported here, in the grader: this file's source also runs in the kernel, where there is no package.
    from . import plaindata

    with open(__file__, encoding="utf-8") as f:
        src = f.read()
    with open(plaindata.__file__, encoding="utf-8") as f:
        plain_src = f.read()
    return INSTALL_CODE.format(plain_name=PLAIN_MODULE, plain_src=plain_src, name=MODULE, src=src,
                               max_output_chars=int(max_output_chars))


def request_expression(op, payload):
    """The expression of one request (``op`` is ``call``, ``push`` or ``fetch``; ``payload`` is JSON-able):
    it runs the request, then gives the answer it left in :data:`answer`."""
    text = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode("ascii")).decode("ascii")
    return f"[__import__({MODULE!r}).{op}({text!r}), {ANSWER_EXPR}][1]"
