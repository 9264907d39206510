"""Every grading kernel runs in a bubblewrap sandbox (``bwrap``), whichever command starts it.

The grading kernel manager (:class:`coursetools.plugins.execute.CappedKernelManager`,
which nbgrader loads through ``nbgrader_config.py``, so this holds for the
course's ``grade`` / ``grade-parallel``, plain ``nbgrader autograde`` and the
hub's formgrader alike) mixes in :class:`SandboxedKernelMixin`. Before a
kernel starts it:

- checks once per process that a sandbox can be made at all (``bwrap``
  installed, user namespaces allowed); if not, the kernel does not start and
  the error says why and what to do (:class:`SandboxUnavailable`);
- puts the kernel's connection file and its sockets in a private folder and
  switches the kernel to ZeroMQ's ``ipc`` transport (unix sockets), so the
  kernel needs no network at all;
- wraps the kernel's command line in ``bwrap`` (:func:`bwrap_command`):

  * its own user namespace, uid/gid 65534 inside (never root, never the
    grading user's uid). When the grader itself is root, the sandbox's user
    namespace maps uid 65534 to the real uid 65534 (:func:`root_userns`) and
    the launcher drops to it before anything of the submission runs: Linux
    never enforces ``RLIMIT_NPROC`` for processes of the real root;
  * its own PID, network (no interfaces but loopback), IPC and UTS
    namespaces, a new session, and ``--die-with-parent``: when the kernel or
    the grader goes, every process the submission started goes with it;
  * a file system made of the system folders only (``/usr``, ``/etc``, ...,
    read-only), the Python environment of the kernel (read-only), a fresh
    ``/proc`` and ``/dev``; the course folder, the grading user's home,
    ``$TMPDIR``, the Jupyter runtime folder, the exchange and every other
    folder of the machine are simply not there;
  * nothing is mounted from the course folder, a home or a cache (a bind
    mount's source shows in ``/proc/self/mountinfo``): what the sandbox needs
    is staged first in a private folder (:func:`stage`) and mounted at
    neutral paths; bwrap reads its options from a memory file
    (:func:`options_through_fd`), so process 1's command line shows none of them;
  * the kernel's working folder (``/home/student/<assignment>`` inside, for
    ``autograded/<student>/<assignment>/``) is a
    size-capped tmpfs holding a private copy of that one submission, the only
    writable place besides capped ``/tmp`` and ``/dev/shm``; what the kernel
    writes there vanishes with the sandbox (nbgrader, outside, writes the
    graded notebook). The course's own files of the assignment (``utils/``,
    ``data/``: what ``source/<assignment>/`` holds besides notebooks) are
    mounted read-only over the copy, so ``from utils import *`` always loads
    the course's trusted code;
  * an environment allow-list (:data:`ENV_ALLOWED`): no tokens, no ``JPY_*``;
  * process limits set inside by the launcher (:mod:`coursetools.kernel.launch`): ``RLIMIT_NPROC``
    (counted per user namespace since Linux 5.14, so per sandbox),
    ``RLIMIT_AS`` per process, ``RLIMIT_FSIZE``;
- after the start, a watchdog thread (:mod:`.watchdog`) sums the resident
  memory of all the sandbox's processes and kills the sandbox when the sum
  passes the kernel's memory cap (rlimits are per process: four children
  just under the cap each would otherwise hold four times the cap), or when
  the kernel writes more than a few sockets' worth into its connection folder.

Interrupts go as messages (``interrupt_mode = "message"``): a signal to the
sandbox's process group would end it.

``c.Sandbox.unsafe_no_sandbox = True`` (the course's ``--unsafe-no-sandbox``)
starts kernels without any of this; every kernel started so logs a warning.
"""

import functools
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from fnmatch import fnmatch
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir
from nbgrader.coursedir import CourseDirectory
from traitlets import Bool, Float, Integer, List, Unicode
from traitlets.config import Configurable

from ..kernel import LAUNCHER
from . import font_cache as fonts
from . import untrusted
from .watchdog import WATCH_INTERVAL_S, Watchdog

MiB = 1024**2

SANDBOX_UID = 65534  # uid and gid inside the sandbox ("nobody")
ROOT_RUNS_AS = 65534  # when the grader is root, bwrap itself runs as this uid/gid
SCRATCH_BYTES = 256 * MiB  # the kernel's working folder (a tmpfs)
TMP_BYTES = 64 * MiB  # /tmp and /dev/shm inside the sandbox, each
MAX_PROCESSES = 64  # tasks (processes and threads) of one sandbox: RLIMIT_NPROC
CONNECTION_DIR_BYTES = 8 * MiB  # its connection folder: sockets, and the kernel's own stdout/stderr (kernel.log)
MIN_KERNEL = (5, 14)  # RLIMIT_NPROC counted per user namespace (ucounts)

# System folders the sandbox sees, read-only (a symlink such as /bin -> usr/bin is recreated as a symlink).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
# Parts of those that hold a machine's secrets or services' configuration: hidden (empty tmpfs).
HIDDEN_SYSTEM_PATHS = ("/etc/jupyterhub", "/etc/ssh", "/etc/ssl/private", "/opt/tljh/state")
# Environment variables passed into the sandbox (when set for the kernel); nothing else.
ENV_ALLOWED = ("LANG", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ", "PYTHONHASHSEED",
               "NBGRADER_EXECUTION", "NBGRADER_VALIDATING",
               "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               # The machine's choice of OpenBLAS kernel: the grading kernel computes what Validate computes here.
               "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Never passed, even when listed above or configured (a configured name matching this is refused).
ENV_FORBIDDEN = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|^JPY_|^JUPYTERHUB_", re.I)

# Fixed paths inside the sandbox.
INSIDE_SUBMISSION = "/run/grading/submission"  # the submission's files, read-only, copied into the scratch folder
INSIDE_LAUNCHER = "/run/grading/launch.py"  # coursetools/kernel/launch.py
INSIDE_HOME = "/home/student"  # the kernel's working folder is <INSIDE_HOME>/<assignment>, a tmpfs
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # an assignment's name used as is inside

ADVICE = (
    "Install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`) and allow unprivileged user "
    "namespaces (`sysctl kernel.unprivileged_userns_clone=1` on Debian, `user.max_user_namespaces` > 0; "
    "in Docker run the grader with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined` "
    "or in a VM). Only for submissions you trust: grade with `--unsafe-no-sandbox` "
    "(plain nbgrader: c.Sandbox.unsafe_no_sandbox = True)."
)


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made on this machine; the message says why and what to do."""


class Sandbox(Configurable):
    """Settings of the grading sandbox (``c.Sandbox.*`` in ``nbgrader_config.py``)."""

    unsafe_no_sandbox = Bool(False, help="start grading kernels WITHOUT the sandbox (trusted submissions only)").tag(config=True)
    bwrap = Unicode("bwrap", help="the bubblewrap executable").tag(config=True)
    scratch_bytes = Integer(SCRATCH_BYTES, help="size of the kernel's writable working folder (tmpfs)").tag(config=True)
    tmp_bytes = Integer(TMP_BYTES, help="size of /tmp and of /dev/shm inside the sandbox (tmpfs, each)").tag(config=True)
    max_processes = Integer(MAX_PROCESSES, help="processes and threads of one sandbox (RLIMIT_NPROC)").tag(config=True)
    root_runs_as = Integer(ROOT_RUNS_AS, help="when the grader runs as root: the real uid/gid the kernel drops to").tag(config=True)
    hidden_paths = List(Unicode(), help="more folders under the system folders to hide").tag(config=True)
    extra_ro_paths = List(Unicode(), help="more folders the kernel may read (mounted read-only at the same path)").tag(config=True)
    extra_env = List(Unicode(), help="more environment variable names passed into the sandbox").tag(config=True)
    watch_interval_s = Float(WATCH_INTERVAL_S, help="how often the watchdog samples the sandbox's memory").tag(config=True)


def runs_as_root():
    return os.geteuid() == 0


@functools.lru_cache(maxsize=None)
def check_available(bwrap="bwrap", uid=ROOT_RUNS_AS):
    """Make a throw-away sandbox with the namespaces grading uses; raise :class:`SandboxUnavailable` if it fails.

    Cached per process: the check costs one ``bwrap`` start.
    """
    exe = shutil.which(bwrap)
    if not exe:
        raise SandboxUnavailable(f"cannot sandbox the grading kernels: `{bwrap}` is not installed. {ADVICE}")
    release = os.uname().release
    m = re.match(r"(\d+)\.(\d+)", release)
    if m and tuple(int(x) for x in m.groups()) < MIN_KERNEL:
        raise SandboxUnavailable(
            f"cannot bound the grading kernels' processes: Linux {release} counts RLIMIT_NPROC per user, "
            f"not per sandbox (needs Linux >= {MIN_KERNEL[0]}.{MIN_KERNEL[1]}). {ADVICE}")
    true = shutil.which("true") or "/bin/true"
    fd = root_userns(uid) if runs_as_root() else None
    try:
        cmd = [exe, *_namespace_args(fd), *_system_args(), "--", true]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, pass_fds=(fd,) if fd else ())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"cannot sandbox the grading kernels: {exc}. {ADVICE}") from None
    finally:
        if fd is not None:
            os.close(fd)
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip().splitlines()
        raise SandboxUnavailable(f"cannot sandbox the grading kernels: {why[-1] if why else 'bwrap failed'}. {ADVICE}")
    return exe


def root_userns(uid=ROOT_RUNS_AS):
    """A new user namespace mapping 0 to 0 and ``uid`` to ``uid`` (root only); returns an fd for ``bwrap --userns``.

    bwrap sets the sandbox up as root of this namespace; the launcher then
    drops to ``uid``, a real unprivileged uid, so that ``RLIMIT_NPROC``
    applies (a process whose real uid is 0 is never held by it).
    """
    unshare = shutil.which("unshare")
    if not unshare:
        raise SandboxUnavailable("grading as root needs `unshare` (package util-linux); or grade as the course's own user")
    holder = subprocess.Popen([unshare, "--user", "cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        mine = os.readlink("/proc/self/ns/user")
        for _ in range(2000):
            try:
                if os.readlink(f"/proc/{holder.pid}/ns/user") != mine:
                    break
            except OSError:
                pass
            if holder.poll() is not None:
                raise SandboxUnavailable(f"cannot make a user namespace: {holder.stderr.read().decode().strip()}. {ADVICE}")
            time.sleep(0.0005)
        for kind in ("uid", "gid"):
            with open(f"/proc/{holder.pid}/{kind}_map", "w") as f:
                f.write(f"0 0 1\n{uid} {uid} 1\n")
        return os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        holder.stdin.close()
        holder.wait()


def _namespace_args(userns_fd=None, uid=SANDBOX_UID):
    if userns_fd is None:
        user = ["--unshare-user", "--uid", str(uid), "--gid", str(uid), "--disable-userns"]
    else:  # root: the launcher drops from 0 to the mapped uid
        user = ["--userns", str(userns_fd), "--uid", "0", "--gid", "0", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*user, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "grading", "--die-with-parent", "--new-session"]


def _is_under(path, folders):
    path = os.path.abspath(path)
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _system_args(hidden=()):
    args = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in (*HIDDEN_SYSTEM_PATHS, *hidden):
        if os.path.isdir(path) and _is_under(path, SYSTEM_PATHS):
            args += ["--tmpfs", path]
    return args + ["--dev", "/dev", "--proc", "/proc"]


def python_paths(executables=()):
    """Folders that hold the kernel's Python and its packages (mounted read-only in the sandbox)."""
    found = []
    for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, *(os.path.dirname(os.path.dirname(e)) for e in executables)):
        for q in (p, os.path.realpath(p)):
            if q and q != "/" and os.path.isdir(q) and not _is_under(q, SYSTEM_PATHS) and q not in found:
                found.append(q)
    return found


def trusted_entries(source_dir, ignore=()):
    """What nbgrader copies from ``source/<assignment>/`` besides notebooks (``utils/``, ``data/``): name -> path."""
    if not source_dir or not os.path.isdir(source_dir):
        return {}
    out = {}
    for entry in sorted(os.listdir(source_dir)):
        path = os.path.join(source_dir, entry)
        if entry.endswith(".ipynb") or any(fnmatch(entry, pat) for pat in ignore) or os.path.islink(path):
            continue
        out[entry] = path
    return out


def sandbox_env(launch_env, extra=()):
    """The sandbox's environment: the allow-list's values from ``launch_env``, and fixed ones."""
    env = {}
    for name in (*ENV_ALLOWED, *extra):
        if ENV_FORBIDDEN.search(name):
            continue
        if name in launch_env:
            env[name] = launch_env[name]
    return env


def inside_workdir(cwd):
    """The kernel's working folder inside the sandbox: ``/home/student/<assignment>`` (never a host path)."""
    name = os.path.basename(os.path.abspath(cwd))
    return f"{INSIDE_HOME}/{name if SAFE_NAME.fullmatch(name) else 'work'}"


def _link_or_copy(src, dest):
    """A hard link when ``src`` and ``dest`` share a file system (free), else a copy."""
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dest, follow_symlinks=False)


def stage(stage_dir, *, cwd=None, trusted=None, launcher=None, font_cache=None):
    """Put what the sandbox mounts into ``stage_dir`` (the grader's private folder); return name -> staged path.

    A bind mount shows its source path in the sandbox's ``/proc/self/mountinfo``,
    so nothing is mounted from the course folder, a home or a cache: the
    submission (plain files only, :func:`.untrusted.safe_copy`), the course's
    trusted entries (``utils/``, ``data/``), the launcher and matplotlib's font
    list are staged here first. Keys: ``submission``, ``launcher``, ``fonts``
    and ``trusted/<name>``, each present only when staged.
    """
    if os.path.isdir(stage_dir):
        shutil.rmtree(stage_dir)
    os.makedirs(stage_dir, mode=0o700)
    staged = {}
    if cwd and os.path.isdir(cwd):
        staged["submission"] = os.path.join(stage_dir, "submission")
        untrusted.safe_copy(cwd, staged["submission"])
    for name, path in (trusted or {}).items():
        dest = os.path.join(stage_dir, "course", name)
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        if os.path.isdir(path):
            shutil.copytree(path, dest, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(path, dest)
        staged[f"trusted/{name}"] = dest
    if launcher:
        staged["launcher"] = os.path.join(stage_dir, "launch.py")
        shutil.copyfile(launcher, staged["launcher"])
        os.chmod(staged["launcher"], 0o644)
    if font_cache:
        staged["fonts"] = os.path.join(stage_dir, "matplotlib")
        shutil.copytree(font_cache, staged["fonts"], copy_function=_link_or_copy)
    return staged


def bwrap_command(kernel_cmd, *, cwd, connection_dir, connection_file, stage_dir, settings=None, source_dir=None,
                  ignore=(), hidden=(), launch_env=None, bwrap="bwrap", userns_fd=None, font_cache=None):
    """The command line that runs ``kernel_cmd`` (the launcher first) in a sandbox whose working folder is ``cwd``.

    ``cwd`` (the folder nbgrader runs the notebook in) is copied into a tmpfs
    at :func:`inside_workdir`; ``source_dir``'s non-notebook entries are
    mounted read-only over the copy. Both are staged first in ``stage_dir``
    (:func:`stage`), as are the launcher (mounted at :data:`INSIDE_LAUNCHER`)
    and ``font_cache`` (the folder of matplotlib's font list,
    :mod:`.font_cache`, mounted read-only and copied by the launcher into the
    kernel's ``MPLCONFIGDIR``). ``connection_dir`` (sockets) is the one folder
    shared with the grader. ``userns_fd``: a grader running as root passes
    :func:`root_userns`'s namespace.
    """
    s = settings or Sandbox()
    cwd = os.path.abspath(cwd)
    inside = inside_workdir(cwd)
    launcher = kernel_cmd[1:2] and os.path.realpath(kernel_cmd[1]) == str(LAUNCHER)
    if userns_fd is not None and not launcher:
        raise SandboxUnavailable("grading as root needs the course's kernel launcher (coursetools/kernel/launch.py) in the kernel command")
    trusted = trusted_entries(source_dir, ignore)
    staged = stage(stage_dir, cwd=cwd, trusted=trusted, launcher=kernel_cmd[1] if launcher else None,
                   font_cache=font_cache if launcher else None)
    made = set()

    def parents(dest):  # folders above a mount point, created world-searchable (bwrap copies the host's modes)
        out = []
        for parent in reversed(Path(dest).parents):
            p = str(parent)
            if p != "/" and p not in made and not _is_under(p, SYSTEM_PATHS):
                made.add(p)
                out += ["--perms", "0755", "--dir", p]
        return out

    def bind(src, dest, writable=False):
        return [*parents(dest), "--bind" if writable else "--ro-bind", src, dest]

    def tmpfs(dest, size):
        made.add(dest)
        return [*parents(dest), "--perms", "1777" if userns_fd is not None else "0755", "--size", str(int(size)), "--tmpfs", dest]

    pypaths = python_paths([kernel_cmd[0]] if kernel_cmd and os.path.isabs(kernel_cmd[0]) else [])
    args = [bwrap, *_namespace_args(userns_fd), *_system_args((*s.hidden_paths, *hidden))]
    args += tmpfs("/tmp", s.tmp_bytes) + tmpfs("/dev/shm", s.tmp_bytes)
    for p in (*pypaths, *s.extra_ro_paths):
        if os.path.exists(p):
            args += bind(p, p)
    if launcher:
        args += bind(staged["launcher"], INSIDE_LAUNCHER)
        kernel_cmd = [kernel_cmd[0], INSIDE_LAUNCHER, *kernel_cmd[2:]]
    if "submission" in staged:
        args += bind(staged["submission"], INSIDE_SUBMISSION)
    args += tmpfs(inside, s.scratch_bytes)
    for name in trusted:
        args += bind(staged[f"trusted/{name}"], f"{inside}/{name}")
    args += bind(connection_dir, connection_dir, writable=True) + bind(connection_file, connection_file)
    if "fonts" in staged:
        args += bind(staged["fonts"], fonts.INSIDE)
    remount = [p for p in (*HIDDEN_SYSTEM_PATHS, *s.hidden_paths, *hidden)
               if os.path.isdir(p) and _is_under(p, SYSTEM_PATHS)]
    for p in ("/dev", *remount, "/"):
        args += ["--remount-ro", p]
    args += ["--chdir", inside, "--clearenv"]
    env = sandbox_env(launch_env if launch_env is not None else os.environ, s.extra_env)
    bindirs = [os.path.join(p, "bin") for p in pypaths if os.path.isdir(os.path.join(p, "bin"))]
    env.update(PATH=os.pathsep.join([*bindirs, "/usr/local/bin", "/usr/bin", "/bin"]), HOME=inside,
               TMPDIR="/tmp", MPLBACKEND="Agg", MPLCONFIGDIR=fonts.KERNEL_MPLCONFIGDIR,
               USER="nobody", LOGNAME="nobody", SHELL="/bin/sh")
    for name, value in sorted(env.items()):
        args += ["--setenv", name, value]
    if launcher:  # it copies the submission into the scratch folder, drops to the sandbox uid, caps the processes
        extra = ["--scratch-from", INSIDE_SUBMISSION, "--scratch-into", inside, "--processes", str(int(s.max_processes))]
        if userns_fd is not None:
            extra += ["--drop-to", str(s.root_runs_as)]
        for name in trusted:
            extra += ["--scratch-skip", name]
        if "fonts" in staged:
            extra += ["--seed", fonts.INSIDE, fonts.KERNEL_MPLCONFIGDIR]
        kernel_cmd = [*kernel_cmd[:2], *extra, *kernel_cmd[2:]]
    return [*args, "--", *kernel_cmd]


def options_through_fd(cmd):
    """``(fd, short command)``: bwrap's options moved into a memory file read with ``--args FD``.

    Inside the sandbox, process 1 is bwrap itself and its command line is
    readable there: with the options in a file it shows only
    ``bwrap --args N -- <kernel command>``, never the mounts' host paths.
    The caller passes ``fd`` to the child (``pass_fds``) and closes it after the start.
    """
    sep = cmd.index("--")
    data = "".join(f"{a}\0" for a in cmd[1:sep]).encode()
    fd = os.memfd_create("bwrap-options")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd, [cmd[0], "--args", str(fd), *cmd[sep:]]


class SandboxedKernelMixin:
    """Mixed into the grading kernel manager: every kernel it starts runs in the sandbox.

    The manager calls :meth:`sandbox_wrap` on its (launcher-prefixed) kernel
    command; the watchdog's cap is the manager's ``memory_limit_bytes``.
    """

    _sandbox_settings = None
    _sandbox_dir = None
    _sandbox_stage = None
    _sandbox_watchdog = None
    _sandbox_fds = None
    last_watchdog = None  # the watchdog of the last kernel started (its reason and peak stay readable)

    @property
    def sandbox(self):
        if self._sandbox_settings is None:
            self._sandbox_settings = Sandbox(config=self.config)
        return self._sandbox_settings

    @property
    def sandboxed(self):
        return not self.sandbox.unsafe_no_sandbox

    async def _async_pre_start_kernel(self, **kw):
        if self.sandboxed:
            check_available(self.sandbox.bwrap, self.sandbox.root_runs_as)
            self._close_sandbox_fds()
            if not self._sandbox_dir:
                self._sandbox_dir = tempfile.mkdtemp(prefix="grading-kernel-")
                if runs_as_root():
                    os.chown(self._sandbox_dir, self.sandbox.root_runs_as, self.sandbox.root_runs_as)
            if not self._sandbox_stage:  # never mounted writable: what the sandbox mounts is staged here
                self._sandbox_stage = tempfile.mkdtemp(prefix="grading-stage-")
            self.transport = "ipc"
            self.ip = os.path.join(self._sandbox_dir, "kernel-ipc")
            self.connection_file = os.path.join(self._sandbox_dir, "kernel.json")
            self.kernel_spec.interrupt_mode = "message"
        else:
            self.log.warning("grading kernel started WITHOUT a sandbox (Sandbox.unsafe_no_sandbox): "
                             "the submission's code runs with the grader's rights")
        return await super()._async_pre_start_kernel(**kw)

    def sandbox_wrap(self, cmd):
        """Wrap the launcher-prefixed kernel command in bwrap (unchanged without the sandbox)."""
        if not self.sandboxed:
            return cmd
        if runs_as_root():
            os.chown(self.connection_file, self.sandbox.root_runs_as, self.sandbox.root_runs_as)
        launch = getattr(self, "_launch_args", None) or {}
        cwd = launch.get("cwd") or os.getcwd()
        source_dir, ignore, hidden = _course_folders(self.config, cwd)
        self._close_sandbox_fds()
        if runs_as_root():
            self._sandbox_fds = [root_userns(self.sandbox.root_runs_as)]
        full = bwrap_command(cmd, cwd=cwd, connection_dir=self._sandbox_dir, connection_file=self.connection_file,
                             stage_dir=os.path.join(self._sandbox_stage, "mounts"),
                             settings=self.sandbox, source_dir=source_dir, ignore=ignore, hidden=hidden,
                             launch_env=launch.get("env") or os.environ, bwrap=self.sandbox.bwrap,
                             userns_fd=self._sandbox_fds[0] if self._sandbox_fds else None,
                             font_cache=fonts.font_cache())
        fd, short = options_through_fd(full)
        self._sandbox_fds.append(fd)
        return short

    def _close_sandbox_fds(self):
        for fd in self._sandbox_fds or []:
            os.close(fd)
        self._sandbox_fds = []

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        log = None
        if self.sandboxed:
            # the kernel's own stdout/stderr (not its cells' output) go to a file the watchdog caps,
            # never into the grader's pipes, which a submission could fill or hold open
            log = open(os.path.join(self._sandbox_dir, "kernel.log"), "ab")
            kw["stdout"] = kw["stderr"] = log
        if self._sandbox_fds:
            kw["pass_fds"] = tuple(self._sandbox_fds)
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            self._close_sandbox_fds()
            if log is not None:
                log.close()
        if self.sandboxed:
            pid = getattr(getattr(self.provisioner, "process", None), "pid", None)
            if pid:
                self._sandbox_watchdog = Watchdog(pid, int(getattr(self, "memory_limit_bytes", 0) or 0),
                                                  self._sandbox_dir, CONNECTION_DIR_BYTES,
                                                  interval=self.sandbox.watch_interval_s,
                                                  log=self.log)
                self._sandbox_watchdog.start()
                self.last_watchdog = self._sandbox_watchdog

    async def _async_cleanup_resources(self, restart=False):
        if self._sandbox_watchdog is not None:
            self._sandbox_watchdog.stop()
            self._sandbox_watchdog = None
        if self._sandbox_dir:
            for line in sandbox_messages(os.path.join(self._sandbox_dir, "kernel.log")):
                self.log.warning("%s", line)
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            for folder in (self._sandbox_dir, self._sandbox_stage):
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
            self._sandbox_dir = self._sandbox_stage = None


def sandbox_messages(path, limit=65536):
    """Lines of the kernel's log written by bwrap or the launcher (``bwrap: ...``, ``grading sandbox: ...``).

    The file is in a folder the kernel could write: it is opened without
    following a link and read only if it is a regular file, at most its last ``limit`` bytes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return []
        os.lseek(fd, max(0, st.st_size - limit), os.SEEK_SET)
        text = os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)
    return [ln.strip()[:300] for ln in text.splitlines() if ln.startswith(("bwrap:", "grading sandbox:"))][-5:]


def _course_folders(config, cwd):
    """(source folder of the assignment run in ``cwd`` or None, nbgrader's ignore patterns, folders to hide).

    nbgrader runs a notebook in the folder it was submitted in
    (``submitted/<student>/<assignment>/``, or the batch's clean copy of it),
    so the assignment is that folder's name.
    """
    hidden = [os.path.expanduser("~"), tempfile.gettempdir(), jupyter_runtime_dir()]
    try:
        cd = CourseDirectory(config=config)
        root, ignore = os.path.abspath(cd.root), list(cd.ignore)
        source = os.path.join(root, cd.source_directory, os.path.basename(os.path.abspath(cwd)))
    except Exception:  # not run by nbgrader: no trusted files to add
        return None, [], hidden
    return (source if os.path.isdir(source) else None), ignore, [root, *hidden]


