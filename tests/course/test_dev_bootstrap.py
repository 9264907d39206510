"""dev.py, the README's two commands: what it sets up, and what it says when it cannot."""

import importlib.util
import subprocess

import pytest

from coursetools.settings import ROOT


@pytest.fixture()
def dev(monkeypatch):
    spec = importlib.util.spec_from_file_location("dev_bootstrap", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_system(monkeypatch, dev, *, root, present):
    """Pretend to be (not) root with only the commands ``present`` on PATH; record script runs."""
    runs = []
    monkeypatch.setattr(dev.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(dev.shutil, "which", lambda cmd: f"/usr/bin/{cmd}" if cmd in present else None)

    def run(cmd, **kwargs):
        runs.append(cmd)
        present.update(c for part in cmd[2:] for c in dev.SYSTEM_PARTS[part])  # the script installs them
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(dev.subprocess, "run", run)
    return runs


def test_root_installs_what_the_tests_miss_and_says_so_in_one_line(dev, monkeypatch, capsys):
    runs = fake_system(monkeypatch, dev, root=True, present={"bwrap"})
    env = {}
    assert dev.ensure_system("test", env) == ""
    assert runs == [["bash", str(ROOT / dev.SYSTEM_SCRIPT), "sandbox", "hub"]]
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and "chromium" in said[0] and dev.SYSTEM_SCRIPT in said[0]
    assert "DINO_SKIP_E2E" not in env


def test_root_with_everything_present_installs_nothing(dev, monkeypatch, capsys):
    present = {c for cmds in dev.SYSTEM_PARTS.values() for c in cmds}
    runs = fake_system(monkeypatch, dev, root=True, present=present)
    assert dev.ensure_system("test", {}) == "" and runs == []
    assert capsys.readouterr().out == ""


def test_demo_needs_only_the_sandbox(dev, monkeypatch):
    runs = fake_system(monkeypatch, dev, root=True, present=set())
    dev.ensure_system("demo", {})
    assert runs == [["bash", str(ROOT / dev.SYSTEM_SCRIPT), "sandbox"]]


def test_not_root_skips_the_hub_test_with_the_command_to_run(dev, monkeypatch, capsys):
    runs = fake_system(monkeypatch, dev, root=False, present={"bwrap"})
    env = {}
    note = dev.ensure_system("test", env)
    assert runs == [], "never tries apt-get without root"
    assert env["DINO_SKIP_E2E"] == note and "sudo bash deploy/install-system-deps.sh" in note
    assert "chromium" in note and "DINO_SYSTEM_MISSING" not in env
    assert capsys.readouterr().out.strip().count("\n") == 0, "one line"


def test_not_root_without_bubblewrap_names_it(dev, monkeypatch):
    fake_system(monkeypatch, dev, root=False, present=set())
    env = {}
    dev.ensure_system("test", env)
    assert "bwrap" in env["DINO_SYSTEM_MISSING"]


def test_failed_install_stops_with_a_message(dev, monkeypatch, capsys):
    monkeypatch.setattr(dev.os, "geteuid", lambda: 0)
    monkeypatch.setattr(dev.shutil, "which", lambda cmd: None)
    monkeypatch.setattr(dev.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 100))
    with pytest.raises(SystemExit) as stop:
        dev.ensure_system("demo", {})
    assert stop.value.code == 1 and "failed (exit 100)" in capsys.readouterr().out


def test_unknown_command_prints_usage(dev, capsys):
    assert dev.main(["frobnicate"]) == 2
    assert "python3 dev.py test --quick" in capsys.readouterr().err


def test_lock_pins_parse_like_pip(dev):
    pins = dev.locked_versions()
    assert pins["numpy"] and pins["nbgrader"] and "pip" not in pins
