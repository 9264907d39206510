"""Validate shows each failing test's whole message first: ``nbgrader validate`` and the hub's Validate button.

nbgrader's ``Validator`` (0.9) shows a failed cell's whole source first (the
visible tests are long), then its traceback with every line cut at
``Validator.width`` (90) characters, so the sentence that says what to fix is
cut and comes last; the hub's dialog shows the same in a box that does not
wrap. Neither the command nor the server extension lets a config choose
another validator class: both build ``nbgrader.validator.Validator``. So the
course's ``nbgrader_config.py`` and the hub's (``deploy/jupyterhub/jupyter-config/common``)
call :func:`install`, which gives that class these methods of this module:

- :func:`error_text`: for each error, the message first (``AssertionError: ...``,
  whole, wrapped at ``width``), then the traceback without terminal colours;
- :func:`indented`: long lines are wrapped, never cut;
- :func:`validate`: the hub's dialog shows a failed cell's ``source`` first (plain
  text) and its ``error`` under it (HTML), in boxes that do not wrap; so for the
  dialog ``source`` becomes the whole message (wrapped), then the cell's first lines
  (the test's docstring), and ``error`` the rest (traceback, stderr), every line
  wrapped at ``width``. A notebook without any graded, locked or solution cell (the
  optional notebooks) is not run at all: nbgrader checks nothing in it, so running it
  could only cost minutes (their training cells) before the same "Success!".

The command line prints the message first too (:func:`print_error`, through
:func:`validate_and_print`, which keeps ``source`` and ``raw_error`` apart).
"""

import os
import textwrap

import nbformat
from nbconvert.filters import ansi2html
from nbgrader import utils as nbgrader_utils
from nbgrader import validator as nbgrader_validator

from ..security.hidden_tests import strip_ansi

SOURCE_LINES = 3  # lines of a failed cell's source shown under its message
TRACEBACK = "\n\nTraceback:\n"  # between an error's message and its traceback in :func:`error_text`


def _wrap(text, width):
    """``text`` with every line wrapped at ``width`` (nothing cut), keeping each line's indentation."""
    out = []
    for line in text.split("\n"):
        indent = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, width=max(width, 20), subsequent_indent=indent + "  ", break_long_words=True,
                             break_on_hyphens=False, drop_whitespace=False) or [""]
    return "\n".join(out)


def error_text(self, cell):
    """What went wrong in ``cell``: every error's whole message first, then its traceback (no colours)."""
    if cell.cell_type == "code":
        parts = []
        for output in cell.outputs:
            if output.output_type == "error":
                message = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
                tb = strip_ansi("\n".join(output.traceback)).rstrip()
                parts.append(_wrap(message, self.width - len(self.indent)) + (TRACEBACK + tb if tb else ""))
            elif output.output_type == "stream" and output.name == "stderr":
                parts.append(strip_ansi(output.text or ""))
        if parts:
            return "\n\n".join(parts)
    return _original["_extract_error"](self, cell)


def indented(self, text):
    """``text`` indented by ``Validator.indent``, long lines wrapped at ``width`` (nbgrader cuts them)."""
    return "\n".join(self.indent + line for line in _wrap(strip_ansi(text or ""), self.width - len(self.indent)).split("\n"))


def short_source(source, lines=SOURCE_LINES):
    """The first ``lines`` lines of a cell (its docstring, for a test cell), and how many more there are."""
    all_lines = source.strip().split("\n")
    head = "\n".join(all_lines[:lines])
    more = len(all_lines) - lines
    return head + (f"\n... ({more} more lines: the whole cell is in your notebook)" if more > 0 else "")


def print_error(self, source, error):
    """The command line's report of a failed cell: the message first, then the start of the cell."""
    self.stream.write("\n" + "=" * self.width + "\n")
    self.stream.write("A test failed. What it says:\n\n")
    self.stream.write(self._indent(error) + "\n\n")
    self.stream.write("In the cell that starts with:\n\n")
    self.stream.write(self._indent(source) + "\n\n")  # already shortened by :func:`validate`


def checks_anything(path):
    """Whether nbgrader's Validate checks anything in the notebook at ``path``: a graded, locked or solution cell."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    return any(nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell) or nbgrader_utils.is_locked(cell)
               for cell in nb.cells)


def for_dialog(failed, width):
    """A failed cell's entry as the hub's dialog shows it: ``source`` (its first box) the whole message, then the
    cell's first lines; ``error`` (the second box, HTML) the traceback and the rest; every line wrapped at ``width``."""
    message, _, rest = failed.get("raw_error", "").partition(TRACEBACK)
    rest = ("Traceback:\n" + rest) if rest else ""
    failed["source"] = (_wrap(message.strip(), width) + "\n\nIn the cell that starts with:\n\n"
                        + _wrap(failed.get("source", ""), width))
    failed["error"] = ansi2html(_wrap(rest, width))  # escapes the text: the dialog sets it as innerHTML
    return failed


def validate(self, filename):
    """nbgrader's results, each failed cell's source shortened and, for the hub's dialog, its message first.

    A notebook with nothing to check is not run (the same empty result nbgrader would return after running it).
    """
    if not self.validate_all and not checks_anything(filename):
        self.log.info("Validating '%s': no graded, locked or solution cell, nothing to check: not run",
                      os.path.abspath(filename))
        return {}
    results = _original["validate"](self, filename)
    for failed in results.get("failed", []):
        failed["source"] = short_source(failed.get("source", ""))
        if not getattr(self, "_printing", False):
            for_dialog(failed, self.width - len(self.indent))
    return results


def validate_and_print(self, filename):
    """The command line's Validate: :func:`print_error` gets each failed cell's own (short) source."""
    self._printing = True
    try:
        return _original["validate_and_print"](self, filename)
    finally:
        self._printing = False


_original = {}
PATCHED = {"_extract_error": error_text, "_indent": indented, "_print_error": print_error, "validate": validate,
           "validate_and_print": validate_and_print}


def install(cls=nbgrader_validator.Validator):
    """Give nbgrader's Validator the course's methods (idempotent)."""
    for name, function in PATCHED.items():
        current = getattr(cls, name)
        if current is function:
            continue
        _original.setdefault(name, current)
        setattr(cls, name, function)
    return cls
