import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
# the shared `parity` helper, and the example scripts (so that any test file runs on its own)
sys.path[:0] = [TESTS, os.path.join(os.path.dirname(TESTS), "examples")]

from minigan import backend  # noqa: E402
from minigan.testing import standin  # noqa: E402


class _NoCounterOnARealGpu:
    """With MINIGAN_TEST_REAL_CUDA=1 (benchmarks/gpu_check.py on a GPU) 'cuda' is the real GPU, and
    nothing counts its launches: a test that reads a count is skipped there (never in CI)."""

    def __getattr__(self, name):
        pytest.skip(f"counts the stand-in device's {name}; on a real GPU use a profiler")


@pytest.fixture
def standin_cuda():
    """Inside the test 'cuda' is the stand-in device: the CUDA code path runs, and is checked, on
    the CPU (minigan/testing/standin.py). Yields its counter of launches, syncs and copies, reset."""
    if os.environ.get("MINIGAN_TEST_REAL_CUDA") == "1":
        yield _NoCounterOnARealGpu()
        return
    standin.counter.reset()
    with standin.use_for_cuda():
        yield standin.counter


@pytest.fixture(scope="session")
def mnist_fixture(tmp_path_factory):
    """A folder with 96 made-up 'digits' and labels in MNIST's IDX format: data for short runs of
    the examples."""
    import numpy

    from minigan.data import write_idx
    folder = tmp_path_factory.mktemp("mnist")
    rng = numpy.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (96, 28, 28), dtype=numpy.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 96, dtype=numpy.uint8))
    return str(folder)
