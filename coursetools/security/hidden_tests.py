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
import binascii
import bz2
import codecs
import lzma
import re
import zlib

from nbformat.v4 import new_output

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PLACEHOLDER_SOURCE = "# (hidden tests: not shown)"
PLACEHOLDER_FRAME = "[a hidden test failed here: its code is not shown]"
PLACEHOLDER_OUTPUT = "[the output of the hidden tests is not shown]\n"
MIN_SECRET_LEN = 12  # shorter lines ("return r", "])") say nothing about a test
MIN_ENCODED = 16  # shortest encoded core searched for (shorter ones would match by chance)
MAX_DECODE_DEPTH = 3  # layers of encoding undone: base64(zlib(hex(x))) is three
MAX_DECODED_BYTES = 8 * 1024**2  # decoded and inflated per scanned text, in all (a page's figures are far less)
MAX_SHIFTED_RUN = 64 * 1024  # base64 runs up to this long are also decoded from their 2nd, 3rd and 4th character
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")


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


def _squeeze(text):
    return re.sub(r"\s+", "", text)


def _inflate(data, budget):
    """``data`` decompressed as zlib, gzip, bz2 or lzma (at most ``budget`` bytes), or None."""
    if budget <= 0:  # zlib reads a max_length of 0 as "no limit"
        return None
    for make in (lambda: zlib.decompressobj(wbits=47), bz2.BZ2Decompressor, lzma.LZMADecompressor):  # 47: zlib or gzip
        try:
            inflated = make().decompress(data, budget)
        except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
            continue
        if inflated:
            return inflated
    return None


def _mostly_text(data):
    """Whether ``data`` reads as text: at least 90% printable ASCII or whitespace (UTF-8 text of code does)."""
    sample = data[:4096]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    return bool(sample) and printable >= 0.9 * len(sample)


def decoded_texts(text, depth=MAX_DECODE_DEPTH, budget=None):
    """``[(how, text)]``: what ``text`` carries in base64 or hex runs, decoded, and inflated when compressed
    (zlib, gzip, bz2, lzma), down to ``depth`` layers (``base64(zlib(hex(x)))``). At most
    :data:`MAX_DECODED_BYTES` are decoded in all, so a page full of data never costs the grader more."""
    budget = budget if budget is not None else [MAX_DECODED_BYTES]
    found = []
    if depth <= 0 or budget[0] <= 0:
        return found
    squeezed = _squeeze(text)
    runs = [("base64", m.group(0)) for m in _B64_RUN.finditer(squeezed)]
    runs += [("hex", m.group(0)) for m in _HEX_RUN.finditer(squeezed)]
    for kind, run in runs:
        if budget[0] <= 0:
            break
        for data in _decodings(kind, run, budget[0]):
            budget[0] -= len(data)
            layers = [(kind, data)]
            inflated = _inflate(data, budget[0])
            if inflated:
                budget[0] -= len(inflated)
                layers.append((f"compressed {kind}", inflated))
            for how, raw in layers:
                if not _mostly_text(raw):
                    continue  # random bytes (an image, a wrong alignment): nothing a student wrote in there
                inner = raw.decode("utf-8", errors="ignore")
                found.append((how, inner))
                found += [(f"{inner_how} in {how}", x) for inner_how, x in decoded_texts(inner, depth - 1, budget)]
    return found


def _decodings(kind, run, budget):
    """The bytes ``run`` may stand for: hex; or base64 (standard and URL-safe; for a short run, every
    alignment, since text before it may have run into it). Never more than ``budget`` bytes each."""
    run = run[: budget * 2]  # neither encoding is denser than two characters a byte
    if kind == "hex":
        return [bytes.fromhex(run[: len(run) // 2 * 2])]
    out = []
    for table in (None, str.maketrans("-_", "+/")):
        body = (run.translate(table) if table else run).rstrip("=")
        for skip in range(4 if len(body) <= MAX_SHIFTED_RUN else 1):
            part = body[skip:]
            part = part[: len(part) - len(part) % 4] + ("" if len(part) % 4 < 2 else part[len(part) - len(part) % 4:])
            try:
                out.append(base64.b64decode(part + "=" * (-len(part) % 4), validate=True))
            except (binascii.Error, ValueError):
                continue
    return out


def find_encoded(text, secrets):
    """``[(secret, encoding)]`` for each secret that ``text`` shows other than plainly: base64 (standard or
    URL-safe, any alignment, wrapped), hex, compressed (zlib, gzip, bz2, lzma) inside either, reversed,
    ROT13, and any of these upper- or lower-cased. Plain (any case) is the caller's to look for."""
    squeezed = _squeeze(text)
    folded = squeezed.casefold()
    decoded = [(how, _squeeze(inner).casefold()) for how, inner in decoded_texts(text)]
    found = []
    for secret in secrets:
        wanted = _squeeze(secret).casefold()
        how = None
        for name, forms in encoded_forms(secret).items():
            if name in ("hex", "reversed", "rot13"):
                hit = any(_squeeze(f).casefold() in folded for f in forms)
            else:
                hit = any(f in squeezed for f in forms)
            if hit:
                how = name
                break
        if how is None:
            how = next((h for h, inner in decoded if wanted in inner), None)
        if how is not None:
            found.append((secret, how))
    return found
