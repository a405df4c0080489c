import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # lets tests import the shared `parity` helper

from minigan import backend  # noqa: E402
from minigan.cuda import standin  # noqa: E402


@pytest.fixture
def standin_cuda():
    """Inside the test 'cuda' is the stand-in device: the CUDA code path runs, and is checked, on
    the CPU (minigan/cuda/standin.py). Yields its counter of launches, syncs and copies, reset."""
    standin.counter.reset()
    with backend.use_standin_for_cuda():
        yield standin.counter
