"""The rest of torch's tensor API that GAN code reaches for, against torch in float64: each op as a
method and as a function, forward, first and second order; corners (negative dims, keepdim, ties,
repeated indices, 0-d and empty tensors); creation functions by their laws (shape, dtype, range,
seeding); and the rule that an op torch offers both ways, minigan offers both ways."""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_matches_torch, torch

import minigan

rng = numpy.random.default_rng(11)


def randn(*shape):
    return rng.standard_normal(shape)


def with_ties(*shape):
    return rng.integers(-2, 3, shape).astype(numpy.float64)


def both(call):
    """`call(lib, *tensors)` on minigan and on torch."""
    return (lambda *t: call(minigan, *t)), (lambda *t: call(torch, *t))


# (id, call(lib, *tensors), arrays, options): every call goes through the op's method or function
DIFFERENTIABLE = [
    ("max-dim", lambda lib, a: a.max(1)[0] * a.max(dim=-1, keepdim=True).values.sum(), [randn(3, 4)], {}),
    ("max-dim-ties", lambda lib, a: lib.max(a, 0).values, [with_ties(5, 3)], {}),
    ("max-whole-ties", lambda lib, a: lib.max(a) * a.min(), [with_ties(4, 3)], {}),
    ("max-binary", lambda lib, a, b: lib.max(a, b) + lib.min(a, b) * a, [randn(4), randn(4)], {}),
    ("min-dim", lambda lib, a: a.min(0, keepdim=True)[0] ** 2, [randn(3, 4)], {}),
    ("amin", lambda lib, a: lib.amin(a, (0, -1)) * a.amin(1).sum(), [with_ties(3, 4, 2)], {}),
    ("std", lambda lib, a: a.std(1) + lib.std(a) + a.std(0, unbiased=False, keepdim=True).sum(), [randn(3, 4)], {}),
    ("std-correction", lambda lib, a: a.std(dim=1, correction=0), [randn(3, 4)], {}),
    ("logsumexp", lambda lib, a: lib.logsumexp(a * 30, 1) + a.logsumexp(dim=(0, 1), keepdim=True).sum(),
     [randn(3, 4)], {}),
    ("chunk", lambda lib, a: sum(c.sum() * c.mean() for c in a.chunk(3, -1)), [randn(2, 7)], {}),
    ("chunk-function", lambda lib, a: lib.chunk(a, 2)[1] ** 2, [randn(5, 2)], {}),
    ("split-size", lambda lib, a: lib.cat([p * (i + 1) for i, p in enumerate(a.split(2, 1))], 1) ** 2,
     [randn(2, 5)], {}),
    ("split-sections", lambda lib, a: lib.split(a, [1, 3], dim=0)[1] ** 2, [randn(4, 2)], {}),
    ("repeat", lambda lib, a: a.repeat(2, 1, 3) ** 2, [randn(2, 3)], {}),
    ("repeat-tuple", lambda lib, a: a.repeat((3, 2)) * a.repeat(3, 2), [randn(2, 2)], {}),
    ("tile", lambda lib, a: lib.tile(a, (2,)) ** 2 + a.tile((1, 1)).sum(), [randn(2, 3)], {}),
    ("repeat_interleave", lambda lib, a: lib.repeat_interleave(a, 2, dim=1) ** 2 + a.repeat_interleave(3).sum(),
     [randn(2, 3)], {}),
    ("view_as-expand_as", lambda lib, a, b: a.view_as(b) * b + a[:1].expand_as(a).sum(), [randn(2, 6), randn(3, 4)],
     {}),
    ("flip", lambda lib, a: a.flip(0) * a + lib.flip(a, (0, -1)) ** 2, [randn(3, 4)], {}),
    ("roll", lambda lib, a: a.roll(1, 0) * a + lib.roll(a, (2, -1), (1, 0)) ** 2 + a.roll(5).sum(), [randn(3, 4)],
     {}),
    ("masked_fill", lambda lib, a: a.masked_fill(a > 0, 2.0) * a, [randn(3, 4)], {}),
    ("gather", lambda lib, a: lib.gather(a, 1, lib.tensor([[0, 0, 3], [1, 2, 1]])) ** 2, [randn(2, 4)], {}),
    ("gather-dim0", lambda lib, a: a.gather(0, lib.tensor([[1, 0], [1, 1], [0, 1]])) * 3, [randn(2, 2)], {}),
    ("scatter", lambda lib, a, s: lib.scatter(a, 1, lib.tensor([[2, 0], [1, 3]]), s) ** 2, [randn(2, 4), randn(2, 2)],
     {}),
    ("scatter-value", lambda lib, a: a.scatter(0, lib.tensor([[1, 0, 1]]), 7.0) * a, [randn(2, 3)], {}),
    ("index_select", lambda lib, a: lib.index_select(a, -1, lib.tensor([3, 0, 3])) ** 2, [randn(2, 4)], {}),
    ("narrow", lambda lib, a: a.narrow(1, 1, 2) ** 2 + lib.narrow(a, 0, -1, 1).sum(), [randn(2, 4)], {}),
    ("lerp", lambda lib, a, b: lib.lerp(a, b, 0.3) * a + a.lerp(b, 0.8) ** 2, [randn(5), randn(5)], {}),
    ("lerp-tensor-weight", lambda lib, a, b, w: lib.lerp(a, b, w) ** 2, [randn(6), randn(6), rng.uniform(0, 1, 6)],
     {}),
    ("cumsum", lambda lib, a: lib.cumsum(a, -1) ** 2 + a.cumsum(0).sum(), [randn(3, 4)], {}),
    ("sort", lambda lib, a: lib.sort(a, 1)[0] * a + a.sort(0, descending=True).values ** 2, [randn(3, 4)], {}),
    ("topk", lambda lib, a: lib.topk(a, 2)[0] ** 2 + a.topk(1, dim=0, largest=False).values.sum(), [randn(3, 4)],
     {}),
    ("einsum", lambda lib, a, b: lib.einsum("ij,kj->ik", a, b) ** 2 + lib.einsum("ij", a).sum(), [randn(2, 3),
                                                                                                  randn(4, 3)], {}),
    ("einsum-implicit", lambda lib, a, b, c: lib.einsum("ij,jk,k", a, b, c), [randn(2, 3), randn(3, 4), randn(4)],
     {}),
    ("mm-bmm-dot-outer", lambda lib, a, b, c, d: lib.mm(a, b).sum() * lib.bmm(c, c.transpose(1, 2)).sum()
     + lib.dot(d, d) * lib.outer(d, d), [randn(2, 3), randn(3, 2), randn(2, 2, 3), randn(3)], {}),
    ("functions", lambda lib, a, b: lib.add(a, b) * lib.mul(a, b) - lib.div(lib.sub(a, b), 2) + lib.neg(lib.pow(a, 2))
     + lib.relu(a) * lib.square(b) + lib.clip(a, -0.5, 0.5) + lib.sign(a) * a, [randn(3, 4), randn(3, 4)], {}),
    ("softmax-functions", lambda lib, a: lib.softmax(a, 1) * lib.log_softmax(a, dim=0) + a.softmax(-1),
     [randn(3, 4)], {}),
]


@pytest.mark.parametrize("name, call, arrays, options", DIFFERENTIABLE, ids=[case[0] for case in DIFFERENTIABLE])
def test_op_matches_torch_to_second_order(name, call, arrays, options):
    ours, theirs = both(call)
    assert_matches_torch(ours, arrays, torch_fn=theirs, **options)


NOT_DIFFERENTIABLE = [
    ("argmax-argmin", lambda lib, a: (a.argmax(1), lib.argmin(a, 0, keepdim=True), a.argmin(), lib.argmax(a)),
     [with_ties(3, 4)]),
    ("max-indices-ties", lambda lib, a: (a.max(1)[1], lib.min(a, 0).indices), [with_ties(5, 3)]),
    ("any-all", lambda lib, a: (a.any(), lib.all(a > -3), a.any(1), (a > 0).all(0, keepdim=True)), [with_ties(3, 4)]),
    ("isnan-isfinite", lambda lib, a: (lib.isnan(a.log()), a.log().isfinite(), (a / 0).isfinite()), [randn(6)]),
    ("sort-indices-stable", lambda lib, a: (a.sort(stable=True).indices, lib.sort(a, descending=True,
                                                                                   stable=True).indices),
     [with_ties(3, 6)]),
    ("cumsum-int", lambda lib, a: (lib.cumsum(a.long(), 0), (a > 0).cumsum(1)), [with_ties(3, 4)]),
    ("type_as", lambda lib, a, b: (a.type_as(b.float()), a.long().type_as(b)), [randn(3), randn(2)]),
    ("new", lambda lib, a: (a.new_zeros(2, 3), a.new_ones((2,)), a.new_full((2, 2), 3.5), a.new_tensor([1, 2]),
                            a.float().new_zeros(1), a.new_empty(0, 2).shape), [randn(3)]),
    ("meshgrid", lambda lib, a, b: lib.meshgrid(a, b, indexing="ij") + lib.meshgrid(a, b, indexing="xy"),
     [randn(3), randn(4)]),
    ("0-d", lambda lib, a: (a[0].max(), a[0].cumsum(0), a[0].flip(0), a[0].std(), lib.logsumexp(a[0], 0)),
     [randn(2)]),
    ("empty", lambda lib, a: (a.chunk(2, 1), a.split(1, 0), a.flip(1), a.roll(1, 1), a.sum(1), a.repeat(2, 1)),
     [randn(2, 0)]),
]


def _numpy(value):
    if isinstance(value, (tuple, list)):
        return [_numpy(v) for v in value]
    if isinstance(value, (minigan.Tensor, torch.Tensor)):
        return value.detach().numpy()
    return value


@pytest.mark.parametrize("name, call, arrays", NOT_DIFFERENTIABLE, ids=[case[0] for case in NOT_DIFFERENTIABLE])
def test_op_without_gradient_gives_torchs_values_and_dtypes(name, call, arrays):
    with numpy.errstate(divide="ignore", invalid="ignore"):
        ours = _numpy(call(minigan, *[minigan.tensor(a) for a in arrays]))
    theirs = _numpy(call(torch, *[torch.tensor(a) for a in arrays]))

    def check(o, t):
        if isinstance(t, list):
            assert len(o) == len(t)
            for a, b in zip(o, t):
                check(a, b)
        elif isinstance(t, numpy.ndarray):
            assert o.dtype == t.dtype and o.shape == t.shape, (o.dtype, t.dtype, o.shape, t.shape)
            numpy.testing.assert_array_equal(o, t)
        else:
            assert o == t
    check(ours, theirs)


def test_lerp_agrees_with_torch_to_an_ulp_and_lerp_in_place_keeps_an_ema():
    """torch's CPU kernel fuses the multiply-add (one rounding, FMA), numpy rounds twice: the two
    agree to an ulp of the operands, not always to the last bit of a result near zero."""
    start, end = randn(1000), randn(1000)
    for weight in (0.001, 0.3, 0.5, 0.999):
        ours = minigan.tensor(start).lerp(minigan.tensor(end), weight).numpy()
        their = torch.tensor(start).lerp(torch.tensor(end), weight).numpy()
        numpy.testing.assert_allclose(ours, their, rtol=0, atol=2 * numpy.finfo(float).eps * 4)
    ema, their_ema = minigan.tensor(start), torch.tensor(start)
    for step in range(5):
        target = randn(1000)
        assert ema.lerp_(minigan.tensor(target), 1 - 0.9) is ema
        their_ema.lerp_(torch.tensor(target), 1 - 0.9)
    numpy.testing.assert_allclose(ema.numpy(), their_ema.numpy(), rtol=0, atol=1e-15)


def test_split_chunk_and_max_refuse_like_torch():
    x = minigan.zeros(2, 3)
    with pytest.raises(ValueError, match="do not add up"):
        x.split([1, 1], 1)
    with pytest.raises(IndexError, match="out of range"):
        x.max(2)
    with pytest.raises(minigan.ShapeError, match="number of repeat dims"):
        x.repeat(2)
    with pytest.raises(NotImplementedError, match="ellipsis"):
        minigan.einsum("...ij->...", x)
    with pytest.raises(minigan.ShapeError, match="as many dims"):
        x.gather(1, minigan.tensor([0, 1]))


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_dim_ops_match_torch_over_drawn_shapes_and_dims(shape, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    keepdim = data.draw(st.booleans())
    x = numpy.random.default_rng(data.draw(st.integers(0, 2 ** 16))).integers(-2, 3, shape).astype(float)
    for call in [lambda lib, a: a.max(dim, keepdim)[0], lambda lib, a: a.min(dim, keepdim).values,
                 lambda lib, a: a.logsumexp(dim, keepdim), lambda lib, a: a.cumsum(dim),
                 lambda lib, a: a.flip(dim), lambda lib, a: a.roll(1, dim), lambda lib, a: a.sort(dim)[0],
                 lambda lib, a: lib.cat(a.chunk(2, dim), dim)]:
        ours, theirs = both(call)
        assert_matches_torch(ours, [x], torch_fn=theirs, second_order=False)
    np_x = minigan.tensor(x)
    numpy.testing.assert_array_equal(np_x.argmax(dim, keepdim).numpy(), torch.tensor(x).argmax(dim, keepdim).numpy())


# --------------------------------------------------------------------------------------------
# Creation: values are random, so their laws are tested; seeding repeats them
# --------------------------------------------------------------------------------------------
def test_like_functions_eye_and_linspace_match_torch():
    x = minigan.zeros(3, 2, dtype=minigan.float64)
    assert minigan.randn_like(x).shape == (3, 2) and minigan.randn_like(x).dtype == numpy.float64
    assert minigan.rand_like(x, dtype=minigan.float32).dtype == numpy.float32
    numpy.testing.assert_array_equal(minigan.eye(3, 4).numpy(), torch.eye(3, 4).numpy())
    # torch's vectorised kernel adds the step to lane starts (its rounding depends on the CPU's
    # vector width), so the values agree to an ulp; the ends and the midpoint are exact
    for start, end, steps in [(0, 1, 5), (-3.3, 7.1, 11), (1.0, 0.0, 4), (2.5, 2.5, 1), (0.1, 0.9, 100)]:
        for ours, theirs in [(minigan.linspace(start, end, steps, dtype=minigan.float64),
                              torch.linspace(start, end, steps, dtype=torch.float64)),
                             (minigan.linspace(start, end, steps), torch.linspace(start, end, steps))]:
            assert ours.dtype == numpy.dtype(str(theirs.dtype).replace("torch.", ""))
            scale = max(abs(start), abs(end)) * numpy.finfo(ours.dtype).eps
            numpy.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=2 * scale)
            assert ours[0].item() == theirs[0].item() and ours[-1].item() == theirs[-1].item()


def test_random_functions_follow_their_distributions_and_generators_repeat():
    minigan.manual_seed(0)
    normal = minigan.normal(2.0, 3.0, size=(20000,))
    assert abs(normal.mean().item() - 2.0) < 0.1 and abs(normal.std().item() - 3.0) < 0.1
    means = minigan.normal(minigan.tensor([0.0, 100.0]), minigan.tensor([1.0, 0.0]))
    assert means.shape == (2,) and means[1].item() == 100.0
    coins = minigan.bernoulli(minigan.full((20000,), 0.25))
    assert coins.dtype == numpy.float32 and set(numpy.unique(coins.numpy())) == {0.0, 1.0}
    assert abs(coins.mean().item() - 0.25) < 0.02
    weights = minigan.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]])
    drawn = minigan.multinomial(weights, 1000, replacement=True)
    assert drawn.dtype == numpy.int64 and drawn.shape == (2, 1000)
    assert not (drawn[0] == 0).any().item() and abs((drawn[0] == 2).float().mean().item() - 0.75) < 0.05
    assert (drawn[1] == 0).all().item()
    without = minigan.multinomial(minigan.tensor([1.0, 1.0, 1.0, 0.0]), 3)
    assert sorted(without.tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        minigan.multinomial(minigan.tensor([1.0, 0.0]), 2)
    first = minigan.Generator().manual_seed(7)
    assert first.initial_seed() == 7
    a = minigan.randn(5, generator=first)
    b = minigan.randn(5, generator=minigan.Generator().manual_seed(7))
    numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    state = first.get_state()
    c = minigan.rand(3, generator=first)
    first.set_state(state)
    numpy.testing.assert_array_equal(c.numpy(), minigan.rand(3, generator=first).numpy())
    assert sorted(minigan.randperm(6, generator=first).tolist()) == list(range(6))
    assert minigan.randint(0, 3, (4,), generator=first).max().item() < 3


def test_dtype_aliases_finfo_and_small_functions_are_torchs():
    for name in ["long", "bool", "int64", "uint8", "int32", "int16", "int8", "float", "double", "half", "float32",
                 "float64", "float16", "int", "short"]:
        assert numpy.dtype(getattr(minigan, name)).name == str(getattr(torch, name)).replace("torch.", ""), name
    for dtype in ["float32", "float64", "float16"]:
        ours, theirs = minigan.finfo(getattr(minigan, dtype)), torch.finfo(getattr(torch, dtype))
        for field in ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"]:
            assert getattr(ours, field) == getattr(theirs, field), (dtype, field)
    assert minigan.finfo().eps == torch.finfo().eps
    assert minigan.iinfo(minigan.int64).max == torch.iinfo(torch.int64).max
    x, y = minigan.tensor([1.0, 2.0], dtype=minigan.float64), minigan.tensor([1.0, 2.0 + 1e-9], dtype=minigan.float64)
    assert minigan.allclose(x, y) and x.allclose(y) and not minigan.equal(x, y) and minigan.equal(x, x * 1)
    assert not minigan.equal(x, minigan.tensor([1.0]))
    assert minigan.is_tensor(x) and not minigan.is_tensor(x.numpy()) and minigan.numel(minigan.zeros(2, 3)) == 6


# --------------------------------------------------------------------------------------------
# An op torch offers as a method and as a function, minigan offers both ways once it has either
# --------------------------------------------------------------------------------------------
def _public(names):
    return {name for name in names if not name.startswith("_")}


# torch's in-place functions (torch.relu_, torch.fill_) are its internals; classes (dtype) are not ops;
# minigan.trace is the op tracer (README), and torch.trace(matrix) is refused by it with a TypeError
NOT_OPS = {"trace", "dtype"}


def test_every_op_torch_offers_both_ways_minigan_offers_both_ways():
    both_in_torch = {name for name in _public(dir(torch)) & _public(dir(torch.Tensor))
                     if not name.endswith("_") and name not in NOT_OPS and callable(getattr(torch, name))}
    ours = _public(dir(minigan)) | _public(dir(minigan.Tensor))
    missing = [f"{name}: {'function' if hasattr(minigan.Tensor, name) else 'method'}"
               for name in sorted(both_in_torch & ours)
               if not (hasattr(minigan, name) and hasattr(minigan.Tensor, name))]
    assert not missing, "torch has these as a function and a method, minigan only one way:\n" + "\n".join(missing)
