"""minigan's random numbers (minigan/random.py): Philox4x32-10 against its published answers, the
stream laid out as documented, the distributions, torch.Generator's interface, and one stream on
every device (the CUDA kernel's bits are checked in tests/test_kernels.py)."""
import math

import numpy
import pytest
from parity import torch

import minigan
from minigan import random
from minigan.backend import DeviceMismatchError

# Random123's known-answer vectors for philox4x32-10: counter (4 words), key (2 words) -> 4 words
# (Salmon et al.'s kat_vectors file, as quoted in the Philox test suites of several projects).
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_philox_gives_random123s_known_answers(counter, key, expected):
    words = random.philox_rounds([numpy.array([word], numpy.uint32) for word in counter], list(key))
    assert [int(word[0]) for word in words] == list(expected)


def _words(seed, counters):
    """The four words of each counter, from the rounds the known answers check: (4, counters) uint32."""
    key = [seed & 0xFFFFFFFF, seed >> 32]
    counter_words = [numpy.array([c & 0xFFFFFFFF for c in counters], numpy.uint32),
                     numpy.array([c >> 32 for c in counters], numpy.uint32)]
    zeros = numpy.zeros(len(counters), numpy.uint32)
    return numpy.stack(random.philox_rounds(counter_words + [zeros, zeros.copy()], key))


def test_a_64_bit_counter_fills_the_first_two_words_and_the_seed_is_the_key():
    counters = numpy.array([0, 5, 2 ** 32 + 7, 2 ** 64 - 1], numpy.uint64)
    seed = 0x0123456789ABCDEF
    numpy.testing.assert_array_equal(random.philox(counters, seed), _words(seed, [int(c) for c in counters]))


# ------------------------------------------------------------------------------------------------
# The stream, laid out as minigan/random.py documents it
# ------------------------------------------------------------------------------------------------
def test_float32_uniforms_are_each_words_top_24_bits_four_a_counter():
    minigan.manual_seed(42)
    drawn = minigan.rand(2, 5).numpy()  # 10 values: counters 0, 1 and half of 2
    words = _words(42, [0, 1, 2])
    expected = [(int(words[i, c]) >> 8) / 2 ** 24 for c in range(3) for i in range(4)][:10]
    assert drawn.dtype == numpy.float32
    numpy.testing.assert_array_equal(drawn.reshape(-1), numpy.array(expected, numpy.float32))
    assert minigan.get_rng_state().numpy().view("<u8").tolist() == [42, 3]  # seed, counters used


def test_float64_uniforms_take_53_bits_of_two_words_two_a_counter():
    minigan.manual_seed(7)
    minigan.rand(3)  # counter 0 (float32: 4 a counter)
    drawn = minigan.rand(3, dtype=minigan.float64).numpy()  # counters 1 and 2
    words = _words(7, [1, 2])
    expected = [((int(words[2 * p, c]) >> 5) * 2 ** 26 + (int(words[2 * p + 1, c]) >> 6)) / 2 ** 53
                for c in range(2) for p in range(2)][:3]
    assert drawn.tolist() == expected
    assert minigan.get_rng_state().numpy().view("<u8").tolist() == [7, 3]


def test_normals_are_box_muller_of_the_documented_uniforms():
    minigan.manual_seed(3)
    drawn = minigan.randn(4, dtype=minigan.float64).numpy()
    words = [int(w) for w in _words(3, [0, 1])[:, 0]], [int(w) for w in _words(3, [0, 1])[:, 1]]
    expected = []
    for w in words:
        u1 = ((w[0] >> 5) * 2 ** 26 + (w[1] >> 6) + 1) / 2 ** 53
        u2 = ((w[2] >> 5) * 2 ** 26 + (w[3] >> 6)) / 2 ** 53
        radius = math.sqrt(-2 * math.log(u1))
        expected += [radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)]
    numpy.testing.assert_allclose(drawn, expected, rtol=1e-14, atol=1e-15)

    minigan.manual_seed(3)
    drawn = minigan.randn(4).numpy()  # float32: both pairs of one counter
    w = [int(word) for word in _words(3, [0])[:, 0]]
    expected = []
    for first, second in ((w[0], w[1]), (w[2], w[3])):
        u1, u2 = ((first >> 8) + 1) / 2 ** 24, (second >> 8) / 2 ** 24
        radius = math.sqrt(-2 * math.log(u1))
        expected += [radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)]
    numpy.testing.assert_allclose(drawn, expected, rtol=1e-6, atol=1e-6)


def test_integers_are_64_bits_modulo_the_span_two_a_counter():
    minigan.manual_seed(11)
    drawn = minigan.randint(-5, 1000, (3,)).numpy()
    words = _words(11, [0, 1])
    expected = [-5 + (((int(words[2 * p, c]) << 32) | int(words[2 * p + 1, c])) % 1005)
                for c in range(2) for p in range(2)][:3]
    assert drawn.dtype == numpy.int64 and drawn.tolist() == expected


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_and_turns_written_as_series_are_within_two_ulps_of_numpys(dtype):
    u = numpy.random.default_rng(0).random(20000).astype(dtype)
    u = numpy.concatenate([u, numpy.array([1.0, 0.5, 2.0 ** -24, 0.25, 0.75, 0.125, 1 - 2.0 ** -24], dtype)])
    ulp = numpy.finfo(dtype).eps
    unit = numpy.where(u > 0, u, 1).astype(dtype)
    log, exact_log = random.log_unit(unit), numpy.log(unit.astype(numpy.float64))
    assert log.dtype == dtype
    assert numpy.all(numpy.abs(log - exact_log) <= 2 * ulp * numpy.maximum(numpy.abs(exact_log), 1e-300) + 1e-300)
    cos, sin = random.cos_sin_turns(u)
    # the reference in long double where the platform has it: 2πu in float64 is itself off by an ulp of 2πu
    precise = numpy.longdouble if numpy.finfo(numpy.longdouble).eps < numpy.finfo(numpy.float64).eps else numpy.float64
    turns = 2 * precise("3.14159265358979323846264338327950288") * u.astype(precise)
    tolerance = (2 if precise is numpy.longdouble else 4) * ulp
    assert numpy.abs(cos - numpy.cos(turns)).max() <= tolerance and numpy.abs(sin - numpy.sin(turns)).max() <= tolerance


# ------------------------------------------------------------------------------------------------
# The distributions
# ------------------------------------------------------------------------------------------------
def _kolmogorov_smirnov(samples, cdf):
    ordered = numpy.sort(samples.astype(numpy.float64))
    n = len(ordered)
    expected = cdf(ordered)
    return max((numpy.arange(1, n + 1) / n - expected).max(), (expected - numpy.arange(n) / n).max())


@pytest.mark.parametrize("dtype", [minigan.float32, minigan.float64])
def test_normals_and_uniforms_pass_kolmogorov_smirnov_and_normals_stay_in_their_documented_range(dtype):
    n = 200_000
    critical = 1.95 / math.sqrt(n)  # the 0.1 % level: a real deviation fails, chance almost never
    minigan.manual_seed(2026)
    normals = minigan.randn(n, dtype=dtype).numpy()
    erf = numpy.vectorize(math.erf)
    assert _kolmogorov_smirnov(normals, lambda x: 0.5 * (1 + erf(x / math.sqrt(2)))) < critical
    assert abs(normals.mean()) < 0.01 and abs(normals.std() - 1) < 0.01
    bound = math.sqrt(-2 * math.log(2.0 ** -24 if dtype == minigan.float32 else 2.0 ** -53))
    assert numpy.abs(normals).max() <= bound
    uniforms = minigan.rand(n, dtype=dtype).numpy()
    assert _kolmogorov_smirnov(uniforms, lambda x: x) < critical
    assert uniforms.min() >= 0 and uniforms.max() < 1


def test_float16_uniforms_never_round_up_to_one():
    minigan.manual_seed(0)
    values = minigan.rand(100_000, dtype=minigan.float16).numpy()
    assert values.dtype == numpy.float16 and values.max() < 1 and values.min() >= 0
    numpy.testing.assert_array_equal(values * 2048, numpy.floor(values * 2048))  # 11 bits
    assert len(numpy.unique(values)) > 2000


def test_randperm_is_a_permutation_and_randint_covers_its_range_evenly():
    minigan.manual_seed(1)
    assert sorted(minigan.randperm(1000).tolist()) == list(range(1000))
    assert minigan.randperm(0).shape == (0,) and minigan.randperm(0).dtype == minigan.int64
    counts = numpy.bincount(minigan.randint(3, 13, (100_000,)).numpy() - 3, minlength=10)
    assert counts.shape == (10,) and numpy.abs(counts - 10_000).max() < 500  # ~5 standard deviations


# ------------------------------------------------------------------------------------------------
# Edges, as torch has them
# ------------------------------------------------------------------------------------------------
def test_empty_and_zero_d_draws_match_torchs_shapes_and_use_no_counters():
    minigan.manual_seed(5)
    assert minigan.rand(0).shape == torch.rand(0).shape and minigan.randn(2, 0).shape == (2, 0)
    assert minigan.get_rng_state().numpy().view("<u8").tolist() == [5, 0]
    assert minigan.rand(()).shape == torch.rand(()).shape == ()
    assert minigan.randint(0, 3, ()).shape == ()


def test_randint_takes_torchs_forms_and_refuses_an_empty_range_as_torch():
    minigan.manual_seed(0)
    assert minigan.randint(5, (4,)).max().item() < 5
    floats = minigan.randint(-5, 5, (50,), dtype=minigan.float32)
    assert floats.dtype == minigan.float32 and floats.min().item() >= -5 and floats.max().item() <= 4
    wide = minigan.randint(-2 ** 62, 2 ** 62, (1000,)).numpy()
    assert wide.min() < -2 ** 60 and wide.max() > 2 ** 60  # all 64 bits reach the result
    with pytest.raises(RuntimeError, match="from=3 >= to=3"):
        torch.randint(3, 3, (2,))
    with pytest.raises(ValueError, match="from=3 >= to=3"):
        minigan.randint(3, 3, (2,))


def test_seeds_are_torchs_a_negative_one_wraps_and_one_out_of_range_is_refused():
    for seed in (0, 1, -1, -2 ** 63, 2 ** 64 - 1, 123456789):
        expected = torch.Generator().manual_seed(seed).initial_seed()
        assert minigan.Generator().manual_seed(seed).initial_seed() == expected
    assert minigan.Generator().initial_seed() == torch.Generator().initial_seed()
    for seed in (2 ** 64, -2 ** 63 - 1):
        with pytest.raises(ValueError):
            torch.manual_seed(seed)
        with pytest.raises(ValueError, match=r"seed must be an integer in \[-2\*\*63, 2\*\*64 - 1\]"):
            minigan.manual_seed(seed)
    assert minigan.manual_seed(4) is minigan.random.default_generator() and minigan.initial_seed() == 4


def test_a_generators_state_is_its_seed_and_offset_and_restores_its_stream():
    generator = minigan.Generator().manual_seed(9)
    minigan.rand(10, generator=generator)
    state = generator.get_state()
    assert state.dtype == minigan.uint8 and state.shape == (16,)
    assert state.numpy().view("<u8").tolist() == [9, 3]
    expected = minigan.randn(7, generator=generator).numpy()
    other = minigan.Generator().set_state(state)
    numpy.testing.assert_array_equal(minigan.randn(7, generator=other).numpy(), expected)
    for bad in (minigan.zeros(16), minigan.zeros(3, dtype=minigan.uint8), [0] * 16):
        with pytest.raises(TypeError, match="16 bytes"):
            generator.set_state(bad)


def test_a_generator_of_its_own_leaves_the_default_stream_alone():
    minigan.manual_seed(1)
    expected = minigan.rand(5).numpy()
    minigan.manual_seed(1)
    minigan.randn(100, generator=minigan.Generator().manual_seed(1))
    numpy.testing.assert_array_equal(minigan.rand(5).numpy(), expected)


def test_a_generator_of_another_device_is_refused_as_torch_refuses_it(standin_cuda):
    with pytest.raises(DeviceMismatchError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        minigan.randn(3, device="cuda", generator=minigan.Generator())
    on_device = minigan.Generator("cuda").manual_seed(2)
    numpy.testing.assert_array_equal(minigan.rand(4, device="cuda", generator=on_device).numpy(),
                                     minigan.rand(4, generator=minigan.Generator().manual_seed(2)).numpy())


def test_torch_cuda_seeding_functions_act_on_the_one_stream():
    minigan.cuda.manual_seed_all(17)
    assert minigan.initial_seed() == minigan.cuda.initial_seed() == 17
    state = minigan.cuda.get_rng_state()
    expected = minigan.rand(3).numpy()
    minigan.cuda.set_rng_state_all(minigan.cuda.get_rng_state_all()[:0] + [state])
    numpy.testing.assert_array_equal(minigan.rand(3).numpy(), expected)
    assert minigan.cuda.seed() is None and minigan.initial_seed() != 17
    fresh = minigan.seed()  # torch.seed: fresh entropy, the seed returned
    assert isinstance(fresh, int) and 0 <= fresh < 2 ** 64 and minigan.initial_seed() == fresh


def test_dropout_masks_and_initial_weights_are_the_same_on_the_cpu_and_the_device(standin_cuda):
    def draws(device):
        minigan.manual_seed(8)
        layer = minigan.nn.Linear(20, 30).to(device)
        mask = minigan.nn.functional.dropout(minigan.ones(50, 40, device=device), 0.3)
        return layer.weight.detach().numpy(), mask.numpy(), minigan.randn(6, 5, device=device).numpy()
    for on_cpu, on_device in zip(draws("cpu"), draws("cuda")):
        numpy.testing.assert_array_equal(on_device, on_cpu)
