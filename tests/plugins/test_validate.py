"""Validate shows each failing test's whole message first (coursetools/plugins/validate.py)."""

import html
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


def graded_notebook(path, test_source):
    """A one-test notebook as nbgrader releases it: a grade cell with ``test_source``."""
    cell = nbformat.v4.new_code_cell(source=test_source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test-clip", "locked": True, "points": 1,
                                 "solution": False, "schema_version": 3}
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_the_hubs_dialog_gets_the_message_first_then_the_cell_every_line_wrapped(tmp_path):
    """What the Validate button's dialog shows: its first box (``source``) starts with the whole message, the
    test's first lines come after it; its second box (``error``, set as HTML) holds the traceback, escaped."""
    source = ('"""Check clip() <b>and</b> friends."""\n' + "\n".join(f"x{i} = {i}" for i in range(10))
              + f"\nraise AssertionError({MESSAGE!r} + ' <script>x</script> ' + 'y' * 150)")
    path = graded_notebook(tmp_path / "nb.ipynb", source)
    v = validate.install()()
    [failed] = v.validate(str(path))["failed"]
    box1, box2 = failed["source"], failed["error"]
    message, cell = box1.split("\n\nIn the cell that starts with:\n\n")
    assert " ".join(message.split()).startswith(f"AssertionError: {MESSAGE}")  # first, whole
    assert message.rstrip().endswith("y" * 10)  # never cut
    assert cell.startswith('"""Check clip() <b>and</b> friends."""') and "more lines" in cell
    assert all(len(line) <= v.width for line in (box1 + "\n" + html.unescape(box2)).splitlines())
    assert box2.startswith("Traceback:") and "<script>" not in box2 and "&lt;script&gt;" in box2
    assert failed["raw_error"].startswith("AssertionError: every value of dWax")  # the command line's, unchanged


def test_a_notebook_without_anything_to_check_is_not_run(tmp_path, monkeypatch):
    """The optional notebooks have no graded, locked or solution cell: nbgrader would run them for minutes (their
    training cells) and then say Success whatever happened; the course's Validate says it without running them."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(600)")])
    nbformat.write(nb, tmp_path / "optional.ipynb")
    v = validate.install()()
    monkeypatch.setitem(validate._original, "validate",
                        lambda self, filename: pytest.fail("the notebook was run"))
    assert v.validate(str(tmp_path / "optional.ipynb")) == {}
    assert not validate.checks_anything(tmp_path / "optional.ipynb")
    assert validate.checks_anything(graded_notebook(tmp_path / "graded.ipynb", "assert True"))
    for name in ("Writing_Like_Shakespeare.ipynb", "Going_Further.ipynb"):  # the released optional notebooks
        assert not validate.checks_anything(next((ROOT / "release").glob(f"*/{name}")))
