"""`nbgrader collect` with the course's exchange (coursetools/plugins/exchange.py): a submission is its Unix
owner's whatever its name says, its time is the server's, and only its plain files are copied.

Run as root, like the hub's grader service; the "students" are system accounts that own the folders.
Stock nbgrader's collect is run on the same exchange first, to show each attack working there.
"""

import datetime
import os
import pwd

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook

from coursetools.course import CONFIG_STUB, run_nbgrader
from coursetools.layout import CourseLayout
from coursetools.settings import COURSE, COURSE_ID

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="the students are Unix accounts: chown needs root")]

ASSIGNMENT = "ps"
ALICE, MALLORY, EVE = "daemon", "bin", "sys"  # three accounts every Debian machine has
STOCK = "nbgrader.exchange.default.collect.ExchangeCollect"


def notebook(text):
    return nbformat.writes(new_notebook(cells=[new_code_cell(f"print({text!r})")]))


def hand_in(inbound, owner, name, files, links=()):
    """An inbound folder ``name`` owned by ``owner`` holding ``files`` ({name: text}) and ``links``."""
    folder = inbound / name
    folder.mkdir()
    for rel, text in files.items():
        (folder / rel).write_text(text)
    for rel, target in links:
        (folder / rel).symlink_to(target)
    pw = pwd.getpwnam(owner)
    for path in [folder, *folder.iterdir()]:
        os.lchown(path, pw.pw_uid, pw.pw_gid)
    return folder


def course_with_exchange(root, exchange):
    course = CourseLayout(root)
    root.mkdir()
    course.config.write_text(CONFIG_STUB.format(config=str(COURSE.config))
                             + f"c.Exchange.root = {str(exchange)!r}\n")
    with Gradebook(f"sqlite:///{course.gradebook}", COURSE_ID) as gb:
        gb.add_assignment(ASSIGNMENT)
    os.chmod(course.gradebook, 0o600)
    return course


def collect(course, *extra):
    return run_nbgrader(["collect", ASSIGNMENT, *extra], course.root, check=False)


@pytest.fixture
def exchange(tmp_path):
    """An exchange in which Alice handed in honestly and Mallory attacked (before any collect)."""
    root = tmp_path / "exchange"
    inbound = root / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    os.chmod(inbound, 0o2733)
    course = course_with_exchange(tmp_path / "course", root)
    hand_in(inbound, ALICE, f"{ALICE}+{ASSIGNMENT}+2026-12-01 10:00:00.000000 UTC+a1",
            {"A.ipynb": notebook("alice's work"), "timestamp.txt": "2026-12-01 10:00:00.000000 UTC"})
    # Mallory: a folder named for Alice with a later time, and in her own name a back-dated one with a link
    # to the gradebook (readable by the grader only) and a link to Alice's folder.
    hand_in(inbound, MALLORY, f"{ALICE}+{ASSIGNMENT}+2026-12-02 10:00:00.000000 UTC+m1", {"A.ipynb": notebook("mallory's")})
    hand_in(inbound, MALLORY, f"{MALLORY}+{ASSIGNMENT}+2000-01-01 00:00:00.000000 UTC+m2",
            {"A.ipynb": notebook("mallory's own"), "timestamp.txt": "2000-01-01 00:00:00.000000 UTC"},
            links=[("gradebook.db", course.gradebook), ("alice", inbound / f"{ALICE}+{ASSIGNMENT}+2026-12-01 10:00:00.000000 UTC+a1")])
    (inbound / f"{EVE}+{ASSIGNMENT}+2026-12-01 10:00:00.000000 UTC+e1").symlink_to(tmp_path)  # an entry that is a link
    root_owned = inbound / f"{EVE}+{ASSIGNMENT}+2026-12-01 11:00:00.000000 UTC+e2"
    root_owned.mkdir()
    (root_owned / "A.ipynb").write_text(notebook("planted as root"))
    return root, course


def printed(folder):
    return nbformat.read(folder / "A.ipynb", as_version=4).cells[0].source


def test_stock_collect_believes_the_names_and_follows_links(tmp_path, exchange):
    root, _ = exchange
    course = course_with_exchange(tmp_path / "stock", root)
    proc = collect(course, f"--ExchangeFactory.collect={STOCK}")
    assert proc.returncode == 0, proc.stderr
    assert "mallory's" in printed(course.submitted(ALICE, ASSIGNMENT))  # Alice's grade is Mallory's to set
    assert (course.submitted(MALLORY, ASSIGNMENT) / "gradebook.db").is_file()  # the grader copied its gradebook
    assert course_timestamp(course.submitted(MALLORY, ASSIGNMENT)).year == 2000  # and Mallory chose her time


def test_collect_records_the_owner_the_servers_time_and_plain_files_only(tmp_path, exchange):
    root, course = exchange
    inbound = root / COURSE_ID / "inbound"
    fifo = inbound / f"{MALLORY}+{ASSIGNMENT}+2000-01-01 00:00:00.000000 UTC+m2" / "pipe"
    os.mkfifo(fifo)  # a copy that opened it would wait forever
    os.lchown(fifo, pwd.getpwnam(MALLORY).pw_uid, -1)
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=5)

    proc = collect(course)
    assert proc.returncode == 0, proc.stderr
    log = proc.stdout + proc.stderr
    alice, mallory = course.submitted(ALICE, ASSIGNMENT), course.submitted(MALLORY, ASSIGNMENT)
    assert "alice's work" in printed(alice), "a folder named for Alice but Mallory's must not replace Alice's"
    assert "mallory's" in printed(mallory)  # Mallory's newest hand-in is hers, whatever its name
    assert sorted(p.name for p in alice.iterdir()) == ["A.ipynb", "timestamp.txt"]
    assert sorted(p.name for p in mallory.iterdir()) == ["A.ipynb", "timestamp.txt"]  # no link, no fifo
    assert sorted(p.name for p in course.submitted().iterdir()) == sorted([ALICE, MALLORY])  # no Eve: a link, root's
    for folder in (alice, mallory):
        stamp = course_timestamp(folder)
        assert stamp >= before, f"{folder.name}: {stamp} is not the server's time of the hand-in"
    assert f"named for '{ALICE}' but was handed in by '{MALLORY}'" in log
    assert "not a folder" in log and "owned by root" in log


def test_collect_of_one_student_goes_by_owner(tmp_path, exchange):
    _, course = exchange
    proc = collect(course, f"--student={ALICE}")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in course.submitted().iterdir()] == [ALICE]
    assert "alice's work" in printed(course.submitted(ALICE, ASSIGNMENT))


def course_timestamp(folder):
    from nbgrader.utils import parse_utc

    return parse_utc((folder / "timestamp.txt").read_text().strip())
