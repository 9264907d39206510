"""Helpers for the Dinosaurus Island notebooks.

``from utils import *`` gives the numpy RNN helpers of :mod:`utils.rnn` and
never imports TensorFlow. The Keras helpers of the optional Shakespeare
notebook live in :mod:`utils.shakespeare` and are imported explicitly.
"""

from .rnn import *  # noqa: F401,F403
from .rnn import __all__  # noqa: F401
