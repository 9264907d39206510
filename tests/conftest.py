"""Shared fixtures: the dataset, the reference solution.

``tests`` is a package, so pytest puts the repository root on ``sys.path``
(``utils``, ``training`` and ``zoo`` import from there); ``coursetools``
is installed (``pip install -e .``).
"""

import pytest


@pytest.fixture(scope="session")
def names_data():
    """``(data, char_to_ix, ix_to_char)`` exactly as the notebook builds them."""
    from training.expected_output import load_names_data

    return load_names_data()


@pytest.fixture(scope="session")
def solution():
    """The reference clip/sample/optimize/model from the source notebook."""
    from coursetools.settings import DEFAULT_ASSIGNMENT
    from coursetools.solution import load_solution

    return load_solution(DEFAULT_ASSIGNMENT)
