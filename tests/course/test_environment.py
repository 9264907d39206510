"""The conda environment and the pip requirements describe the same course environment."""

import re

import yaml

from coursetools.settings import ROOT


def pip_requirements(path):
    reqs = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        name, _, version = line.partition("==")
        assert version, f"{path}: pin an exact version for {name!r}"
        reqs[re.sub(r"[-_.]+", "-", name.lower())] = version
    return reqs


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps, "environment.yml must pin python=3.11"
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml should have one pip: section"
    reqs = {}
    for line in pip_lists[0]:
        name, _, version = line.partition("==")
        reqs[re.sub(r"[-_.]+", "-", name.lower())] = version
    return reqs


def test_environment_yml_and_requirements_agree():
    assert conda_requirements() == pip_requirements("requirements.txt")


def test_requirements_cover_the_design_card():
    reqs = pip_requirements("requirements.txt")
    for name in ("jupyterlab", "numpy", "nbgrader", "matplotlib", "tensorflow", "tqdm"):
        assert name in reqs, f"requirements.txt lacks {name}"
