"""The course's lock, ``requirements.lock``: which version of each distribution.

Standard library only: ``dev.py`` reads the lock with it before any environment exists.
"""

from pathlib import Path


def canonical_name(name):
    """A distribution's canonical name (PEP 503): ``Jupyter_Server`` -> ``jupyter-server``."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def locked_versions(lock):
    """``{canonical name: version}`` of every ``name==version`` line of the lock file ``lock``."""
    pins = {}
    for line in Path(lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip().rstrip("\\").strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[canonical_name(name)] = version.split(";")[0].strip()
    return pins
