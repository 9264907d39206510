"""Shared fixtures: the repository root on sys.path, the dataset, the reference solution."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def names_data():
    """``(data, char_to_ix, ix_to_char)`` exactly as the notebook builds them."""
    from coursetools.expected_output import load_names_data

    return load_names_data()


@pytest.fixture(scope="session")
def solution():
    """The reference clip/sample/optimize/model from the source notebook."""
    from coursetools.solution import load_solution

    return load_solution("dinosaurus_island")
