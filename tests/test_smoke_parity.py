import numpy
from parity import assert_matches_torch

rng = numpy.random.default_rng(0)


def test_tanh_of_matmul_matches_torch():
    assert_matches_torch(lambda a, b: (a @ b).tanh(), [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))])
