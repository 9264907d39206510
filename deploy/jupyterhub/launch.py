"""Start the course's JupyterHub on 127.0.0.1 for a demo or a test, and stop it.

Usage (as root, from the repository root)::

    .venv/bin/python deploy/jupyterhub/launch.py up            # runs until Ctrl-C
    .venv/bin/python deploy/jupyterhub/launch.py up --detach   # returns once ready
    .venv/bin/python deploy/jupyterhub/launch.py down [--purge]

What ``up`` builds under the state folder (default ``/tmp/dino-hub``):

- ``hub/``       hub database, cookie secret, roster, log (root only);
- ``exchange/``  the nbgrader exchange root (1777, as nbgrader expects);
- ``homes/<user>``  a 0700 home per Unix account: ``instructor1``,
  ``student1``, ``student2`` and the grader account ``grader-<course>``, whose
  home holds the course root ``<course>/``: a copy of the repository's course
  files (``nbgrader_config.py``, ``source/`` ...) with the shared files put
  into each assignment and the student version generated. ``coursetools`` is
  not copied: it is installed in the course's environment (``pip install -e .``).

It then runs ``jupyterhub`` with ``deploy/jupyterhub/jupyterhub_config.py``
(``SharedPasswordAuthenticator`` with a random password, ``LocalProcessSpawner``,
``configurable-http-proxy``, one subdomain of ``localhost`` per user and
service) and waits until the hub and the grader service answer.

Running as root is required: each person is a separate Unix user, which is
what keeps students out of the course root and each other's homes.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CONFIG_FILE = HERE / "jupyterhub_config.py"
ENV_BIN = Path(sys.executable).parent

from coursetools import settings

# What the course root copies from the repository (those that exist).
COURSE_FILES = ("nbgrader_config.py", "source", "utils", "data", "models")
DEFAULT_STATE_DIR = Path("/tmp/dino-hub")


class LaunchError(RuntimeError):
    """The hub cannot be started or stopped; the message says why."""


@dataclass
class HubInfo:
    """Where the running hub is and who may log in (saved as ``launcher.json``)."""

    state_dir: str
    port: int
    hub_port: int
    proxy_api_port: int
    service_port: int
    password: str
    course_id: str
    course_root: str
    exchange_root: str
    instructors: list
    students: list
    grader_user: str
    pid: int = 0
    created_users: list = field(default_factory=list)

    @property
    def hub_url(self) -> str:
        """The hub's public URL, e.g. ``http://localhost:8000/hub/``."""
        return f"http://localhost:{self.port}/hub/"

    def user_url(self, user: str) -> str:
        """The base URL of ``user``'s server on its own subdomain."""
        return f"http://{user}.localhost:{self.port}/user/{user}/"

    @property
    def service_url(self) -> str:
        """The base URL of the course's grader service."""
        return f"http://{self.course_id}--service.localhost:{self.port}/services/{self.course_id}/"

    def home(self, user: str) -> Path:
        return Path(self.state_dir) / "homes" / user


def check_prerequisites() -> list[str]:
    """What is missing to run the hub here, as human-readable lines (empty: all good)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("must run as root (students, instructors and the grader are separate Unix users)")
    if shutil.which("configurable-http-proxy") is None:
        missing.append("configurable-http-proxy not on PATH (npm install -g configurable-http-proxy)")
    if not (ENV_BIN / "jupyterhub").exists():
        missing.append(f"jupyterhub not installed in {ENV_BIN.parent}")
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} not found")
    return missing


def grant_traverse(path: Path) -> list[str]:
    """Add o+x to the folders above ``path`` that lack it; return the folders changed.

    The servers run as other Unix users, who must reach the course's Python
    (e.g. a pyenv interpreter under /root, which is 0700). Only the right to
    pass through is added, not to list.
    """
    changed = []
    for parent in reversed(Path(path).parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, (mode & 0o7777) | 0o001)
            changed.append(str(parent))
    return changed


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ensure_user(name: str, home: Path) -> bool:
    """Make Unix user ``name`` with a private home at ``home``; True if it was created."""
    created = False
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/bash",
             "--user-group", name],
            check=True, capture_output=True, text=True,
        )
        created = True
    pw = pwd.getpwnam(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o700)
    if pw.pw_dir != str(home):
        subprocess.run(["usermod", "--home", str(home), name], check=True, capture_output=True)
    return created


def chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything below it to ``user``."""
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.lchown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


def server_env(info: HubInfo, role: str) -> dict:
    """The environment ``jupyterhub_config.py`` gives a server of ``role``, for CLI use."""
    cfg = HERE / "jupyter-config"
    return {
        "PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": os.pathsep.join([str(cfg / role), str(cfg / "common")]),
        "DINO_HUB_COURSE_ID": info.course_id,
        "DINO_HUB_EXCHANGE_ROOT": info.exchange_root,
        "DINO_HUB_COURSE_ROOT": info.course_root,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
    }


def run_as(user: str, cmd: list, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``cmd`` as Unix ``user`` (with that user's HOME); raise LaunchError if it fails."""
    pw = pwd.getpwnam(user)
    full_env = {"HOME": pw.pw_dir, "USER": user, "LANG": "C.UTF-8", **env}
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
        capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise LaunchError(
            f"{' '.join(map(str, cmd))} (as {user}) failed with {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def available_assignments(wanted=None) -> list[str]:
    """Assignments whose source notebooks and shared files are present in the repository."""
    unknown = sorted(set(wanted or ()) - set(settings.ASSIGNMENTS))
    if unknown:
        raise LaunchError(f"unknown assignment(s) {unknown}; the course has {sorted(settings.ASSIGNMENTS)}")
    names = []
    for name, a in settings.ASSIGNMENTS.items():
        if wanted and name not in wanted:
            continue
        src = settings.SOURCE_DIR / name
        ok = all((src / nb).exists() for nb in a.notebooks)
        ok = ok and all((settings.ROOT / p).exists() for p in a.shared)
        if ok:
            names.append(name)
        elif wanted:
            raise LaunchError(f"assignment {name!r} is not ready: its notebooks or shared files are missing")
    return names


def build_course_root(info: HubInfo, assignments: list[str]) -> None:
    """Copy the course into the grader's course root and build the student versions there."""
    root = Path(info.course_root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    for name in COURSE_FILES:
        src = settings.ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, root / name)
    chown_tree(root, info.grader_user)
    os.chmod(root, 0o700)
    if assignments:
        # The course's own release command, run by the grader in the copy: it
        # puts the shared files into source/<assignment>/ and generates release/.
        # (coursetools.release.build_release is what `python -m coursetools release` runs.)
        code = f"from coursetools.release import build_release; build_release({list(assignments)!r}, root='.')"
        run_as(info.grader_user, [sys.executable, "-c", code], cwd=root, env=server_env(info, "grader"))


def _http_status(url: str, timeout: float = 3.0) -> int | None:
    """HTTP status of GET ``url`` without following redirects; None if nothing answers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def wait_for(predicate, timeout: float, what: str, log: Path | None = None, proc=None) -> None:
    """Poll ``predicate`` until true; LaunchError naming ``what`` (and the log tail) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise LaunchError(f"timed out waiting for {what}\n--- log tail ---\n{tail}")


def start(state_dir: Path = DEFAULT_STATE_DIR, port: int | None = None,
          assignments=None, students=("student1", "student2"),
          instructors=("instructor1",), timeout: float = 180) -> HubInfo:
    """Build the state folder, start the hub and wait until it and the grader service answer."""
    missing = check_prerequisites()
    if missing:
        raise LaunchError("cannot start the local hub:\n  - " + "\n  - ".join(missing))
    # the installed coursetools (editable: the repository's folder) is what nbgrader_config.py imports
    for target in {Path(sys.executable).resolve(), ENV_BIN, REPO / "deploy", REPO / "coursetools"}:
        for folder in grant_traverse(target):
            print(f"launch.py: added o+x to {folder} so that the course's users reach {target}",
                  file=sys.stderr)
    state_dir = Path(state_dir).resolve()
    if (state_dir / "launcher.json").exists():
        stop(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o755)
    hub_dir = state_dir / "hub"
    hub_dir.mkdir(exist_ok=True)
    os.chmod(hub_dir, 0o700)
    exchange = state_dir / "exchange"
    if exchange.exists():
        shutil.rmtree(exchange)
    exchange.mkdir()
    os.chmod(exchange, 0o1777)
    (state_dir / "homes").mkdir(exist_ok=True)
    os.chmod(state_dir / "homes", 0o755)

    if port is not None and not port_is_free(port):
        raise LaunchError(f"port {port} on 127.0.0.1 is in use; choose another with --port")
    course_id = settings.COURSE_ID
    grader = f"grader-{course_id}"
    info = HubInfo(
        state_dir=str(state_dir),
        port=port or free_port(),
        hub_port=free_port(),
        proxy_api_port=free_port(),
        service_port=free_port(),
        password=secrets.token_urlsafe(12),
        course_id=course_id,
        course_root=str(state_dir / "homes" / grader / course_id),
        exchange_root=str(exchange),
        instructors=list(instructors),
        students=list(students),
        grader_user=grader,
    )
    for user in [*info.instructors, *info.students, grader]:
        if ensure_user(user, info.home(user)):
            info.created_users.append(user)
    _save(info)  # so that "down --purge" can remove the users even if the start fails

    build_course_root(info, available_assignments(assignments))

    roster = hub_dir / "roster.toml"
    roster.write_text(
        f"instructors = {json.dumps(info.instructors)}\n"
        f"students = {json.dumps(info.students)}\n"
        # No hub admins in the demo: SharedPasswordAuthenticator would need a second password.
        "admins = []\n"
    )
    env = {
        **os.environ,
        "PATH": f"{ENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "DINO_HUB_STATE_DIR": str(hub_dir),
        "DINO_HUB_EXCHANGE_ROOT": info.exchange_root,
        "DINO_HUB_GRADER_USER": grader,
        "DINO_HUB_COURSE_ROOT": info.course_root,
        "DINO_HUB_ROSTER": str(roster),
        "DINO_HUB_SERVICE_PORT": str(info.service_port),
        "DINO_HUB_AUTH": "shared-password",
        "DINO_HUB_PASSWORD": info.password,
        "DINO_HUB_SUBDOMAIN_HOST": f"http://localhost:{info.port}",
        "DINO_HUB_BIND_URL": f"http://127.0.0.1:{info.port}",
        "DINO_HUB_HUB_BIND_URL": f"http://127.0.0.1:{info.hub_port}",
        "DINO_HUB_PROXY_API_URL": f"http://127.0.0.1:{info.proxy_api_port}",
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16),
    }
    log = hub_dir / "jupyterhub.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(ENV_BIN / "jupyterhub"), "-f", str(CONFIG_FILE)],
            cwd=hub_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    info.pid = proc.pid
    _save(info)
    try:
        wait_for(lambda: _http_status(f"http://127.0.0.1:{info.port}/hub/health") == 200,
                 timeout, "the hub", log, proc)
        wait_for(lambda: _http_status(f"http://127.0.0.1:{info.service_port}/services/{course_id}/api")
                 is not None, timeout, "the grader service", log, proc)
    except LaunchError:
        stop(state_dir)
        raise
    return info


def _save(info: HubInfo) -> None:
    path = Path(info.state_dir) / "launcher.json"
    path.write_text(json.dumps(asdict(info), indent=2))
    os.chmod(path, 0o600)


def load(state_dir: Path = DEFAULT_STATE_DIR) -> HubInfo:
    """The ``HubInfo`` of the hub started in ``state_dir``."""
    path = Path(state_dir) / "launcher.json"
    if not path.exists():
        raise LaunchError(f"no hub was started in {state_dir} ({path} is missing)")
    return HubInfo(**json.loads(path.read_text()))


def _pids_of_users(users: list[str]) -> list[int]:
    uids = set()
    for u in users:
        try:
            uids.add(pwd.getpwnam(u).pw_uid)
        except KeyError:
            pass
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def _signal(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop(state_dir: Path = DEFAULT_STATE_DIR, purge: bool = False, timeout: float = 30) -> None:
    """Stop the hub, its proxy, the grader service and every server it spawned.

    With ``purge``, also delete the Unix users the launcher created and the state folder.
    """
    info = load(state_dir)
    if info.pid:
        try:
            os.killpg(info.pid, signal.SIGTERM)  # the hub cleans up its servers and proxy
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(info.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.3)
        else:
            try:
                os.killpg(info.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # The proxy runs in a session of its own; the hub stops it on a clean exit,
    # this covers a hub that was killed.
    proxy_pid_file = Path(info.state_dir) / "hub" / "jupyterhub-proxy.pid"
    if proxy_pid_file.exists():
        try:
            pid = int(proxy_pid_file.read_text().strip())
            if "configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                os.kill(pid, signal.SIGTERM)
        except (ValueError, OSError):
            pass
    # Anything still running as the course's accounts (servers, kernels).
    users = [*info.instructors, *info.students, info.grader_user]
    leftovers = _pids_of_users(users)
    _signal(leftovers, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.3)
        leftovers = _pids_of_users(users)
    _signal(leftovers, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _pids_of_users(users) and time.monotonic() < deadline:
        time.sleep(0.2)
    info.pid = 0
    _save(info)
    if purge:
        for user in info.created_users:
            proc = subprocess.run(["userdel", user], capture_output=True, text=True)
            if proc.returncode not in (0, 6):  # 6: no such user
                print(f"launch.py: could not delete user {user}: {proc.stderr.strip()}", file=sys.stderr)
        shutil.rmtree(info.state_dir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the hub (runs until Ctrl-C unless --detach)")
    up.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    up.add_argument("--port", type=int, default=8000, help="public port on 127.0.0.1 (default 8000)")
    up.add_argument("--detach", action="store_true", help="return once the hub is ready")
    up.add_argument("--assignment", action="append", help="only these assignments (default: all ready)")
    down = sub.add_parser("down", help="stop a hub started with --detach")
    down.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    down.add_argument("--purge", action="store_true", help="also delete its Unix users and state folder")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "down":
            stop(args.state_dir, purge=args.purge)
            print(f"stopped the hub in {args.state_dir}")
            return 0
        info = start(args.state_dir, port=args.port, assignments=args.assignment)
        print(f"JupyterHub is up: {info.hub_url}")
        print(f"  instructors: {', '.join(info.instructors)}; students: {', '.join(info.students)}")
        print(f"  password for everyone: {info.password}")
        print(f"  grader service: {info.service_url}formgrader")
        print(f"  log: {info.state_dir}/hub/jupyterhub.log")
        if args.detach:
            print(f"stop it with: {sys.executable} {Path(__file__)} down --state-dir {args.state_dir}")
            return 0
        print("Ctrl-C stops it.")

        def _interrupt(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            stop(args.state_dir)
            print("stopped.")
        return 0
    except LaunchError as e:
        print(f"launch.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
