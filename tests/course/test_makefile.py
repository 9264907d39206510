"""The Makefile is a short alias list: every target runs a dev.py command or a verb of the course CLI."""

import importlib.util
import re

from coursetools.cli import parser
from coursetools.settings import ROOT


def dev_commands():
    """The commands dev.py documents (its usage text, which it prints for an unknown command)."""
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    return set(re.findall(r"python3 dev\.py (\w+)", dev.__doc__))


def cli_verbs():
    sub = next(a for a in parser()._actions if a.dest == "command")
    return set(sub.choices)


def make_targets():
    """``{target: [recipe lines]}`` of the Makefile."""
    targets, current = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([\w-]+):", line)
        if m:
            current = targets.setdefault(m.group(1), [])
        elif line.startswith("\t") and current is not None:
            current.append(line.strip())
    return targets


def test_every_make_target_is_a_dev_command_or_a_cli_verb():
    dev, verbs = dev_commands(), cli_verbs()
    targets = make_targets()
    assert targets, "the Makefile has no target"
    for target, recipe in targets.items():
        assert len(recipe) == 1, f"make {target}: one command per alias, got {recipe}"
        dev_cmd = re.search(r"\$\(PYTHON\) dev\.py ([\w-]+)", recipe[0])
        course_cmd = re.search(r"\$\(COURSE\) ([\w-]+)", recipe[0])
        if course_cmd:
            assert course_cmd.group(1) in verbs, f"make {target}: no CLI verb {course_cmd.group(1)!r}"
        else:
            assert dev_cmd and dev_cmd.group(1) in dev, f"make {target}: not a dev.py command: {recipe[0]}"


def test_the_course_alias_is_the_cli():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^COURSE = \$\(PYTHON\) dev\.py python -m coursetools$", text, re.M)
