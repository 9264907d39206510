"""Hidden tests: where they are in a cell, and how to find them in what a student may read.

An instructor's test cell may hold a ``### BEGIN HIDDEN TESTS`` ...
``### END HIDDEN TESTS`` block. Its lines must never reach a student: not in
the released notebook (nbgrader removes the block), not in feedback
(:func:`hide_in_cell`: the block becomes one comment line, traceback frames
that quote it become a placeholder, other outputs of the cell one line), and
not in any other output, plainly or encoded (:func:`hidden_lines`,
:func:`find_encoded`: the leak scans of :mod:`coursetools.security.feedback_html`
and :mod:`coursetools.grading.feedback`). The trusted tests
(:mod:`coursetools.security.trusted_tests`) use the same placeholder for a
failed hidden check.
"""

import base64
import codecs
import re

from nbformat.v4 import new_output

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PLACEHOLDER_SOURCE = "# (hidden tests: not shown)"
PLACEHOLDER_FRAME = "[a hidden test failed here: its code is not shown]"
PLACEHOLDER_OUTPUT = "[the output of the hidden tests is not shown]\n"
MIN_SECRET_LEN = 12  # shorter lines ("return r", "])") say nothing about a test
MIN_ENCODED = 16  # shortest encoded core searched for (shorter ones would match by chance)


def strip_ansi(text):
    return ANSI.sub("", text)


def split_hidden(source):
    """``(visible source, list of hidden lines)`` of a cell; the markers themselves count as hidden."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            inside = True
            hidden.append(line)
            visible.append(PLACEHOLDER_SOURCE)
            continue
        if marker == END:
            inside = False
            hidden.append(line)
            continue
        (hidden if inside else visible).append(line)
    return "\n".join(visible), hidden


def hidden_lines(source, public_text=""):
    """The hidden lines of ``source`` worth scanning for: stripped, long enough, not also public.

    ``public_text`` is what students see anyway (the released notebook): a line
    that also appears there is no secret.
    """
    _, hidden = split_hidden(source)
    public = {ln.strip() for ln in public_text.splitlines()}
    out = []
    for line in hidden:
        s = line.strip()
        if len(s) >= MIN_SECRET_LEN and s not in public and s not in (BEGIN, END):
            out.append(s)
    return out


def _frame_is_secret(frame, secrets):
    plain = strip_ansi(frame)
    return any(s in plain for s in secrets)


def clean_traceback(traceback, secrets, ename, evalue):
    """Traceback frames without hidden lines, then ``ename: evalue``."""
    kept = []
    for frame in traceback[:-1]:
        if _frame_is_secret(frame, secrets):
            if not kept or kept[-1] != PLACEHOLDER_FRAME:
                kept.append(PLACEHOLDER_FRAME)
        else:
            kept.append(frame)
    last = f"\x1b[0;31m{ename}\x1b[0m: {evalue}"
    if _frame_is_secret(last, secrets):
        last = f"\x1b[0;31m{ename}\x1b[0m: (message not shown: it quotes a hidden test)"
    kept.append(last)
    return kept


def hide_in_cell(cell):
    """Rewrite one cell in place if it holds hidden tests; return True when it did."""
    if cell.get("cell_type") != "code":
        return False
    visible, hidden = split_hidden(cell.source)
    if not hidden:
        return False
    secrets = [ln.strip() for ln in hidden if len(ln.strip()) >= MIN_SECRET_LEN]
    cell.source = visible
    outputs, noted = [], False
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            out["traceback"] = clean_traceback(out.get("traceback", []), secrets, out.get("ename", "Error"), out.get("evalue", ""))
            if _frame_is_secret(out.get("evalue", ""), secrets):
                out["evalue"] = "(message not shown: it quotes a hidden test)"
            outputs.append(out)
        elif not noted:
            noted = True
            outputs.append(new_output("stream", name="stdout", text=PLACEHOLDER_OUTPUT))
    cell["outputs"] = outputs
    return True


def _b64_cores(data):
    """Parts of base64(x + data + y) that are the same for any x and y: one per alignment."""
    cores = []
    for pad in range(3):
        enc = base64.b64encode(bytes(pad) + data).decode()
        start = {0: 0, 1: 2, 2: 3}[pad]
        end = (pad + len(data)) // 3 * 4
        core = enc[start:end]
        if len(core) >= MIN_ENCODED:
            cores.append(core)
    return cores


def encoded_forms(secret):
    """``{name: [strings]}``: how ``secret`` looks base64-encoded (standard and URL-safe, any alignment),
    hex-encoded, reversed and ROT13ed. Search for them with :func:`find_encoded`."""
    data = secret.encode()
    b64 = _b64_cores(data)
    forms = {"base64": b64, "base64 (URL-safe)": [c.translate(str.maketrans("+/", "-_")) for c in b64]}
    forms["hex"] = [data.hex()] if len(data) * 2 >= MIN_ENCODED else []
    forms["reversed"] = [secret[::-1]]
    forms["rot13"] = [codecs.encode(secret, "rot13")] if codecs.encode(secret, "rot13") != secret else []
    return forms


def find_encoded(text, secrets):
    """``[(secret, encoding)]`` for each secret found in ``text`` in one of :func:`encoded_forms`."""
    squeezed = re.sub(r"\s+", "", text)  # base64 is often wrapped at 76 characters
    lowered = squeezed.lower()
    found = []
    for secret in secrets:
        for name, forms in encoded_forms(secret).items():
            if name == "hex":
                hit = any(f in lowered for f in forms)
            elif name in ("reversed", "rot13"):
                hit = any(f in text for f in forms)
            else:
                hit = any(f in squeezed for f in forms)
            if hit:
                found.append((secret, name))
                break
    return found
