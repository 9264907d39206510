"""Matplotlib's font list for grading kernels: built once, renamed into place whole, never half-made."""

import json
import subprocess
import sys

import pytest

from coursetools.security import font_cache

from .test_sandbox import _course, run_cells


@pytest.fixture(autouse=True)
def fresh_memo():
    font_cache.font_cache.cache_clear()
    yield
    font_cache.font_cache.cache_clear()


def test_the_font_list_is_built_once_then_reused(tmp_path, monkeypatch):
    folder = font_cache.font_cache(sys.executable, tmp_path)
    assert folder is not None and folder.parent == tmp_path
    [fontlist] = font_cache._fontlists(folder)
    assert json.loads(fontlist.read_text())["ttflist"], "the list names the machine's fonts"
    assert [p.name for p in tmp_path.iterdir()] == [folder.name], "no temporary folder is left behind"
    font_cache.font_cache.cache_clear()

    def no_build(*args, **kwargs):
        raise AssertionError("the font list was built again")

    monkeypatch.setattr(subprocess, "run", no_build)
    assert font_cache.font_cache(sys.executable, tmp_path) == folder


def test_a_failed_build_gives_none_and_leaves_nothing(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    cache = tmp_path / "cache"
    assert font_cache.font_cache(str(broken), cache) is None
    assert list(cache.iterdir()) == []


@pytest.mark.slow
def test_a_sandboxed_kernel_reads_the_prepared_font_list(tmp_path):
    """matplotlib in the grading kernel loads the copied list instead of scanning the fonts again."""
    assert font_cache.font_cache() is not None
    course, sub = _course(tmp_path)
    outs, error, _ = run_cells(course, sub, [
        """
        import logging, os
        logging.basicConfig(level=logging.DEBUG)
        import matplotlib.font_manager
        print(os.environ['MPLCONFIGDIR'], sorted(os.listdir(os.environ['MPLCONFIGDIR'])))
        """,
    ])
    assert error is None
    assert f"Using fontManager instance from {font_cache.KERNEL_MPLCONFIGDIR}/fontlist-v" in outs[0], outs[0]
    assert "generated new fontManager" not in outs[0]
