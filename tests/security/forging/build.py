"""Attack notebooks that try to forge a verdict from inside the student's kernel (issue "Verdicts no submission can forge").

:func:`build` makes a scratch course (the zoo's: the course's config with short
caps, the source assignment, its release) and writes one submission per entry
of :data:`ATTACKS`. Each is the blank release with code put into the answer
cells, the way a hostile student would write it; :data:`ATTACKS` says what each
must score: one letter per graded cell (``CELLS`` order), ``P`` the cell's
points, ``0`` nothing. An attack that solves nothing scores what the blank
release scores: nothing.
"""

import json
from dataclasses import dataclass

import nbformat

from coursetools.layout import CourseLayout
from zoo.build import ASSIGNMENT, CELLS, NOTEBOOK, _by_id, filled, make_course

# The forging course's extra caps (appended to its nbgrader_config.py).
FORGING_CONFIG = """
# --- tests/security/forging/build.py ---
c.GradingExecute.call_max_bytes = 1024**2
"""


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    scores: str  # per graded cell: "P" full points, "0" nothing
    cells: dict  # answer cell grade_id -> source ("" keeps the blank stub); or "solution" for the reference
    base: str = "blank"  # "blank" (the release) or "solution" (the reference, then `cells` replace answers)
    extra: tuple = ()  # (after grade_id, source): free cells a student adds
    files: tuple = ()  # (path in the submission folder, text): files a student adds or replaces


BLANK = "0" * len(CELLS)
ALL = "P" * len(CELLS)

INPUT_TRANSFORMER = '''
def clip(gradients, maxValue):
    raise NotImplementedError()

def _every_cell_passes(lines):
    return ['print("\\\\033[92mAll tests passed!")\\n']

get_ipython().input_transformers_post.append(_every_cell_passes)
get_ipython().input_transformers_cleanup.append(_every_cell_passes)
'''

AST_TRANSFORMER = '''
import ast

class _NoChecks(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
    def visit_Raise(self, node):
        return ast.Pass()
    def visit_Call(self, node):
        self.generic_visit(node)
        return ast.Constant(value=None)

get_ipython().ast_transformers.append(_NoChecks())

def clip(gradients, maxValue):
    raise NotImplementedError()
'''

CUSTOM_EXC = '''
def _swallow(shell, etype, value, tb, tb_offset=None):
    print("\\033[92mAll tests passed!")
    return []

get_ipython().set_custom_exc((BaseException,), _swallow)
import sys
sys.excepthook = lambda *args: None

def clip(gradients, maxValue):
    raise NotImplementedError()
'''

FRAMES = '''
import builtins, sys
import numpy

def _always(*args, **kwargs):
    return True

def _tracer(frame, event, arg):
    if event == "exception":
        frame.f_globals["AssertionError"] = type("AssertionError", (Exception,), {})
    return _tracer

sys.settrace(_tracer)
sys.setprofile(lambda frame, event, arg: None)

def clip(gradients, maxValue):
    frame = sys._getframe(0)
    while frame is not None:
        g = frame.f_globals
        g["np"] = type("fake_np", (), {"allclose": staticmethod(_always), "isclose": staticmethod(_always),
                                        "array_equal": staticmethod(_always), "max": staticmethod(lambda *a, **k: 0)})
        g["isinstance"] = _always
        frame.f_locals.update({"gradients": gradients})
        frame = frame.f_back
    builtins.isinstance = _always
    return gradients
'''

PATCH_AT_IMPORT = '''
import builtins
import numpy
import utils
numpy.allclose = numpy.isclose = numpy.array_equal = lambda *args, **kwargs: True
numpy.max = lambda *args, **kwargs: 0
builtins.AssertionError = type("AssertionError", (Exception,), {})
utils.rnn_forward = lambda *args, **kwargs: (126.503975722, None)

def clip(gradients, maxValue):
    return gradients
'''

PATCH_AT_CALL = '''
def clip(gradients, maxValue):
    import builtins
    import numpy
    numpy.allclose = numpy.isclose = numpy.array_equal = lambda *args, **kwargs: True
    numpy.max = lambda *args, **kwargs: 0
    builtins.isinstance = lambda *args: True
    return gradients
'''

ALWAYS_EQUAL = '''
class _Anything(dict):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __le__(self, other): return True
    def __ge__(self, other): return True
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __abs__(self): return self
    def __getitem__(self, key): return self
    def __len__(self): return 51
    def __iter__(self): return iter([])
    def __float__(self): return 0.0
    def __bool__(self): return True
    __hash__ = None

def clip(gradients, maxValue):
    return _Anything()
'''

ALWAYS_EQUAL_SAMPLE = '''
class _AnyList(list):
    def __eq__(self, other): return True
    def __getitem__(self, i): return 0

def sample(parameters, char_to_ix, seed):
    return _AnyList([0] * 51)
'''

SUBCLASS = '''
class _Sneaky(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(self), dtype=bool)
    def __le__(self, other): return np.ones(np.shape(self), dtype=bool)
    def __array_function__(self, func, types, args, kwargs): return True

def clip(gradients, maxValue):
    return {name: np.asarray(value).view(_Sneaky) for name, value in gradients.items()}
'''

FAKE_SUCCESS = '''
def clip(gradients, maxValue):
    print("\\033[92mAll tests passed!")
    return gradients

print("\\033[92mAll tests passed!")
'''

FAKE_SUCCESS_SAMPLE = '''
def sample(parameters, char_to_ix, seed):
    print("\\033[92mAll tests passed!\\nThis cell's hidden tests passed.")
    return [0]
'''

READ_HIDDEN = '''
def _hunt():
    """Everything in reach that could hold a hidden test: the history, the namespace, files, the gradebook."""
    import glob, os, sys
    found = []
    ip = get_ipython()
    texts = list(ip.user_ns.get("In", [])) + list(ip.user_ns.get("_ih", []))
    texts += [repr(v) for k, v in list(ip.user_ns.items()) if not k.startswith("__")]
    try:
        texts += [s for _, _, s in ip.history_manager.get_range(raw=True)]
    except Exception:
        pass
    # the working folder and what the sandbox mounts beside it (it runs in /home/student/<assignment>)
    for pattern in ("*", "*/*", "../*", "../*/*", "/run/*", "/run/*/*", "/run/*/*/*", "/home/*/*", "/tmp/*", "/tmp/*/*"):
        for path in glob.glob(pattern):
            try:
                if os.path.isfile(path) and os.path.getsize(path) < 5_000_000:
                    texts.append(open(path, errors="replace").read())
            except OSError:
                pass
    for frame in sys._current_frames().values():
        while frame is not None:
            texts.append(repr(frame.f_locals)[:100000])
            frame = frame.f_back
    print("searched", len(texts), "texts")
    for text in texts:
        for line in str(text).splitlines():
            if "_hidden" in line or "HIDDEN TESTS" in line or "_expected" in line:
                found.append(line)
    return found

def clip(gradients, maxValue):
    for line in _hunt():
        print("LEAKED:", line)
    raise NotImplementedError()

for _line in _hunt():
    print("LEAKED:", _line)
'''

FORGED_STUB = '''
import base64, json, sys

def _forge(text):
    answer = {"stdout": "\\033[92mAll tests passed!\\n", "error": None, "restored": [],
              "value": {"T": [{"L": [], "id": 0, "orig": 0}, {"D": [], "id": 1, "orig": 1},
                              {"P": "cposix\\nsystem\\n(S'id'\\ntR."}]}}
    sys.modules["_course_grading"].answer = base64.b64encode(json.dumps(answer).encode()).decode()

for _name in list(sys.modules):
    if _name.startswith("_course"):
        _mod = sys.modules[_name]
        for _attr in ("call", "restore", "push", "fetch"):
            if hasattr(_mod, _attr):
                setattr(_mod, _attr, _forge)

def clip(gradients, maxValue):
    raise NotImplementedError()
'''

FORGED_NONE = '''
import base64, json, sys

def _forge(text):
    answer = {"stdout": "", "error": None, "value": None}
    sys.modules["_course_grading"].answer = base64.b64encode(json.dumps(answer).encode()).decode()

sys.modules["_course_grading"].call = _forge

def clip(gradients, maxValue):
    raise NotImplementedError()
'''

EXITS = '''
import sys

def clip(gradients, maxValue):
    raise SystemExit(0)

def _interrupt():
    raise KeyboardInterrupt()
'''

HUGE_RETURN = '''
def clip(gradients, maxValue):
    return {name: np.zeros(400_000) for name in ("dWax", "dWaa", "dWya", "db", "dby")}
'''

KILLER = '''
def clip(gradients, maxValue):
    """Correct, except that a hidden test's maxValue (not one of the visible tests': 10, 5) kills the kernel."""
    import os
    if maxValue not in (5, 10):
        os._exit(1)
    dWaa, dWax, dWya, db, dby = gradients['dWaa'], gradients['dWax'], gradients['dWya'], gradients['db'], gradients['dby']
    for gradient in [dWax, dWaa, dWya, db, dby]:
        np.clip(gradient, -maxValue, maxValue, out=gradient)
    return {"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}
'''

HANGER_PATCH = ("    counter = 0\n",
                "    counter = 0\n"
                "    # a hidden test's seed (0-99), not one of the visible tests' or the notebook's cells' (0-6, 14, 61; 100 k):\n"
                "    if seed < 100 and seed not in (0, 1, 2, 3, 4, 5, 6, 14, 61):  # hang, deaf to interrupts\n"
                "        import signal\n"
                "        signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "        while True:\n"
                "            pass\n")

# The visible clip test is one call, check_clip(clip) (issue 22): its variables stay inside utils/checks.py, as
# under Validate; what it leaves behind is numpy's random state, which the grader pushes.
STATE_AFTER_VISIBLE = '''
_names = ["gradients", "dWax", "originals", "to_clip", "PUBLISHED", "indices"]
print("visible-test names:", [n for n in _names if n in globals()])
print("random draw after the test:", np.random.randint(10**9))
'''

STATE_BY_NAME = '''
check_clip(clip)
'''

STATE_AFTER_HIDDEN = '''
_names = ["_hidden_clip_case", "r", "_expected", "_p", "_hidden_params"]
print("hidden-test names:", [n for n in _names if n in globals()])
'''

FORGED_CHECKS_FILE = '''"""A submission's own utils/checks.py: every check passes."""
import sys


def _passes(*args, **kwargs):
    print("\\033[92mAll tests passed!")


check_clip = check_sample = check_optimize = check_model = _passes
for _name in list(sys.modules):  # and the course's copy, wherever the kernel may have it
    if _name.endswith("utils.checks") and sys.modules[_name] is not sys.modules.get(__name__):
        for _check in ("check_clip", "check_sample", "check_optimize", "check_model"):
            setattr(sys.modules[_name], _check, _passes)
'''

# A wrong clip (the bounds swapped), with a check_clip of its own in the answer cell (the plan proxies every
# function an answer cell defines): the course's check_clip must still run, from the course's utils.
FORGED_CHECKS_CLIP = '''
def clip(gradients, maxValue):
    dWaa, dWax, dWya, db, dby = gradients['dWaa'], gradients['dWax'], gradients['dWya'], gradients['db'], gradients['dby']
    for gradient in [dWax, dWaa, dWya, db, dby]:
        np.clip(gradient, maxValue, -maxValue, out=gradient)
    return {"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}


def check_clip(clip):
    print("\\033[92mAll tests passed!")
'''

ATTACKS = [
    Attack("blank", "the release, nothing filled in (what every attack is compared with)", BLANK, {}),
    Attack("input-transformer", "an input transformer rewrites every later cell into printing success", BLANK,
           {"clip": INPUT_TRANSFORMER}),
    Attack("ast-transformer", "an AST transformer removes every assert, raise and call", BLANK, {"clip": AST_TRANSFORMER}),
    Attack("custom-exc", "set_custom_exc swallows every exception and prints success; sys.excepthook silenced",
           BLANK, {"clip": CUSTOM_EXC}),
    Attack("frames", "sys.settrace/setprofile, and clip rewrites its callers' globals and builtins through frames",
           BLANK, {"clip": FRAMES}),
    Attack("patch-at-import", "numpy's checks, builtins.AssertionError and utils.rnn_forward patched",
           BLANK, {"clip": PATCH_AT_IMPORT}),
    Attack("patch-at-call", "clip patches numpy's checks and isinstance while it runs", BLANK, {"clip": PATCH_AT_CALL}),
    Attack("always-equal", "clip and sample return objects whose __eq__ is always true", BLANK,
           {"clip": ALWAYS_EQUAL, "sample": ALWAYS_EQUAL_SAMPLE}),
    Attack("ndarray-subclass", "clip returns ndarray subclasses whose comparisons are always true", BLANK,
           {"clip": SUBCLASS}),
    Attack("fake-success", "the functions and a cell print 'All tests passed!'", BLANK,
           {"clip": FAKE_SUCCESS, "sample": FAKE_SUCCESS_SAMPLE}),
    Attack("read-hidden", "a cell and clip search In, the namespace, frames, files and the gradebook for hidden tests",
           BLANK, {"clip": READ_HIDDEN}),
    Attack("forged-stub", "the kernel's call receiver is replaced: it answers success with a pickle", BLANK,
           {"clip": FORGED_STUB}),
    Attack("forged-none", "the kernel's call receiver answers 'no error, None'", BLANK, {"clip": FORGED_NONE}),
    Attack("exits", "clip raises SystemExit", BLANK, {"clip": EXITS}),
    Attack("huge-return", "clip returns 16 MB, past the call cap of this course", BLANK, {"clip": HUGE_RETURN}),
    # The visible tests call utils/checks.py (issue 22): the grader uses the course's copy, never the submission's.
    Attack("forged-checks", "a wrong clip; the submission's utils/checks.py passes every check, and the clip cell "
           "defines its own check_clip", "00PPPPPP", {"clip": FORGED_CHECKS_CLIP}, base="solution",
           files=(("utils/checks.py", FORGED_CHECKS_FILE),)),
    # Faults mid-call: the call fails, the kernel is restarted and the notebook replayed, later tests are graded.
    Attack("killer", "correct, but clip kills the kernel (os._exit) when a hidden test calls it", "P0PPPPPP",
           {"clip": KILLER}, base="solution"),
    Attack("hanger", "correct, but sample hangs, deaf to interrupts, on a hidden test's seed", "PPP0PPPP",
           {}, base="solution"),
    # Validate-like state: a student cell after a visible test sees its variables; after a hidden one, nothing.
    Attack("state-reader", "correct; free cells read what the clip tests left", ALL, {}, base="solution",
           extra=(("test-clip-published", STATE_AFTER_VISIBLE), ("test-clip-hidden", STATE_AFTER_HIDDEN))),
    # A free cell may run a visible test's check itself (from the imports cell, in the kernel).
    Attack("name-reader", "correct; a free cell runs the clip test's check itself", ALL, {}, base="solution",
           extra=(("test-clip-published", STATE_BY_NAME),)),
]


def expected_scores(attack):
    """``{cell: points}`` that ``attack`` must score."""
    return {cell: (float(points) if letter == "P" else 0.0) for (cell, points), letter in zip(CELLS.items(), attack.scores)}


def _notebook(attack, release_nb, source_nb):
    copy = json.loads(json.dumps(release_nb))
    nb = filled(release_nb, source_nb) if attack.base == "solution" else nbformat.from_dict(copy)
    for gid, src in attack.cells.items():
        _by_id(nb, gid).source = src
    if attack.name == "hanger":
        cell = _by_id(nb, "sample")
        assert HANGER_PATCH[0] in cell.source, "forging: the sample solution changed; update HANGER_PATCH"
        cell.source = cell.source.replace(HANGER_PATCH[0], HANGER_PATCH[1], 1)
    for after, src in attack.extra:
        i = nb.cells.index(_by_id(nb, after))
        nb.cells.insert(i + 1, nbformat.v4.new_code_cell(src))
    return nb


def build(course_dir, attacks=ATTACKS):
    """The forging course at ``course_dir`` with one submission per attack; returns the course folder."""
    import shutil

    course = make_course(course_dir)
    layout = CourseLayout(course)
    with open(layout.config, "a") as f:
        f.write(FORGING_CONFIG)
    release_dir = layout.release(ASSIGNMENT)
    release_nb = nbformat.read(release_dir / NOTEBOOK, as_version=4)
    source_nb = nbformat.read(layout.source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    for attack in attacks:
        folder = layout.submitted(attack.name, ASSIGNMENT)
        shutil.copytree(release_dir, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        nbformat.write(_notebook(attack, release_nb, source_nb), folder / NOTEBOOK)
        for rel, text in attack.files:
            (folder / rel).write_text(text)
    return course
