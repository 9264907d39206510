#!/usr/bin/env python3
"""Bootstrap and run the course's jobs with nothing but Python 3.11.

    python3 dev.py demo            # build the release, autograde sample submissions, print the scores
    python3 dev.py test            # the whole test suite (about 25 minutes on 2 cores)
    python3 dev.py test --quick    # everything but the slow tests (under a minute)
    python3 dev.py lock            # re-resolve requirements*.txt into requirements.lock (uv)
    python3 dev.py python ...      # the environment's Python, e.g. -m coursetools release

``demo`` and ``test`` create ``.venv/`` from ``requirements.lock`` on first use
and re-sync it whenever the lock or ``pyproject.toml`` changes (packages the
lock does not name are removed, so ``pip freeze`` equals the lock). They also
install the system packages they need (``deploy/install-system-deps.sh``) when
run as root; otherwise they say in one line what to run. Extra arguments go to
the command, e.g. ``python3 dev.py test -k release``.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from coursetools import lockfile  # noqa: E402 (standard library only: read before any environment exists)

VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".lock.sha256"
LOCK_TOOLS = ROOT / ".build" / "lock-tools"
UV_VERSION = "0.13.9"  # the resolver that writes requirements.lock
# The lock is resolved for every Python 3.11.x on Linux x86_64 (the course's machines).
LOCK_TARGET = ("--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28")
SYSTEM_SCRIPT = "deploy/install-system-deps.sh"
# System parts (deploy/install-system-deps.sh <part>) and the commands that show they are there.
SYSTEM_PARTS = {
    "sandbox": ("bwrap",),
    "hub": ("chromium", "chromedriver", "configurable-http-proxy"),
}
# What each job needs: grading always runs in the sandbox; the tests also drive a hub in a browser.
NEEDS = {"demo": ("sandbox",), "test": ("sandbox", "hub")}


def say(message):
    print(f"dev.py: {message}", flush=True)


def venv_python():
    return VENV / "bin" / "python"


def run_env():
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = str(VENV / "bin") + os.pathsep + env.get("PATH", "")
    return env


def lock_hash():
    h = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def locked_versions():
    """``{canonical name: version}`` of every distribution in requirements.lock."""
    return lockfile.locked_versions(LOCK)


def installed_versions(python):
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--exclude-editable",
                          "--disable-pip-version-check"], check=True, capture_output=True, text=True).stdout
    return {lockfile.canonical_name(d["name"]): d["version"] for d in json.loads(out)}


def base_python():
    """The Python 3.11 that ``.venv`` is built on: the system's own when it has one, else this one.

    The grading sandbox mounts the kernel's Python read-only at its own path,
    and a bind mount's source path shows in the sandbox's /proc/self/mountinfo.
    A system Python lives under /usr, which the sandbox mounts anyway; one
    under a home (pyenv's ~/.pyenv) would show that home to every submission.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if os.path.exists(candidate) and subprocess.run([candidate, "-c", "import ensurepip, venv"],
                                                       capture_output=True).returncode == 0:
            return candidate
    return sys.executable


def ensure_venv():
    """Create ``.venv`` or re-sync it with requirements.lock (and install the course tooling)."""
    wanted = lock_hash()
    if venv_python().exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not venv_python().exists():
        base = base_python()
        say(f"creating {VENV.name}/ from {LOCK.name} on {base} (first run: a few minutes, TensorFlow is large) ...")
        if base == sys.executable:
            venv.EnvBuilder(with_pip=True).create(VENV)
        else:
            subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    else:
        say(f"{LOCK.name} changed: syncing {VENV.name}/ ...")
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(pip + ["install", "-q", "--require-hashes", "--no-deps", "-r", str(LOCK)], check=True)
    extra = sorted(set(installed_versions(venv_python())) - set(locked_versions()) - {"pip"})
    if extra:
        subprocess.run(pip + ["uninstall", "-q", "-y", *extra], check=True)
    if (ROOT / "pyproject.toml").exists():  # the course tooling, editable (coursetools, `course`)
        subprocess.run(pip + ["install", "-q", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
                       check=True, stdout=subprocess.DEVNULL)
    STAMP.write_text(wanted + "\n")


def missing_commands(parts):
    return [cmd for part in parts for cmd in SYSTEM_PARTS[part] if shutil.which(cmd) is None]


def ensure_system(job, env):
    """Install the system parts ``job`` needs when missing (root), or say what to run (not root).

    Not root: the tests that need a missing part, and the JupyterHub end-to-end test
    (which creates Unix users), are skipped with the reason in ``DINO_SKIP_E2E`` /
    ``DINO_SYSTEM_MISSING``; dev.py repeats it after pytest's summary. Returns that note.
    """
    parts = NEEDS.get(job, ())
    missing = missing_commands(parts)
    todo = f"sudo bash {SYSTEM_SCRIPT} {' '.join(parts)} && sudo python3 dev.py {job}"
    if os.geteuid() != 0:
        if job != "test":
            if missing:
                say(f"not root and {', '.join(missing)} missing: grading will stop; run `{todo}`")
            return ""
        note = ("not root: the JupyterHub end-to-end test is SKIPPED (it creates Unix users"
                + (f"; {', '.join(missing)} missing" if missing else "") + f"); run `{todo}` to run everything")
        env["DINO_SKIP_E2E"] = note
        if any(cmd in missing for cmd in SYSTEM_PARTS["sandbox"]):
            env["DINO_SYSTEM_MISSING"] = f"bubblewrap (bwrap) missing: run `{todo}`"
        say(note)
        return note
    if not missing:
        return ""
    say(f"installing the system packages `{job}` needs ({', '.join(missing)}): bash {SYSTEM_SCRIPT} {' '.join(parts)}")
    result = subprocess.run(["bash", str(ROOT / SYSTEM_SCRIPT), *parts], cwd=ROOT, stdout=subprocess.DEVNULL)
    still = missing_commands(parts)
    if result.returncode != 0 or still:
        say(f"error: {SYSTEM_SCRIPT} failed (exit {result.returncode}); still missing: {', '.join(still) or 'nothing'}")
        raise SystemExit(1)
    return ""


def lock():
    """Re-resolve requirements-dev.txt (which includes requirements.txt) into requirements.lock."""
    uv = LOCK_TOOLS / "bin" / "uv"
    if not uv.exists() or UV_VERSION not in subprocess.run([str(uv), "--version"], capture_output=True, text=True).stdout:
        say(f"installing uv {UV_VERSION} into {LOCK_TOOLS.relative_to(ROOT)}/ (used only to write the lock)")
        venv.EnvBuilder(with_pip=True, clear=True).create(LOCK_TOOLS)
        subprocess.run([str(LOCK_TOOLS / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", f"uv=={UV_VERSION}"], check=True)
    cmd = [str(uv), "pip", "compile", "requirements-dev.txt", *LOCK_TARGET, "--generate-hashes",
           "--custom-compile-command", "python3 dev.py lock", "--output-file", LOCK.name, "--quiet"]
    subprocess.run(cmd, cwd=ROOT, check=True)
    say(f"wrote {LOCK.name} ({len(locked_versions())} distributions); `python3 dev.py test` syncs .venv/")
    return 0


def main(argv):
    commands = {"demo": ["-m", "coursetools", "demo"], "test": ["-m", "pytest"], "python": []}
    if not argv or argv[0] not in (*commands, "lock"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[0] == "lock":
        return lock()
    if sys.version_info[:2] != (3, 11):
        say(f"error: the course's environment is locked for Python 3.11; this is {sys.version.split()[0]}. "
            "Run dev.py with a Python 3.11 (e.g. `python3.11 dev.py ...`).")
        return 2
    try:
        ensure_venv()
    except subprocess.CalledProcessError as exc:
        say(f"error: installing the environment failed ({exc}); see pip's output above")
        return 1
    env = run_env()
    job, args = argv[0], list(argv[1:])
    note = ensure_system(job, env)
    if job == "test" and "--quick" in args:
        args.remove("--quick")
        args = ["-m", "not slow", *args]
    code = subprocess.run([str(venv_python()), *commands[job], *args], cwd=ROOT, env=env).returncode
    if note:
        say(f"NOTE: {note}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
