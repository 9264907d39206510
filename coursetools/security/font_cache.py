"""Matplotlib's font list for grading kernels, built once per machine instead of once per submission.

A grading kernel starts with an empty home (its scratch folder), so
``import matplotlib.pyplot`` in the notebook's imports cell would scan the
machine's fonts and write ``fontlist-vNNN.json`` again for every submission,
a noticeable part of every notebook's imports cell (docs/grading.md, "Speed,
measured"). :func:`font_cache` builds that file once, with
the grader's Python and an empty home, in ``settings.CACHE_DIR``; the
sandbox mounts it read-only and the kernel launcher copies it into the
kernel's ``MPLCONFIGDIR`` (:data:`KERNEL_MPLCONFIGDIR`, in the sandbox's
``/tmp``), where matplotlib finds and may rewrite it.

The file holds the paths and names of the fonts the sandbox can read too (the
system's and matplotlib's own); no submission's code runs while it is built.
When it cannot be built (no matplotlib, a failed build), kernels build their
own as before.
"""

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from .. import settings

INSIDE = "/run/grading/matplotlib"  # where the sandbox mounts the cache, read-only
KERNEL_MPLCONFIGDIR = "/tmp/matplotlib"  # the kernel's own, writable copy
BUILD_TIMEOUT_S = 300
BUILD_CODE = "import matplotlib.font_manager"


def _fontlists(folder):
    return sorted(Path(folder).glob("fontlist-v*.json"))


@functools.lru_cache(maxsize=None)
def font_cache(python=sys.executable, cache_dir=None):
    """The folder holding matplotlib's font list for ``python`` (built on first use), or None.

    Built in a temporary folder and renamed into place, so graders building
    it at once (parallel workers) never see half a file.
    """
    try:
        version = metadata.version("matplotlib")
    except metadata.PackageNotFoundError:
        return None
    cache_dir = Path(cache_dir or settings.CACHE_DIR)
    tag = hashlib.sha256(python.encode()).hexdigest()[:12]
    final = cache_dir / f"matplotlib-{version}-{tag}"
    if _fontlists(final):
        return final
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".matplotlib-", dir=cache_dir))
    except OSError:
        return None
    try:
        config, home = work / "config", work / "home"
        config.mkdir()
        home.mkdir()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "MPLCONFIGDIR": str(config), "MPLBACKEND": "Agg"}
        proc = subprocess.run([python, "-c", BUILD_CODE], env=env, cwd=home, capture_output=True,
                              timeout=BUILD_TIMEOUT_S)
        if proc.returncode != 0 or not _fontlists(config):
            return None
        config.chmod(0o755)
        for f in _fontlists(config):
            f.chmod(0o644)
        try:
            config.rename(final)
        except OSError:
            pass  # another grader made it first
        return final if _fontlists(final) else None
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
