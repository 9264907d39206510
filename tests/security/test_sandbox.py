"""The grading sandbox (coursetools/security/sandbox.py) and untrusted folders (coursetools/security/untrusted.py).

The quick tests check the command line and the folder handling; the slow ones
start real sandboxed kernels (the grading kernel manager, as nbgrader does)
and check, from inside, what a submission can and cannot do.
"""

import os
import re
import stat
import sys
import textwrap
import time
import uuid

import nbformat
import pytest

from coursetools.kernel import LAUNCHER
from coursetools.layout import CourseLayout
from coursetools.security import font_cache, sandbox, untrusted

MiB = 1024**2


def test_env_allow_list_drops_tokens_and_jupyter_variables():
    launch_env = {"LANG": "C.UTF-8", "NBGRADER_EXECUTION": "autograde", "JPY_PARENT_PID": "12",
                  "JUPYTERHUB_API_TOKEN": "secret", "GITHUB_TOKEN": "secret", "AWS_SECRET_ACCESS_KEY": "secret",
                  "HOME": "/root", "PATH": "/secret/bin", "PYTHONPATH": "/course"}
    env = sandbox.sandbox_env(launch_env, extra=("MY_API_KEY", "COURSE_COLOUR"))
    assert env == {"LANG": "C.UTF-8", "NBGRADER_EXECUTION": "autograde"}


def test_the_machine_s_openblas_kernel_choice_reaches_the_sandbox():
    """Machines may pin OpenBLAS's kernel; the sampler is chaotic, so the grading kernel must use the same one."""
    launch_env = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "524288"}
    assert sandbox.sandbox_env(launch_env) == launch_env


def _command(tmp_path, **kw):
    course = tmp_path / "course"
    cwd = CourseLayout(course).submitted("alice", "hw")
    cwd.mkdir(parents=True)
    source = CourseLayout(course).source("hw")
    (source / "utils").mkdir(parents=True)
    (source / "data").mkdir()
    (source / "hw.ipynb").write_text("{}")
    (source / ".ipynb_checkpoints").mkdir()
    conn = tmp_path / "conn"
    conn.mkdir()
    (conn / "kernel.json").write_text("{}")
    launcher = str(LAUNCHER)
    cmd = sandbox.bwrap_command([sys.executable, launcher, "--memory", "1", "--", sys.executable, "-m", "ipykernel_launcher"],
                                cwd=str(cwd), connection_dir=str(conn), connection_file=str(conn / "kernel.json"),
                                stage_dir=str(tmp_path / "stage"),
                                source_dir=str(source), ignore=[".ipynb_checkpoints"],
                                hidden=[str(course)], launch_env={"JPY_PARENT_PID": "1", "LANG": "C"},
                                userns_fd=99 if os.geteuid() == 0 else None, **kw)
    return cmd, course, cwd, conn


def _pairs(cmd, flag):
    return [(cmd[i + 1], cmd[i + 2]) for i, a in enumerate(cmd) if a == flag]


def test_bwrap_command_isolates_the_kernel(tmp_path):
    cmd, course, cwd, conn = _command(tmp_path)
    sep = cmd.index("--")
    opts = cmd[:sep]
    for flag in ("--unshare-pid", "--unshare-net", "--die-with-parent", "--clearenv", "--new-session"):
        assert flag in opts
    uid = opts[opts.index("--uid") + 1]
    if os.geteuid() == 0:  # root: bwrap sets up as root of a namespace mapping 65534; the launcher drops to it
        assert uid == "0" and "--userns" in opts and cmd[cmd.index("--drop-to") + 1] == "65534"
    else:
        assert uid == "65534" and "--unshare-user" in opts and "--drop-to" not in cmd
    # nothing is mounted from the course folder: the submission and the trusted files are staged first
    stage = tmp_path / "stage"
    inside = "/home/student/hw"
    sources = [s for s, _ in _pairs(opts, "--ro-bind") + _pairs(opts, "--bind")]
    assert not any(s.startswith(str(course)) for s in sources)
    assert not any(str(course) in a for a in cmd)
    assert (str(stage / "submission"), sandbox.INSIDE_SUBMISSION) in _pairs(opts, "--ro-bind")
    assert (str(stage / "course" / "utils"), f"{inside}/utils") in _pairs(opts, "--ro-bind")
    assert (str(stage / "course" / "data"), f"{inside}/data") in _pairs(opts, "--ro-bind")
    assert (str(stage / "launch.py"), sandbox.INSIDE_LAUNCHER) in _pairs(opts, "--ro-bind")
    assert sorted(os.listdir(stage / "course")) == ["data", "utils"]
    assert not any(d.endswith(".ipynb") or ".ipynb_checkpoints" in d for _, d in _pairs(opts, "--ro-bind"))
    assert _pairs(opts, "--bind") == [(str(conn), str(conn))]
    # the working folder is a size-capped tmpfs at a neutral path, mounted after the submission's read-only copy
    i = [j for j, a in enumerate(opts) if a == "--tmpfs" and opts[j + 1] == inside][0]
    assert opts[i - 2] == "--size" and int(opts[i - 1]) == sandbox.SCRATCH_BYTES
    assert opts.index(sandbox.INSIDE_SUBMISSION) < i
    assert opts[opts.index("--chdir") + 1] == inside and ["--remount-ro", "/"] == opts[opts.index("--chdir") - 2:opts.index("--chdir")]
    env = dict(_pairs(opts, "--setenv"))
    assert env["HOME"] == inside and "JPY_PARENT_PID" not in env and env["LANG"] == "C"
    # the launcher (its staged copy) copies the submission into the scratch folder, skips the trusted entries, caps processes
    tail = cmd[sep + 1:]
    assert tail[1] == sandbox.INSIDE_LAUNCHER
    assert tail[tail.index("--scratch-into") + 1] == inside
    assert sorted(tail[i + 1] for i, a in enumerate(tail) if a == "--scratch-skip") == ["data", "utils"]
    assert int(tail[tail.index("--processes") + 1]) == sandbox.MAX_PROCESSES


def test_bwrap_command_hands_the_kernel_matplotlib_s_font_list(tmp_path):
    """The font list is mounted read-only, copied by the launcher into a writable MPLCONFIGDIR in /tmp."""
    fonts_dir = tmp_path / "fonts"
    fonts_dir.mkdir()
    cmd, *_ = _command(tmp_path, font_cache=fonts_dir)
    sep = cmd.index("--")
    opts, tail = cmd[:sep], cmd[sep + 1:]
    assert (str(tmp_path / "stage" / "matplotlib"), font_cache.INSIDE) in _pairs(opts, "--ro-bind")
    assert (font_cache.INSIDE, font_cache.KERNEL_MPLCONFIGDIR) in _pairs(tail, "--seed")
    assert dict(_pairs(opts, "--setenv"))["MPLCONFIGDIR"] == font_cache.KERNEL_MPLCONFIGDIR
    (tmp_path / "none").mkdir()
    plain, *_ = _command(tmp_path / "none")
    assert "--seed" not in plain and font_cache.INSIDE not in plain


def test_missing_bwrap_says_why_and_what_to_do():
    with pytest.raises(sandbox.SandboxUnavailable) as err:
        sandbox.check_available("no-such-bwrap-here")
    msg = str(err.value)
    assert "not installed" in msg and "apt-get install bubblewrap" in msg and "--unsafe-no-sandbox" in msg


# ----- untrusted folders ---------------------------------------------------------------------


@pytest.fixture
def hostile_folder(tmp_path):
    secret = tmp_path / "secret.key"
    secret.write_text("PRIVATE")
    secret.chmod(0o600)
    src = tmp_path / "sub"
    (src / "data").mkdir(parents=True)
    (src / "nb.ipynb").write_text("{}")
    (src / "data" / "ok.txt").write_text("fine")
    os.symlink(secret, src / "notes.txt")
    os.symlink(tmp_path, src / "data" / "up")
    os.mkfifo(src / "pipe")
    (src / "shared.txt").write_text("x")
    os.link(src / "shared.txt", tmp_path / "outside-link")
    (src / "suid").write_text("x")
    (src / "suid").chmod(0o4755)
    with open(src / "big.bin", "wb") as f:
        f.truncate(untrusted.MAX_FILE_BYTES + 1)
    return src, secret


def test_scan_names_every_untrusted_entry(hostile_folder):
    src, _ = hostile_folder
    found = {d.path: d.why for d in untrusted.scan(src)}
    assert set(found) == {"notes.txt", "data/up", "pipe", "shared.txt", "suid", "big.bin"}
    assert "symbolic link" in found["notes.txt"] and "fifo" in found["pipe"] and "hard link" in found["shared.txt"]
    assert "set-user-id" in found["suid"] and "too large" in found["big.bin"]


def test_safe_copy_keeps_plain_files_only_and_never_blocks(hostile_folder, tmp_path):
    src, secret = hostile_folder
    dest = tmp_path / "copy"
    dropped = untrusted.safe_copy(src, dest)
    assert {d.path for d in dropped} == {"notes.txt", "data/up", "pipe", "shared.txt", "suid", "big.bin"}
    kept = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert kept == ["data", "data/ok.txt", "nb.ipynb"]
    assert all(not (p.stat().st_mode & (stat.S_ISUID | stat.S_ISGID)) for p in dest.rglob("*"))
    assert os.path.islink(src / "notes.txt")  # the source is not changed


def test_sanitize_removes_links_without_touching_their_targets(hostile_folder):
    src, secret = hostile_folder
    dropped = untrusted.sweep(src)
    assert {d.path for d in dropped} == {"notes.txt", "data/up", "pipe", "shared.txt", "suid", "big.bin"}
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*")) == ["data", "data/ok.txt", "nb.ipynb"]
    assert secret.read_text() == "PRIVATE" and stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_symlinked_notebook_is_an_invalid_submission(tmp_path):
    (tmp_path / "victim.ipynb").write_text("{}")
    os.symlink(tmp_path / "victim.ipynb", tmp_path / "hw.ipynb")
    problem = untrusted.notebook_problem(tmp_path, "hw.ipynb")
    assert "symbolic link" in problem and "invalid submission" in problem
    assert untrusted.notebook_problem(tmp_path, "victim.ipynb") is None
    assert untrusted.notebook_problem(tmp_path, "missing.ipynb") is None


# ----- real sandboxed kernels ------------------------------------------------------------------


def _course(tmp_path):
    """A minimal course folder: source/hw/ with a trusted utils package, and alice's submission."""
    course = tmp_path / "course"
    layout = CourseLayout(course)
    (layout.source("hw") / "utils").mkdir(parents=True)
    (layout.source("hw") / "utils" / "__init__.py").write_text("TRUSTED = True\n")
    layout.gradebook.write_text("not a real gradebook")
    sub = layout.submitted("alice", "hw")
    (sub / "utils").mkdir(parents=True)
    (sub / "utils" / "__init__.py").write_text("TRUSTED = False\n")
    (sub / "notes.txt").write_text("my notes")
    return course, sub


def run_cells(course, cwd, cells, memory=1536 * MiB, timeout=60, **sandbox_config):
    """Execute ``cells`` with the grading kernel manager in ``cwd``; return (outputs per cell, error or None, manager)."""
    from nbclient import NotebookClient
    from traitlets.config import Config

    from coursetools.plugins.execute import CappedKernelManager

    c = Config()
    c.CourseDirectory.root = str(course)
    c.CappedKernelManager.memory_limit_bytes = memory
    for key, value in sandbox_config.items():
        setattr(c.Sandbox, key, value)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in cells])
    client = NotebookClient(nb, kernel_manager_class=CappedKernelManager, timeout=timeout, config=c, allow_errors=True,
                            interrupt_on_timeout=True, resources={"metadata": {"path": str(cwd)}})
    error = None
    try:
        client.execute()
    except Exception as exc:  # a dead kernel
        error = exc
    outs = []
    for cell in nb.cells:
        outs.append("".join(o.get("text", "") or str(o.get("evalue", "")) or str(o.get("data", "")) for o in cell.get("outputs", [])))
    return outs, error, client


@pytest.mark.slow
def test_the_kernel_sees_only_its_copy_and_the_trusted_files(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "canary-token-1234")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("secret")
    monkeypatch.setenv("HOME", str(home))
    course, sub = _course(tmp_path)
    outs, error, _ = run_cells(course, sub, [
        "import os; print(os.getuid(), os.getgid())",
        "from utils import TRUSTED; print('trusted', TRUSTED)",
        f"print(os.path.exists({str(CourseLayout(course).gradebook)!r}), os.path.exists({str(home / '.ssh')!r}), "
        f"os.path.exists({str(CourseLayout(course).source())!r}))",
        "print(sorted(os.listdir('.')), open('notes.txt').read())",
        "print(sorted(k for k in os.environ if 'TOKEN' in k or k.startswith('JPY')))",
        """
        import socket
        try:
            socket.create_connection(('127.0.0.1', 9), timeout=2)
        except OSError as e:
            print('loopback', type(e).__name__)
        try:
            socket.create_connection(('1.1.1.1', 80), timeout=2)
        except OSError as e:
            print('internet', e.errno)
        """,
        "open('notes.txt', 'a').write(' changed'); open('new.txt', 'w').write('x');"
        "open('utils/__init__.py', 'a')",
    ])
    assert error is None
    assert outs[0].split() == ["65534", "65534"]
    assert outs[1].strip() == "trusted True"
    assert outs[2].split() == ["False", "False", "False"]
    assert "'notes.txt'" in outs[3] and "my notes" in outs[3]
    assert outs[4].strip() == "[]"
    assert "loopback ConnectionRefusedError" in outs[5] and "internet 101" in outs[5]
    assert "Read-only file system" in outs[6] or "Permission denied" in outs[6]
    # nothing the kernel wrote came back
    assert (sub / "notes.txt").read_text() == "my notes" and not (sub / "new.txt").exists()
    assert (sub / "utils" / "__init__.py").read_text() == "TRUSTED = False\n"


def test_bwrap_reads_its_options_from_a_memory_file():
    """Process 1 of the sandbox is bwrap: its command line must not list the mounts' host paths."""
    cmd = ["bwrap", "--ro-bind", "/host/course/utils", "/home/student/hw/utils", "--chdir", "/home/student/hw",
           "--", "/env/bin/python", "-m", "ipykernel_launcher"]
    fd, short = sandbox.options_through_fd(cmd)
    try:
        assert short == ["bwrap", "--args", str(fd), "--", "/env/bin/python", "-m", "ipykernel_launcher"]
        assert os.read(fd, 4096).split(b"\0")[:-1] == [a.encode() for a in cmd[1:6]]
    finally:
        os.close(fd)



@pytest.mark.slow
def test_the_sandbox_shows_no_host_path(tmp_path, monkeypatch):
    """Mount table, command lines, working folder and environment name no course, home or cache folder."""
    home = tmp_path / "grader-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    course, sub = _course(tmp_path)
    (CourseLayout(course).source("hw") / "data").mkdir()
    outs, error, _ = run_cells(course, sub, [
        "print(open('/proc/self/mountinfo').read())",
        """
        import os
        for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):
            print(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())
        print(os.getcwd(), os.environ.get('HOME'), os.environ.get('PWD'))
        print(' '.join(f'{k}={v}' for k, v in os.environ.items()))
        print(sorted(os.listdir('.')))
        """,
    ])
    assert error is None
    mountinfo, seen = outs
    forbidden = [str(tmp_path), str(course), str(home), os.path.expanduser("~root"), str(font_cache.font_cache() or "/-")]
    python = tuple(sandbox.python_paths([sys.executable]))
    for text in (mountinfo, seen):
        for line in text.splitlines():
            words = [w for w in re.findall(r"/[^\s']+", line) if not w.startswith(python)]
            assert not [w for w in words for f in forbidden if w == f or w.startswith(f.rstrip("/") + "/")], line
    assert "/home/student/hw /home/student/hw /home/student/hw" in seen
    assert "'data', 'notes.txt', 'utils']" in seen
    assert " /home/student/hw/utils " in mountinfo and " /run/grading/launch.py " in mountinfo
    first = seen.splitlines()[0].split()
    assert first[:2] == ["bwrap", "--args"] and "--ro-bind" not in first


@pytest.mark.slow
def test_scratch_space_and_processes_are_capped(tmp_path):
    course, sub = _course(tmp_path)
    outs, error, _ = run_cells(course, sub, [
        """
        import os
        written = 0
        try:
            with open('big.bin', 'wb') as f:
                for _ in range(64):
                    f.write(b'x' * 2**20); written += 1
        except OSError as e:
            print('stopped after', written, 'MiB:', e.strerror)
        """,
        """
        import subprocess, sys
        code = "import os, time\\nn = 0\\ntry:\\n    while True:\\n        if os.fork() == 0:\\n            time.sleep(5); os._exit(0)\\n        n += 1\\nexcept OSError:\\n    print(n)"
        print('children', subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout)
        """,
    ], scratch_bytes=8 * MiB)
    assert error is None
    assert "stopped after 7 MiB" in outs[0] or "stopped after 8 MiB" in outs[0], outs[0]
    assert "No space left" in outs[0]
    children = int(outs[1].split()[-1])
    assert 0 < children < sandbox.MAX_PROCESSES


HOG = "import numpy as np, time; a = np.ones(930 * 2**20 // 8); time.sleep(60)"
CHILDREN = f"""
import subprocess, sys, time
procs = [subprocess.Popen([sys.executable, '-c', {HOG!r}]) for _ in range(4)]
time.sleep(50)
print('still alive')
"""
ORPHANS = f"""
import os, sys, time
for _ in range(2):
    if os.fork() == 0:  # the child starts a daemon, then exits: the daemon is reparented
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, '-c', {HOG!r}])
        os._exit(0)
    os.wait()
time.sleep(50)
print('still alive')
"""


@pytest.mark.slow
@pytest.mark.parametrize("cell", [CHILDREN, ORPHANS], ids=["four-children", "two-orphaned-daemons"])
def test_processes_together_cannot_pass_the_memory_cap(tmp_path, caplog, cell):
    """Hogs of 930 MiB each: every one is under the 1.5 GiB cap; together the watchdog stops them, whether
    they are the kernel's children or daemons whose parents exited (found through the sandbox's PID namespace)."""
    course, sub = _course(tmp_path)
    t0 = time.monotonic()
    outs, error, _ = run_cells(course, sub, [cell], memory=1536 * MiB)
    assert error is not None and "died" in str(error).lower()
    assert "still alive" not in outs[0]
    assert time.monotonic() - t0 < 45
    assert "past the 1536 MiB cap: kernel stopped" in caplog.text


@pytest.mark.slow
def test_a_cell_past_its_time_limit_is_interrupted_by_message(tmp_path):
    """interrupt_mode 'message': the sandboxed kernel stops the cell; the next cell runs in the same kernel."""
    course, sub = _course(tmp_path)
    outs, error, _ = run_cells(course, sub, ["x = 41", "import time\ntime.sleep(60)", "print(x + 1)"], timeout=3)
    assert error is None
    assert "42" in outs[2]


def _survivors(marker):
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in (p.info["cmdline"] or [])):
            found.append(p.pid)
    return found


@pytest.mark.slow
def test_no_process_of_the_submission_outlives_its_kernel(tmp_path):
    course, sub = _course(tmp_path)
    marker = f"daemon-{uuid.uuid4().hex}"
    outs, error, _ = run_cells(course, sub, [
        f"""
        import subprocess, os, signal
        # a setsid daemon that ignores SIGTERM/SIGHUP and holds the kernel's stdout
        subprocess.Popen(['sh', '-c', 'trap "" TERM HUP INT; exec sleep 300 {marker}'], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp('sleep', ['sleep', '301', '{marker}'])
            os._exit(0)
        print('started')
        """,
    ])
    assert error is None and "started" in outs[0]
    deadline = time.monotonic() + 5
    while _survivors(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _survivors(marker) == []


@pytest.mark.slow
def test_unsafe_mode_runs_without_the_sandbox(tmp_path):
    course, sub = _course(tmp_path)
    outs, error, _ = run_cells(course, sub, ["import os; print(os.getuid(), os.path.exists(%r))" % str(course)],
                               unsafe_no_sandbox=True)
    assert error is None
    assert outs[0].split() == [str(os.getuid()), "True"]


def test_the_batch_stops_when_no_sandbox_can_be_made(monkeypatch, tmp_path):
    from coursetools.grading import submission

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    sandbox.check_available.cache_clear()
    try:
        with pytest.raises(submission.GradingError) as err:
            submission.check_sandbox()
        assert "bubblewrap" in str(err.value) and "--unsafe-no-sandbox" in str(err.value)
        submission.check_sandbox(unsafe=True)  # the explicit escape hatch
    finally:
        sandbox.check_available.cache_clear()


@pytest.mark.slow
def test_plain_nbgrader_drops_links_and_rejects_a_symlinked_notebook(tmp_path):
    """``nbgrader autograde`` with the course's config (as the formgrader runs it): DropUntrustedFiles at work."""
    import shutil

    from coursetools.course import run_nbgrader
    from zoo import build as zoo

    course = zoo.make_course(tmp_path / "course")
    layout = CourseLayout(course)
    release_dir = layout.release(zoo.ASSIGNMENT)
    release_nb = nbformat.read(release_dir / zoo.NOTEBOOK, as_version=4)
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    secret.chmod(0o600)
    for student in ("linker", "copycat"):
        folder = layout.submitted(student, zoo.ASSIGNMENT)
        shutil.copytree(release_dir, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
        nbformat.write(release_nb, folder / zoo.NOTEBOOK)
    os.symlink(secret, layout.submitted("linker", zoo.ASSIGNMENT) / "notes.txt")
    copycat = layout.submitted("copycat", zoo.ASSIGNMENT) / zoo.NOTEBOOK
    copycat.unlink()
    os.symlink(layout.submitted("linker", zoo.ASSIGNMENT) / zoo.NOTEBOOK, copycat)
    proc = run_nbgrader(["autograde", zoo.ASSIGNMENT, "--force"], course, check=False)
    log = proc.stdout + proc.stderr
    graded = layout.autograded("linker", zoo.ASSIGNMENT)
    assert (graded / zoo.NOTEBOOK).is_file() and not (graded / "notes.txt").exists(), log[-3000:]
    assert "notes.txt: a symbolic link" in log
    assert not layout.autograded("copycat", zoo.ASSIGNMENT).exists()
    assert "is a symbolic link" in log
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
