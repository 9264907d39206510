#!/usr/bin/env python3
"""Bootstrap and run the course's two jobs with nothing but Python 3.11.

    python3 dev.py demo    # build the release, autograde sample submissions, print the scores
    python3 dev.py test    # run the whole test suite

Both create ``.venv/`` on first use, and refresh it when a requirements file
changes, then run inside it (its ``bin/`` first on PATH, as nbgrader needs).
Extra arguments go to the command, e.g. ``python3 dev.py test -k release``;
``python3 dev.py python ...`` runs the environment's Python (e.g. ``-m coursetools release``).
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
STAMP = VENV / ".requirements.sha256"
COMMANDS = {
    "demo": ["-m", "coursetools", "demo"],
    "test": ["-m", "pytest"],
    "python": [],  # any other job: python3 dev.py python -m coursetools release
}


def requirements_hash():
    h = hashlib.sha256()
    for name in REQUIREMENTS:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def venv_python():
    return VENV / "bin" / "python"


def ensure_venv():
    """Create or refresh .venv so that it matches the requirements files."""
    if sys.version_info[:2] != (3, 11):
        print(f"note: the course targets Python 3.11; this is {sys.version.split()[0]}", file=sys.stderr)
    wanted = requirements_hash()
    if venv_python().exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not venv_python().exists():
        print(f"creating {VENV.name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing requirements (first run takes a few minutes) ...", flush=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["-r", str(ROOT / "requirements-dev.txt")], check=True)
    STAMP.write_text(wanted + "\n")


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        ensure_venv()
    except subprocess.CalledProcessError as exc:
        print(f"error: installing the environment failed ({exc}); see the pip output above", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = str(VENV / "bin") + os.pathsep + env.get("PATH", "")
    cmd = [str(venv_python()), *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
