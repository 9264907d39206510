"""The docs stay true: every link of README.md and docs/*.md resolves, every file path they name exists.

- A relative link (``[x](grading.md)``, ``[x](../coursetools/settings.py)``) must point to a file or
  folder of the repository, resolved from the Markdown file; its anchor (``grading.md#some-heading``,
  ``#some-heading`` in the same file) must be the slug of a heading of the target Markdown file
  (anchors into other files, such as GitHub's ``#L10`` line anchors, are not checked).
  External links (``http:``, ``https:``, ``mailto:``) are not fetched.
- A backticked path such as ``coursetools/grading/report.py`` or ``tests/security/`` must exist when
  it starts with a top-level folder of the repository (a word such as ``utils/rnn.py`` in
  ``source/<assignment>/`` is not checked: it is not a path from the root); the folders nbgrader and
  the course commands fill at run time, and placeholders such as ``release/<assignment>/``, are left
  out (see ``GENERATED`` and ``PLACEHOLDER``).

Markdown is parsed with markdown-it-py, so a link written inside a code span or a fenced block is
not a link, and a path inside a fenced block (a shell session, a config example) is not checked.

The code's own comments and docstrings are held to the same rule: a file they cite must exist.
"""

import ast
import functools
import io
import re
import tokenize
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Folders that only exist at run time (nbgrader's working folders, the course commands' outputs):
# the docs describe what lands there, which no clone holds.
GENERATED = {"submitted", "autograded", "feedback", "reports", "downloaded", "artifacts", ".build"}
# Placeholders and patterns, not paths: `release/<assignment>/`, `source/*/utils/`, `{a,b}.py`, `~/.cache/...`.
PLACEHOLDER = re.compile(r"[<>*{}~$]")
TOP_FOLDERS = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")} - GENERATED
EXTERNAL = ("http:", "https:", "mailto:")


def markdown():
    return MarkdownIt("commonmark").enable("table")


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped (letters, digits, ``-``, ``_``
    and spaces stay), each space a hyphen. ``## 2. Autograding (`course grade`)`` is
    ``2-autograding-course-grade``."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in "-_ ")
    return kept.replace(" ", "-")


def inline_text(inline):
    """The text a heading shows: its words and code spans, without the Markdown around them."""
    return "".join(t.content for t in inline.children if t.type in ("text", "code_inline"))


@functools.cache
def anchors(path):
    """The anchors of a Markdown file's headings; repeated headings get ``-1``, ``-2``, ... like on GitHub."""
    tokens = markdown().parse(path.read_text(encoding="utf-8"))
    seen = set()
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "heading_open":
            continue
        base = candidate = slug(inline_text(inline))
        n = 0
        while candidate in seen:
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
    return seen


def inline_items(path):
    """``(line, token)`` for every link, image and code span of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for block in markdown().parse("\n".join(lines)):
        if block.type != "inline" or not block.children:
            continue
        first, last = block.map
        for token in block.children:
            if token.type == "link_open":
                needle = token.attrGet("href")
            elif token.type == "image":
                needle = token.attrGet("src")
            elif token.type == "code_inline":
                needle = token.content
            else:
                continue
            # Tokens inside a block carry no line of their own: take the block's first line that shows them.
            hits = [i for i in range(first, last) if needle and needle in lines[i]]
            yield (hits[0] if hits else first) + 1, token


def broken_link(md, href):
    """Why a link of ``md`` is broken, or None."""
    if href.startswith(EXTERNAL):
        return None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return f"unexpected link scheme {parts.scheme!r}"
    target = (md.parent / unquote(parts.path)).resolve() if parts.path else md
    if not target.is_relative_to(ROOT):
        return "points outside the repository"
    if not target.exists():
        return "no such file or folder"
    if parts.fragment and target.suffix == ".md" and unquote(parts.fragment) not in anchors(target):
        return f"no heading with anchor #{parts.fragment} in {target.relative_to(ROOT)}"
    return None


def repository_paths(code):
    """The words of a code span that name a path of the repository (see the module docstring)."""
    for word in code.split():
        word = word.strip("`'\",;:()[]").split("::")[0].removeprefix("./")
        if "/" not in word or "://" in word or PLACEHOLDER.search(word):
            continue
        if word.split("/")[0] in TOP_FOLDERS:
            yield word


def relative(md):
    return str(md.relative_to(ROOT))


@pytest.mark.parametrize("md", DOCS, ids=relative)
def test_links_resolve(md):
    broken = []
    for line, token in inline_items(md):
        if token.type == "code_inline":
            continue
        href = token.attrGet("href") if token.type == "link_open" else token.attrGet("src")
        why = broken_link(md, href)
        if why:
            broken.append(f"  {relative(md)}:{line}: ({href}): {why}")
    if broken:
        pytest.fail(f"{len(broken)} broken link(s):\n" + "\n".join(broken), pytrace=False)


@pytest.mark.parametrize("md", DOCS, ids=relative)
def test_backticked_paths_exist(md):
    missing = []
    for line, token in inline_items(md):
        if token.type != "code_inline":
            continue
        for path in repository_paths(token.content):
            if not (ROOT / path).exists():
                missing.append(f"  {relative(md)}:{line}: `{path}` does not exist")
    if missing:
        pytest.fail(f"{len(missing)} stale path(s):\n" + "\n".join(missing), pytrace=False)


def test_slug_follows_github():
    assert slug("2. Autograding (`python -m coursetools grade`)") == "2-autograding-python--m-coursetools-grade"
    assert slug("Who may use the cluster: TLS with certificates") == "who-may-use-the-cluster-tls-with-certificates"
    assert slug("The `zip_collect` plugin") == "the-zip_collect-plugin"


# ----- files cited in the code's own comments and docstrings ------------------------------------

CITED_PATH = re.compile(r"(?<![\w/.-])((?:%s)/[\w/.-]*\w\.(?:py|md|sh|j2|toml|ipynb|txt|json))"
                        % "|".join(sorted(TOP_FOLDERS - {"source", "release"})))
CODE = sorted(p for folder in ("coursetools", "training", "utils", "bench", "tests", "zoo", "deploy")
              for p in (ROOT / folder).rglob("*.py")) + [ROOT / "nbgrader_config.py", ROOT / "dev.py"]


def comments_and_docstrings(path):
    """``[(line, text)]``: the comments and docstrings of a Python file (not its other strings: test data)."""
    source = path.read_text(encoding="utf-8")
    out = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
           if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                out.append((node.body[0].lineno, doc))
    return out


def test_files_cited_in_the_code_exist():
    cited = [(path, line, m) for path in CODE for line, text in comments_and_docstrings(path)
             for m in CITED_PATH.findall(text) if not PLACEHOLDER.search(m)]
    assert len(cited) > 20, "almost no cited path found: the pattern is broken"
    missing = [f"{p.relative_to(ROOT)}:{line}: {m}" for p, line, m in cited if not (ROOT / m).exists()]
    assert not missing, "comments or docstrings cite files that do not exist:\n" + "\n".join(missing)
