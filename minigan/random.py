"""The random generators behind rand, randn, dropout and initialisation, seeded by manual_seed.

Each device draws from its own generator, made by its array library from the seed: numpy's
`default_rng(seed)` on 'cpu', CuPy's `cupy.random.default_rng(seed)` on 'cuda' (the stand-in
device's mirrors it). They are made on first use, so seeding never touches a GPU, and both offer
`random`, `standard_normal`, `uniform` and `integers`. The same seed on the same device repeats a
run exactly.
"""
from minigan import backend

_seed = None      # None: fresh entropy from the operating system
_generators = {}  # array module -> its generator, seeded with _seed


def manual_seed(seed):
    """Seed every device's generator: the same seed repeats a run exactly."""
    global _seed
    _seed = seed
    _generators.clear()  # each device makes its generator from the new seed on its next draw
    return generator()


def generator(device="cpu"):
    """The generator of `device` (on 'cpu' a numpy.random.Generator)."""
    xp = backend.module_for(device)
    rng = _generators.get(xp)
    if rng is None:
        rng = _generators[xp] = xp.random.default_rng(_seed)
    return rng


def permutation(n, device="cpu"):
    """A random permutation of 0 .. n-1 on `device`: the order that sorts n uniform samples."""
    return backend.module_for(device).argsort(generator(device).random(n))


def get_rng_state():
    """The host generator's state as a plain dict, for checkpoints (device generators keep theirs
    on the device and are not saved: a run resumed on 'cuda' continues with fresh device draws)."""
    return generator().bit_generator.state


def set_rng_state(state):
    generator().bit_generator.state = state
