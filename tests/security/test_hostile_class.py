"""A hostile class graded in one batch: every attack of tests/security/attacks/build.py, and two victims.

One module-scoped run grades the whole class with the course's ``grade``
batch (sandboxed kernels), with canaries in place: a token in the grader's
environment, an ssh key in the grader's home, a TCP listener on the
grading machine, a marker in the command line of every process an attack
starts. The tests then check the outcome of each attack and what must hold
for the whole class: victims keep full marks, attackers score what they
solved, course files and canaries unchanged, no survivors, bounded time,
nothing untrusted left in ``autograded/``, no secret in any output.
"""

import hashlib
import os
import socket
import stat
import threading
import time
import uuid

import nbformat
import pytest

from coursetools.grading import report
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from coursetools.security import untrusted
from tests.security.attacks import build as attacks

pytestmark = pytest.mark.slow


def digest(paths):
    out = {}
    for root in paths:
        for p in sorted([root] if root.is_file() else root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
    return out


class Listener(threading.Thread):
    """A TCP server on 127.0.0.1 that counts the connections it gets."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port, self.connections, self.stop = self.sock.getsockname()[1], 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()


def survivors(marker):
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any(marker in part for part in (p.info["cmdline"] or []))]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    home = attacks.make_home(base / "home")
    marker = f"attack-{uuid.uuid4().hex[:12]}"
    listener = Listener()
    listener.start()
    ctx = attacks.build_class(base / "course", {"home": home, "marker": marker, "port": listener.port})
    course = ctx.course
    layout = CourseLayout(course)
    protected = [layout.source(), layout.release(), layout.config, home / ".ssh"]
    before = digest(protected)
    env = {"HOME": str(home), "JUPYTERHUB_API_TOKEN": attacks.TOKEN, "GRADER_SECRET_KEY": attacks.TOKEN}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        t0 = time.monotonic()
        results = grade_batch(course, attacks.ASSIGNMENT, timeout_s=attacks.SUBMISSION_TIMEOUT_S,
                                      log=lambda *_: None)
        wall = time.monotonic() - t0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    time.sleep(1)
    listener.stop.set()
    print(f"\nhostile class: {len(results)} submissions graded in {wall:.1f} s")
    return {"ctx": ctx, "course": course, "home": home, "results": {r.student: r for r in results},
            "reports": report.grade_report(course, attacks.ASSIGNMENT), "before": before, "protected": protected,
            "marker": marker, "listener": listener, "wall": wall}


def _letters(row):
    codes = {v: k for k, v in attacks.zoo.LETTERS.items()}
    return f"{row['status']} " + "".join(codes[status] for _, status in row["cells"].values())


def test_every_attack_has_its_expected_outcome(hostile):
    got = {r.student: {"status": r.status, "cells": {c.cell: (c.score, c.status) for c in r.cells}, "total": r.score}
           for r in hostile["reports"]}
    expected = attacks.expected_table()
    assert sorted(got) == sorted(expected)
    wrong = [f"{name}: expected {_letters(expected[name])}, got {_letters(got[name])} "
             f"({hostile['results'][name].reason})" for name in expected if got[name] != expected[name]]
    assert not wrong, "\n".join(wrong)


def test_victims_keep_full_marks(hostile):
    totals = {r.student: r.score for r in hostile["reports"]}
    assert [totals[v] for v in attacks.VICTIMS] == [13, 13]


def test_course_files_and_the_graders_home_are_unchanged(hostile):
    assert digest(hostile["protected"]) == hostile["before"]
    assert list((hostile["home"] / ".ipython" / "profile_default" / "startup").iterdir()) == []


def test_no_process_survives_and_no_connection_left_the_sandbox(hostile):
    assert survivors(hostile["marker"]) == []
    assert hostile["listener"].connections == 0


def test_time_is_bounded(hostile):
    slack = 30
    slow = {s: r.seconds for s, r in hostile["results"].items() if r.seconds > attacks.SUBMISSION_TIMEOUT_S + slack}
    assert not slow
    assert "ran past" in hostile["results"]["ignores-interrupts"].reason


def test_nothing_untrusted_is_left_and_no_secret_reaches_an_output(hostile):
    root = CourseLayout(hostile["course"]).autograded()
    assert untrusted.scan(root, max_file_bytes=10 * 2**20) == []
    names = {str(p.relative_to(root)) for p in root.rglob("*")}
    assert not any(n.endswith(("leak.txt", "notes.txt", "big.bin", "pipe", "suid")) for n in names)
    for nb_path in root.rglob("*.ipynb"):
        nb = nbformat.read(nb_path, as_version=4)
        outputs = nbformat.writes(nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell(outputs=c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]))
        for canary in (attacks.TOKEN, attacks.SECRET, "POISONED UTILS", "BEGIN HIDDEN TESTS", "BEGIN SOLUTION"):
            assert canary not in outputs, f"{canary!r} in the outputs of {nb_path}"
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert attacks.SECRET.encode() not in data and attacks.TOKEN.encode() not in data, path


def test_a_fork_bomb_is_held_by_the_process_cap(hostile):
    nb = nbformat.read(CourseLayout(hostile["course"]).autograded("fork-bomb", attacks.ASSIGNMENT) / attacks.NOTEBOOK,
                       as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    seen = int(text.split("bomb processes:")[1].split()[0])
    assert 10 < seen <= attacks.MAX_PROCESSES


def test_invalid_submissions_say_why(hostile):
    r = hostile["results"]["symlinked-notebook"]
    assert "symbolic link" in r.reason
    notes = " ".join(hostile["results"]["symlinked-notes"].notes)
    assert "notes.txt" in notes and "symbolic link" in notes
    assert "pipe" in " ".join(hostile["results"]["submitted-fifo"].notes)
