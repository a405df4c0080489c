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


class Generator:
    """torch.Generator: a random stream of its own, for the `generator=` argument of rand, randn,
    randint, randperm, normal, bernoulli, multinomial and the in-place samplers; seeded by
    manual_seed(seed) (fresh entropy until then)."""

    def __init__(self, device="cpu"):
        self.device = backend.check_device(device)
        self._initial_seed = None
        self.rng = backend.module_for(self.device).random.default_rng()

    def manual_seed(self, seed):
        self._initial_seed = int(seed)
        self.rng = backend.module_for(self.device).random.default_rng(self._initial_seed)
        return self

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state
        return self


def generator(device="cpu", given=None):
    """The generator to draw from: `given`'s (a Generator passed as generator=) or else the seeded
    one of `device` (on 'cpu' a numpy.random.Generator)."""
    if given is not None:
        return given.rng if isinstance(given, Generator) else given
    xp = backend.module_for(device)
    rng = _generators.get(xp)
    if rng is None:
        rng = _generators[xp] = xp.random.default_rng(_seed)
    return rng


def permutation(n, device="cpu", given=None):
    """A random permutation of 0 .. n-1 on `device`: the order that sorts n uniform samples."""
    return backend.module_for(device).argsort(generator(device, given).random(n))


def get_rng_state():
    """The host generator's state as a plain dict, for checkpoints (device generators keep theirs
    on the device and are not saved: a run resumed on 'cuda' continues with fresh device draws)."""
    return generator().bit_generator.state


def set_rng_state(state):
    generator().bit_generator.state = state
