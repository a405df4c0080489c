"""The random generator behind rand, randn, dropout and initialisation, seeded by manual_seed."""
import numpy

_generator = numpy.random.default_rng()


def manual_seed(seed):
    """Seed minigan's generator: the same seed repeats a run exactly."""
    global _generator
    _generator = numpy.random.default_rng(seed)
    return _generator


def generator():
    """The generator in use (a numpy.random.Generator)."""
    return _generator


def get_rng_state():
    """The generator's state as a plain dict, for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state):
    _generator.bit_generator.state = state
