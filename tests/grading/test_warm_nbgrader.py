"""The warm nbgrader: one server per batch, a fresh forked nbgrader per request, time limits that kill.

nbgrader loads ``nbgrader_config.py`` from its working folder as Python, which
lets these tests make a child that records itself, fails, or hangs.
"""

import os
import time

import pytest

from coursetools.course import tool_env
from coursetools.grading.warm_nbgrader import WarmNbgrader
from coursetools.layout import CourseLayout


@pytest.fixture(scope="module")
def warm():
    with WarmNbgrader(env=tool_env()) as server:
        yield server


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def config(folder, body):
    CourseLayout(folder).config.write_text("c = get_config()\n" + body)
    return folder


def test_a_request_runs_nbgrader_and_returns_its_exit_code_and_log(warm, tmp_path):
    code, log = warm.run(["--version"], tmp_path, timeout_s=60)
    assert code == 0, log
    import nbgrader

    assert nbgrader.__version__ in log


def test_a_failing_command_returns_nbgrader_s_error(warm, tmp_path):
    code, log = warm.run(["autograde", "no_such_assignment", "--student=nobody"], config(tmp_path, ""), timeout_s=60)
    assert code not in (0, None)
    assert "no_such_assignment" in log or "Error" in log, log


def test_every_request_is_a_fresh_process_in_its_own_session_and_folder(warm, tmp_path):
    folder = config(tmp_path, "import os\nopen('who', 'a').write(f'{os.getpid()} {os.getsid(0)} {os.getcwd()}\\n')\n")
    for _ in range(2):
        code, log = warm.run(["list"], folder, timeout_s=60)
        assert code is not None, log
    rows = {tuple(line.split()) for line in (folder / "who").read_text().splitlines()}  # nbgrader reads it often
    assert len({pid for pid, _, _ in rows}) == 2, f"each request needs its own nbgrader process: {rows}"
    for pid, sid, cwd in rows:
        assert pid == sid, "the child leads a session of its own (so a time limit kills all it started)"
        assert int(pid) != warm.proc.pid and cwd == str(folder)


def test_a_request_past_its_time_limit_is_killed_with_what_it_started(warm, tmp_path):
    folder = config(tmp_path, "import os, subprocess, time\n"
                              "p = subprocess.Popen(['sleep', '300'])\n"
                              "open('pids', 'w').write(f'{os.getpid()} {p.pid}')\n"
                              "time.sleep(300)\n")
    t0 = time.monotonic()
    code, _ = warm.run(["list"], folder, timeout_s=3)
    assert code is None, "a request past its limit reports a timeout"
    assert time.monotonic() - t0 < 30
    pids = [int(p) for p in (folder / "pids").read_text().split()]
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids), "nbgrader and its children must be gone after a timeout"
    code, log = warm.run(["--version"], tmp_path, timeout_s=60)
    assert code == 0, f"the server goes on after a timeout: {log}"


def test_closing_the_client_stops_the_server(tmp_path):
    server = WarmNbgrader(env=tool_env()).start()
    pid = server.proc.pid
    server.close()
    assert not alive(pid)


def test_a_server_that_cannot_start_says_why_once_and_the_batch_grades_the_cold_way(tmp_path, capsys):
    from coursetools.grading import submission
    from coursetools.grading.warm_nbgrader import WarmNbgraderError

    broken = WarmNbgrader(env=tool_env(), python="false")
    with pytest.raises(WarmNbgraderError, match="did not start"):
        broken.start()
    t0 = time.monotonic()
    with pytest.raises(WarmNbgraderError, match="did not start"):
        broken.run(["--version"], tmp_path, timeout_s=60)
    assert time.monotonic() - t0 < 1, "a broken server is not started again for every student"
    code, log = submission.run_autograde(config(tmp_path, ""), "no_such_assignment", "nobody", timeout_s=120, warm=broken)
    assert code not in (0, None) and "no_such_assignment" in log, log
    assert "a new nbgrader process grades nobody" in capsys.readouterr().err


def test_a_server_that_ended_between_requests_fails_that_request_clearly_and_the_next_one_starts_anew(tmp_path):
    from coursetools.grading.warm_nbgrader import WarmNbgraderError

    server = WarmNbgrader(env=tool_env()).start()
    try:
        first = server.proc
        first.kill()
        first.wait()
        first.poll = lambda: None  # as if it ended just after start() found it alive
        with pytest.raises(WarmNbgraderError, match="stopped before the request"):
            server.run(["--version"], tmp_path, timeout_s=60)
        code, log = server.run(["--version"], config(tmp_path, ""), timeout_s=60)
        assert code == 0 and server.proc is not first, log
    finally:
        server.close()
