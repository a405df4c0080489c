"""The random numbers behind rand, randn, randint, randperm, dropout and initialisation: Philox4x32-10,
a counter-based generator that draws the same bits on the CPU and on a GPU.

Philox (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011)
maps a 64-bit key and a 128-bit counter to four random 32-bit words by ten rounds of
multiply-and-xor. Counter i gives the same words whoever computes it and in whatever order, so a
draw here is a few array expressions, and on a GPU one thread per counter
(minigan/cuda/kernels/random.py) computing the same values bit for bit.

A generator's whole state is two integers: its seed (the key) and its offset (the counters it has
used). A draw of n values takes the next ceil(n / k) counters, k values from each counter's four
words w0..w3, in order:

    uniform float32   k = 4   (wᵢ >> 8)·2⁻²⁴, i = 0..3                          in [0, 1)
    uniform float64   k = 2   ((w >> 5)·2²⁶ + (w' >> 6))·2⁻⁵³ of (w0, w1), then of (w2, w3)
    normal float32    k = 4   Box–Muller of u1 = ((w0 >> 8) + 1)·2⁻²⁴, u2 = (w1 >> 8)·2⁻²⁴; then of w2, w3
    normal float64    k = 2   Box–Muller of u1 = 53 bits of (w0, w1), plus 2⁻⁵³, and u2 = 53 bits of (w2, w3)
    integer           k = 2   low + ((w·2³² + w') mod (high − low)) of (w0, w1), then of (w2, w3)

(float16 draws as float32 and rounds; an integer's bias is below (high − low)/2⁶⁴.)

Box–Muller makes two normals of two uniforms: √(−2 ln u1)·cos 2πu2 and √(−2 ln u1)·sin 2πu2.
numpy's and CUDA's ln, cos and sin differ in the last bit, so here they are series of +, −, × and
÷, which IEEE 754 rounds alike everywhere (the kernel is compiled without fused multiply-adds, and
no intermediate is small enough for a GPU's flush-to-zero to matter): a GPU draws the CPU's normals
bit for bit. A float32 normal is at most √(−2 ln 2⁻²⁴) ≈ 5.77 in magnitude, a float64 one 8.57.

rand, randn, ... without a `generator=` draw from one default stream on every device, seeded by
`manual_seed(s)`: a run draws the same numbers in the same order on the CPU and on a GPU. A
generator's state is 16 bytes, its seed and offset as little-endian 64-bit integers (as torch's
CUDA generator keeps its Philox state).
"""
import math
import secrets

import numpy

from minigan import backend, cuda
from minigan.cuda import kernels
from minigan.cuda.kernels.random import ATANH_SERIES, COS_SERIES, HALF_PI, LN2, SIN_SERIES, SQRT_HALF
from minigan.tensor import Tensor

_WORD = 0xFFFFFFFF
_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)    # Philox4x32's round multipliers
_KEY_INCREMENTS = (0x9E3779B9, 0xBB67AE85)  # its key schedule: the golden ratio and √3 − 1, as 32-bit fractions
ROUNDS = 10


def philox(counters, seed):
    """Philox4x32-10 of each counter (a uint64 array, the counter's upper 64 bits being 0) under
    the 64-bit key `seed`: the four words of every counter, a uint32 array (4,) + counters.shape."""
    xp = backend.get_array_module(counters)
    low, high = (counters & _WORD).astype(numpy.uint32), (counters >> 32).astype(numpy.uint32)
    return xp.stack(philox_rounds([low, high, xp.zeros_like(low), xp.zeros_like(low)], [seed & _WORD, seed >> 32]))


def philox_rounds(words, key):
    """The ten rounds on a counter's four words (uint32 arrays) under the key's two 32-bit ints."""
    xp = backend.get_array_module(words[0])
    multipliers = xp.asarray(_MULTIPLIERS, dtype=numpy.uint64).reshape((2,) + (1,) * words[0].ndim)
    for round_ in range(ROUNDS):
        if round_ > 0:
            key = [(k + increment) & _WORD for k, increment in zip(key, _KEY_INCREMENTS)]
        products = multipliers * xp.stack([words[0], words[2]]).astype(numpy.uint64)  # 32 × 32 bits → 64
        high, low = (products >> 32).astype(numpy.uint32), products.astype(numpy.uint32)
        words = [high[1] ^ words[1] ^ numpy.uint32(key[0]), low[1], high[0] ^ words[3] ^ numpy.uint32(key[1]), low[0]]
    return words


def values_per_counter(dtype):
    """k above: the values of `dtype` one counter gives, 4 of 32 bits or fewer, 2 of 64."""
    return 4 if numpy.dtype(dtype).itemsize <= 4 else 2


def _bits_53(high_word, low_word):
    """53 random bits of two words, as an integer-valued float64 in [0, 2⁵³)."""
    return (high_word >> 5).astype(numpy.float64) * 67108864.0 + (low_word >> 6).astype(numpy.float64)


def uniform_values(words, dtype):
    """The uniform values in [0, 1) of a draw's words, (4, counters) uint32, in draw order."""
    if values_per_counter(dtype) == 4:
        values = (words >> 8).astype(numpy.float32) * numpy.float32(2.0 ** -24)
    else:
        values = _bits_53(words[0::2], words[1::2]) * 2.0 ** -53
    return values.T.reshape(-1).astype(dtype, copy=False)  # counter by counter


# ln, cos and sin as +, −, × and ÷, so that every device rounds them alike (see the top).
def _horner(coefficients, x):
    """Σ cₖ·xᵏ from the highest power down: (...(cₙ·x + cₙ₋₁)·x + ...)·x + c₀, in x's dtype."""
    scalar = x.dtype.type
    total = x * scalar(coefficients[-1]) + scalar(coefficients[-2])
    for coefficient in reversed(coefficients[:-2]):
        total = total * x + scalar(coefficient)
    return total


def log_unit(u):
    """ln u for u in (0, 1]: u = m·2ᵉ with m in [√½, √2), and ln u = e·ln 2 + 2 atanh((m − 1)/(m + 1))."""
    xp, scalar = backend.get_array_module(u), u.dtype.type
    mantissa, exponent = xp.frexp(u)  # u = m·2ᵉ, m in [½, 1): exact
    small = mantissa < scalar(SQRT_HALF)
    mantissa = xp.where(small, mantissa * scalar(2), mantissa)
    exponent = (exponent - small).astype(u.dtype)
    s = (mantissa - scalar(1)) / (mantissa + scalar(1))
    return exponent * scalar(LN2) + s * scalar(2) * _horner(ATANH_SERIES, s * s)


def cos_sin_turns(u):
    """(cos 2πu, sin 2πu) for u in [0, 1): 2πu = q·π/2 + x, q the quarter turn nearest to 4u and
    |x| ≤ π/4, where the Taylor series of cos x and sin x converge fast; then turned by q quarters."""
    xp, scalar = backend.get_array_module(u), u.dtype.type
    quarters = u * scalar(4)
    nearest = xp.rint(quarters)
    x = (quarters - nearest) * scalar(HALF_PI)
    squared = x * x
    cos, sin = _horner(COS_SERIES, squared), x * _horner(SIN_SERIES, squared)
    quadrant = nearest.astype(numpy.int64) % 4  # cos(qπ/2 + x), sin(qπ/2 + x) for q = 0, 1, 2, 3:
    return xp.choose(quadrant, [cos, -sin, -cos, sin]), xp.choose(quadrant, [sin, cos, -sin, -cos])


def box_muller(u1, u2):
    """Two independent standard normals of two uniforms, u1 in (0, 1] and u2 in [0, 1)."""
    radius = backend.get_array_module(u1).sqrt(log_unit(u1) * u1.dtype.type(-2))
    cos, sin = cos_sin_turns(u2)
    return radius * cos, radius * sin


def normal_values(words, dtype):
    """The standard normal values of a draw's words, (4, counters) uint32, in draw order."""
    xp = backend.get_array_module(words)
    if values_per_counter(dtype) == 4:  # two pairs a counter: (w0, w1) and (w2, w3)
        scale = numpy.float32(2.0 ** -24)
        u1 = ((words[0::2] >> 8) + numpy.uint32(1)).astype(numpy.float32) * scale
        z0, z1 = box_muller(u1, (words[1::2] >> 8).astype(numpy.float32) * scale)  # each (pair, counter)
        values = xp.stack([z0, z1]).transpose(2, 1, 0)  # (counter, pair, z0 or z1)
    else:
        u1 = (_bits_53(words[0], words[1]) + 1.0) * 2.0 ** -53
        values = xp.stack(box_muller(u1, _bits_53(words[2], words[3]) * 2.0 ** -53)).T
    return values.reshape(-1).astype(dtype, copy=False)


def fill_uniform(out, seed, offset):
    """Write into the flat `out` the uniform draw starting at counter `offset` under `seed`."""
    out[...] = uniform_values(_words(out, seed, offset), out.dtype)[:out.size]


def fill_normal(out, seed, offset):
    """Write into the flat `out` the standard normal draw starting at counter `offset` under `seed`."""
    out[...] = normal_values(_words(out, seed, offset), out.dtype)[:out.size]


def _words(out, seed, offset):
    """The words of the counters a draw into `out` takes: k values a counter (values_per_counter)."""
    return counter_words(backend.get_array_module(out), seed, offset, -(-out.size // values_per_counter(out.dtype)))


def counter_words(xp, seed, offset, count):
    """The four words of each of `count` counters from `offset` on, as (4, count) uint32 of xp."""
    return philox(xp.arange(count, dtype=numpy.uint64) + numpy.uint64(offset), seed)


# ---------------------------------------------------------------------------------------------
# Generators: torch.Generator's interface, and the draws the library makes of them
# ---------------------------------------------------------------------------------------------
_SEED_RANGE = (-2 ** 63, 2 ** 64 - 1)
DEFAULT_SEED = 67280421310721  # torch.Generator()'s seed before manual_seed


def _check_seed(seed):
    """torch's seeds: integers in [−2⁶³, 2⁶⁴ − 1], a negative one read as its 64-bit two's complement
    (torch's documentation says 2⁶⁴ − 1 + seed; torch 2.13 gives 2⁶⁴ + seed, and so does minigan)."""
    seed = int(seed)
    if not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]:
        raise ValueError(f"manual_seed: the seed must be an integer in [-2**63, 2**64 - 1], got {seed}")
    return seed % 2 ** 64


class Stream:
    """Where a Philox stream stands: its seed (the key) and the counters used so far (the offset)."""

    def __init__(self, seed):
        self.seed, self.offset = _check_seed(seed), 0

    def take(self, counters):
        """The (seed, offset) a draw of `counters` counters starts at; the offset moves past them."""
        start = self.offset
        self.offset += counters
        return self.seed, start


class Generator:
    """torch.Generator: a Philox stream drawing on one device, for the `generator=` argument of rand,
    randn, randint, randperm, normal, bernoulli, multinomial, the in-place samplers and nn.init.
    (The default generators of all devices share one stream: see default_generator.)"""

    def __init__(self, device="cpu"):
        self.device = backend.device(backend.check_device(device))
        self.stream = Stream(DEFAULT_SEED)

    def __repr__(self):
        return f"<minigan.Generator on {self.device}: seed {self.stream.seed}, offset {self.stream.offset}>"

    def manual_seed(self, seed):
        self.stream.seed, self.stream.offset = _check_seed(seed), 0
        return self

    def seed(self):
        """Seed with 64 bits of the operating system's entropy; returns the seed."""
        self.manual_seed(secrets.randbits(64))
        return self.stream.seed

    def initial_seed(self):
        return self.stream.seed

    def get_state(self):
        """The state as torch gives it, a uint8 tensor: seed and offset, little-endian 64-bit."""
        return Tensor(numpy.array([self.stream.seed, self.stream.offset], dtype="<u8").view(numpy.uint8))

    def set_state(self, new_state):
        array = backend.to_numpy(new_state.array) if isinstance(new_state, Tensor) else None
        if array is None or array.dtype != numpy.uint8 or array.shape != (16,):
            raise TypeError(f"set_state: the state must be a uint8 tensor of 16 bytes, as get_state returns "
                            f"(its seed and offset), got {_describe(new_state)}")
        self.stream.seed, self.stream.offset = (int(value) for value in array.view("<u8"))
        return self

    # -- draws, under the names of numpy's Generator, so that either serves nn.init -----------
    def _draw(self, kernel, fill, size, dtype):
        """`size` values made by fill(out, seed, offset), or on a GPU by the kernel doing the same,
        in float32 or float64 (float16 draws as float32); the offset moves past their counters."""
        drawn = numpy.dtype(numpy.float32) if numpy.dtype(dtype).itemsize < 4 else numpy.dtype(dtype)
        shape = _shape(size)
        out = backend.module_for(self.device).empty(math.prod(shape), dtype=drawn)
        kernels.run(kernel, fill, out, *self.stream.take(-(-out.size // values_per_counter(drawn))))
        return out.reshape(shape)

    def random(self, size=None, dtype=numpy.float64):
        """Uniform values in [0, 1)."""
        values = self._draw(kernels.philox_uniform, fill_uniform, size, dtype)
        if numpy.dtype(dtype).itemsize < 4:  # float16: 11 bits, so that no value rounds up to 1
            values = backend.get_array_module(values).floor(values * 2048) / 2048
        return values.astype(dtype, copy=False)

    def standard_normal(self, size=None, dtype=numpy.float64):
        return self._draw(kernels.philox_normal, fill_normal, size, dtype).astype(dtype, copy=False)

    def uniform(self, low=0.0, high=1.0, size=None):
        """Uniform float64 values in [low, high)."""
        return low + (high - low) * self.random(size)

    def integers(self, low, high, size=None, dtype=numpy.int64):
        """Integers in [low, high), two a counter (array code on every device)."""
        if not low < high:
            raise ValueError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        shape, xp = _shape(size), backend.module_for(self.device)
        count, counters = math.prod(shape), -(-math.prod(shape) // 2)
        words = counter_words(xp, *self.stream.take(counters), counters).astype(numpy.uint64)
        bits = ((words[0::2] << numpy.uint64(32)) | words[1::2]).T.reshape(-1)[:count]
        span, start = numpy.uint64(high - low), numpy.uint64(low % 2 ** 64)
        return (bits % span + start).view(numpy.int64).reshape(shape).astype(dtype)  # wraps mod 2⁶⁴: exact

    def permutation(self, n):
        """0 .. n−1 in random order: sorted by 64 random bits each (ties, ~n²/2⁶⁵, kept in order)."""
        keys = self.integers(0, 2 ** 63, n)
        return backend.get_array_module(keys).argsort(keys, kind="stable")


def _shape(size):
    if size is None:
        return ()
    return (int(size),) if isinstance(size, (int, numpy.integer)) else tuple(int(n) for n in size)


def _describe(value):
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# The default generators: one per device, all drawing from one stream
# ---------------------------------------------------------------------------------------------
_DEFAULT_STREAM = Stream(secrets.randbits(64))  # until manual_seed: fresh each run, as torch's
_defaults = {}  # device name -> its Generator on _DEFAULT_STREAM


def default_generator(device="cpu"):
    """The generator rand, randn, ... draw from on `device` when given none. Every device's draws
    continue one stream, so a run makes the same numbers in the same order wherever each lives: a
    GPU run matches the CPU run of the same seed, and a checkpoint saves one state."""
    name = backend.check_device(device)
    if name not in _defaults:
        _defaults[name] = Generator(name)
        _defaults[name].stream = _DEFAULT_STREAM
    return _defaults[name]


def generator(device="cpu", given=None):
    """The generator to draw from: `given` (a Generator, or a numpy.random.Generator for nn.init)
    or else the default generator of `device`."""
    if given is None:
        return default_generator(device)
    if isinstance(given, Generator) and given.device != backend.check_device(device):
        raise backend.DeviceMismatchError(f"Expected a '{backend.check_device(device)}' device type for generator "
                                          f"but found '{given.device}'")
    return given


def permutation(n, device="cpu", given=None):
    """A random permutation of 0 .. n−1 on `device`."""
    return generator(device, given).permutation(n)


def manual_seed(seed):
    """Seed the default stream, which every device draws from (offset 0): the same seed repeats a run."""
    return default_generator().manual_seed(seed)


def seed():
    """Seed the default stream with fresh entropy; returns the seed."""
    return default_generator().seed()


def initial_seed():
    return default_generator().initial_seed()


def get_rng_state(device="cpu"):
    """The default stream's state (16 bytes: seed and offset), for checkpoints. (`device` is for
    torch.cuda.get_rng_state's signature: every device shares the stream.)"""
    return default_generator(device).get_state()


def set_rng_state(new_state, device="cpu"):
    default_generator(device).set_state(new_state)


# torch.cuda's seeding functions, set on minigan.cuda (which sits below this module) as on torch.cuda.
# They act on the one default stream, as manual_seed, get_rng_state and set_rng_state do.
def cuda_seed():
    """torch.cuda.seed: seed with fresh entropy, returning nothing (torch.seed returns the seed)."""
    seed()


cuda.manual_seed = cuda.manual_seed_all = manual_seed
cuda.seed = cuda.seed_all = cuda_seed
cuda.initial_seed, cuda.get_rng_state, cuda.set_rng_state = initial_seed, get_rng_state, set_rng_state


def get_rng_state_all():
    """torch.cuda.get_rng_state_all: a state per GPU; minigan uses one."""
    return [get_rng_state()]


def set_rng_state_all(new_states):
    for new_state in new_states:
        set_rng_state(new_state)


cuda.get_rng_state_all, cuda.set_rng_state_all = get_rng_state_all, set_rng_state_all
