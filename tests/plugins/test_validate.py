"""Validate shows each failing test's whole message first (coursetools/plugins/validate.py)."""

import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.validator import Validator

from coursetools.plugins import validate
from coursetools.settings import ROOT

MESSAGE = ("every value of dWax became -10.0: the bounds are swapped. The lower bound is -maxValue, the upper "
           "one maxValue, and this sentence goes on well past ninety characters so that nbgrader would cut it")


def failed_cell():
    cell = nbformat.v4.new_code_cell(source='"""Check clip()."""\n' + "\n".join(f"x{i} = {i}" for i in range(20)))
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=MESSAGE, traceback=[
        "\x1b[0;31m---------\x1b[0m", "\x1b[0;31mAssertionError\x1b[0m Traceback (most recent call last)",
        f"\x1b[0;31mAssertionError\x1b[0m: {MESSAGE}"])]
    return cell


def test_the_message_comes_first_whole_and_wrapped_never_cut():
    v = validate.install()(width=60)
    assert validate.install() is Validator and Validator._extract_error is validate.error_text  # idempotent
    text = v._extract_error(failed_cell())
    assert text.startswith("AssertionError: every value of dWax")
    message_part = text.split("\n\nTraceback:")[0]
    assert " ".join(message_part.split()) == f"AssertionError: {MESSAGE}"  # whole, only wrapped
    assert "\x1b" not in text
    shown = v._indent(text)
    assert all(len(line) <= 60 for line in shown.splitlines())
    assert " ".join(shown.split()).count("would cut it") == 2  # in the message and in the traceback, never cut


def test_the_cell_is_shown_after_the_message_and_short():
    short = validate.short_source(failed_cell().source)
    assert short.splitlines()[0] == '"""Check clip()."""' and len(short.splitlines()) == 4
    assert short.endswith("(18 more lines: the whole cell is in your notebook)")
    assert validate.short_source("a = 1") == "a = 1"


@pytest.mark.slow
def test_nbgrader_validate_prints_the_message_first(tmp_path):
    """The real command, with the course's config, on a notebook whose clip has its bounds swapped."""
    from zoo.build import _edit, _replace, filled

    release = ROOT / "release" / "dinosaurus_island" / "Dinosaurus_Island.ipynb"
    nb = filled(nbformat.read(release, as_version=4),
                nbformat.read(ROOT / "source" / "dinosaurus_island" / "Dinosaurus_Island.ipynb", as_version=4))
    _edit(nb, "clip", lambda s: _replace(s, "np.clip(gradient, -maxValue, maxValue, out=gradient)",
                                         "np.clip(gradient, maxValue, -maxValue, out=gradient)"))
    folder = tmp_path / "dinosaurus_island"
    shutil.copytree(release.parent, folder, ignore=shutil.ignore_patterns("*.ipynb"))
    nbformat.write(nb, folder / "Dinosaurus_Island.ipynb")
    out = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(folder / "Dinosaurus_Island.ipynb")],
                         cwd=ROOT, capture_output=True, text=True, timeout=900).stdout
    after = out.split("A test failed. What it says:", 1)[1]
    first = " ".join(after.split("Traceback:")[0].split())
    assert first == ("AssertionError: every value of dWax became -10.0: the bounds are swapped. The lower bound is "
                     "-maxValue, the upper one maxValue"), out[:3000]
    assert after.index("In the cell that starts with:") > after.index("Traceback:")
