"""Philox4x32-10 draws on the GPU: one thread a counter, writing that counter's uniform or normal
values. minigan/random.py explains the stream and holds the twin (`fill_uniform`, `fill_normal`):
the same values from the same operations, in the same order, so the bits agree.

The series below serve both: ln u = e·ln 2 + 2s·Σ s²ᵏ/(2k + 1) with |s| ≤ 0.172 (11 terms reach
2⁻⁵⁵), and the Taylor series of cos x and sin x for |x| ≤ π/4 (their first omitted terms are
below 2⁻⁶⁰). In the kernel each coefficient is a literal rounded to T, as the twin rounds it.
"""
import math

from minigan.cuda.kernels.core import Kernel

ATANH_SERIES = tuple(1 / (2 * k + 1) for k in range(11))
COS_SERIES = tuple((-1) ** k / math.factorial(2 * k) for k in range(10))
SIN_SERIES = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(9))
SQRT_HALF, LN2, HALF_PI = math.sqrt(0.5), math.log(2), math.pi / 2


def _series(name, coefficients):
    """A CUDA function `name(x)`: Σ cₖ·xᵏ by Horner's rule, from the highest power down, as the twin."""
    literals = ", ".join(f"T({c!r})" for c in coefficients)
    return (f"__device__ T {name}(T x) {{\n"
            f"    const T c[] = {{{literals}}};\n"
            f"    T total = c[{len(coefficients) - 1}];\n"
            f"    for (int k = {len(coefficients) - 2}; k >= 0; --k) total = total * x + c[k];\n"
            f"    return total;\n}}\n")


_PHILOX = r"""
typedef unsigned int u32;
typedef unsigned long long u64;
// Values of T one counter's four words make: 4 of float, 2 of double.
#define PER_COUNTER (sizeof(T) == 4 ? 4 : 2)

// Philox4x32-10: the four words of counter (counter, 0) under the key `seed`.
__device__ void philox(u64 counter, u64 seed, u32 words[4]) {
    u32 c0 = (u32)counter, c1 = (u32)(counter >> 32), c2 = 0, c3 = 0;
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const u64 product0 = 0xD2511F53ull * c0, product2 = 0xCD9E8D57ull * c2;
        c0 = (u32)(product2 >> 32) ^ c1 ^ k0;
        c1 = (u32)product2;
        c2 = (u32)(product0 >> 32) ^ c3 ^ k1;
        c3 = (u32)product0;
    }
    words[0] = c0; words[1] = c1; words[2] = c2; words[3] = c3;
}

// 53 random bits of two words, as an integer-valued double.
__device__ double bits_53(u32 high, u32 low) { return double(high >> 5) * 67108864.0 + double(low >> 6); }

// A draw: thread t takes counters t, t + (threads in the grid), ...; values_of turns a counter's
// words into its PER_COUNTER values, written to out in order (the last counter's only in part).
template <class ValuesOf>
__device__ void draw(T* out, long long count, long long seed, long long offset, ValuesOf values_of) {
    GRID_STRIDE_LOOP(counter, (count + PER_COUNTER - 1) / PER_COUNTER) {
        u32 words[4];
        philox((u64)offset + (u64)counter, (u64)seed, words);
        T values[4];
        values_of(words, values);
        for (int i = 0; i < PER_COUNTER && counter * PER_COUNTER + i < count; ++i) {
            out[counter * PER_COUNTER + i] = values[i];
        }
    }
}
"""

_UNIFORM = Kernel("philox_uniform", _PHILOX + r"""
__device__ void uniform_values(const u32 w[4], T values[4]) {
    if constexpr (sizeof(T) == 4) {
        for (int i = 0; i < 4; ++i) values[i] = T(w[i] >> 8) * T(0x1p-24);
    } else {
        for (int i = 0; i < 2; ++i) values[i] = T(bits_53(w[2 * i], w[2 * i + 1]) * 0x1p-53);
    }
}

extern "C" __global__ void philox_uniform(T* __restrict__ out, long long count, long long seed, long long offset) {
    draw(out, count, seed, offset, uniform_values);
}
""")

_CONSTANTS = f"#define SQRT_HALF T({SQRT_HALF!r})\n#define LN2 T({LN2!r})\n#define HALF_PI T({HALF_PI!r})\n"

_NORMAL = Kernel("philox_normal", _PHILOX + _CONSTANTS + _series("atanh_series", ATANH_SERIES)
                 + _series("cos_series", COS_SERIES) + _series("sin_series", SIN_SERIES) + r"""
// ln u for u in (0, 1]: u = m·2^e, m in [√½, √2); ln u = e·ln 2 + 2 atanh((m − 1)/(m + 1)).
__device__ T log_unit(T u) {
    int e;
    T m = frexp(u, &e);
    if (m < SQRT_HALF) { m = m * T(2); e -= 1; }
    const T s = (m - T(1)) / (m + T(1));
    return T(e) * LN2 + s * T(2) * atanh_series(s * s);
}

// Box–Muller: two normals of u1 in (0, 1] and u2 in [0, 1), 2πu2 = q·π/2 + x with |x| ≤ π/4.
__device__ void box_muller(T u1, T u2, T* z0, T* z1) {
    const T radius = sqrt(log_unit(u1) * T(-2));
    const T quarters = u2 * T(4), nearest = rint(quarters);
    const T x = (quarters - nearest) * HALF_PI;
    const T squared = x * x;
    const T c = cos_series(squared), s = x * sin_series(squared);
    T cos_turn, sin_turn;
    switch ((int)nearest % 4) {
        case 0: cos_turn = c; sin_turn = s; break;
        case 1: cos_turn = -s; sin_turn = c; break;
        case 2: cos_turn = -c; sin_turn = -s; break;
        default: cos_turn = s; sin_turn = -c; break;
    }
    *z0 = radius * cos_turn;
    *z1 = radius * sin_turn;
}

__device__ void normal_values(const u32 w[4], T values[4]) {
    if constexpr (sizeof(T) == 4) {  // two pairs: (w0, w1) and (w2, w3)
        for (int pair = 0; pair < 2; ++pair) {
            const T u1 = T((w[2 * pair] >> 8) + 1) * T(0x1p-24), u2 = T(w[2 * pair + 1] >> 8) * T(0x1p-24);
            box_muller(u1, u2, &values[2 * pair], &values[2 * pair + 1]);
        }
    } else {
        box_muller((bits_53(w[0], w[1]) + 1.0) * 0x1p-53, bits_53(w[2], w[3]) * 0x1p-53, &values[0], &values[1]);
    }
}

extern "C" __global__ void philox_normal(T* __restrict__ out, long long count, long long seed, long long offset) {
    draw(out, count, seed, offset, normal_values);
}
""")


def _as_long_long(value):
    """A 64-bit unsigned value as the signed long long CuPy passes a Python int as (same bits)."""
    return value - 2 ** 64 if value >= 2 ** 63 else value


def _launch(kernel, out, seed, offset):
    if out.ndim != 1 or not out.flags.c_contiguous:
        raise ValueError(f"{kernel.name}: writes a flat contiguous array, got shape {tuple(out.shape)}")
    per_counter = 4 if out.dtype.itemsize == 4 else 2
    kernel.launch(out.dtype, (out, out.size, _as_long_long(seed), _as_long_long(offset)), -(-out.size // per_counter))


def philox_uniform(out, seed, offset):
    """Fill the flat float32 or float64 `out` with the uniform values of Philox counters `offset`,
    `offset` + 1, ... under `seed` (minigan/random.py: fill_uniform)."""
    _launch(_UNIFORM, out, seed, offset)


def philox_normal(out, seed, offset):
    """Fill the flat float32 or float64 `out` with standard normal values, as philox_uniform."""
    _launch(_NORMAL, out, seed, offset)
