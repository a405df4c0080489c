"""Indexing and comparisons read as torch reads them, forward and backward, checked against torch.

hypothesis draws index expressions of every kind torch accepts — ints (negative too), slices with
steps and out-of-range bounds, None, Ellipsis, bool masks, integer arrays with repeats given as
lists, tuples or tensors — and compares the result's shape, its values, its gradient and (for
`x[index] = value`) the gradients of both x and the value with torch's.
"""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_close, assert_matches_torch, torch

import minigan

examples = settings(max_examples=150, deadline=None)
rng = numpy.random.default_rng(3)


# --------------------------------------------------------------------------------------------
# The cases that used to differ
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("index", [(slice(None), (1, 1)), ((1, 1),), ([1, 1],), (slice(None), [0, 2, 0])],
                         ids=["x[:, (1, 1)]", "x[(1, 1),]", "x[[1, 1]]", "x[:, [0, 2, 0]]"])
def test_the_gradient_of_a_repeated_index_accumulates_however_the_index_is_written(index):
    assert_matches_torch(lambda x: x[index], [rng.standard_normal((3, 4))])


def test_ints_select_before_index_arrays_as_in_torch():
    """numpy would move the advanced dims first in both: the int counts as an index array there."""
    d = numpy.array([[0, 1], [2, 2]])
    x = rng.standard_normal((2, 5, 6, 5, 3, 4))
    assert minigan.tensor(x)[1, :, 3:11:2, minigan.tensor(d), 0:2].shape == (5, 2, 2, 2, 2, 4)
    assert_matches_torch(lambda x, d: x[1, :, 3:11:2, d, 0:2], [x, d])
    y = rng.standard_normal((5, 6, 7))
    assert minigan.tensor(y)[3, 2:, [1, 3]].shape == (4, 2)
    assert_matches_torch(lambda y: y[3, 2:, [1, 3]], [y])


def test_a_0d_integer_tensor_indexes_as_an_int():
    y = rng.standard_normal((5, 6, 7))
    assert_matches_torch(lambda y, i: y[i, :, [0, 1]], [y, numpy.array(1)])


def test_a_negative_step_is_refused_as_torch_refuses_it():
    with pytest.raises(ValueError, match="step must be greater than zero"):
        minigan.randn(4)[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        torch.randn(4)[::-1]


def test_a_float_index_is_refused_as_torch_refuses_it():
    with pytest.raises(IndexError, match="integer or bool"):
        minigan.randn(4)[minigan.tensor([1.0])]


# --------------------------------------------------------------------------------------------
# Random index expressions
# --------------------------------------------------------------------------------------------
@st.composite
def index_expressions(draw, shape):
    """An index for a tensor of `shape`, and whether it holds advanced indices. Index arrays drawn
    for one expression share one shape (they broadcast together); a bool mask is the only
    advanced index of its expression (its count of True decides its length)."""
    items, dim = [], 0
    array_shape = draw(st.sampled_from([(2,), (3,), (1,), (2, 2)]))
    advanced = draw(st.sampled_from(["none", "arrays", "mask"]))
    used_ellipsis = used_mask = False
    count = draw(st.integers(1, len(shape) + 1))
    while dim < len(shape) and len(items) < count:
        size = shape[dim]
        kinds = ["int", "int", "slice", "none"] + ["ellipsis"] * (not used_ellipsis)
        kinds += ["array"] * 3 * (advanced == "arrays") + ["mask"] * 2 * (advanced == "mask" and not used_mask)
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            items.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-size - 2, size + 2))
            stop = draw(st.none() | st.integers(-size - 2, size + 2))
            items.append(slice(start, stop, draw(st.none() | st.integers(1, 3))))
        elif kind == "none":
            items.append(None)
            continue
        elif kind == "ellipsis":
            items.append(Ellipsis)
            used_ellipsis = True
            dim = max(dim, len(shape) - draw(st.integers(0, len(shape) - dim)))
            continue
        elif kind == "array":
            values = draw(st.lists(st.integers(-size, size - 1), min_size=int(numpy.prod(array_shape)),
                                   max_size=int(numpy.prod(array_shape))))
            form = draw(st.sampled_from(["array", "list", "tuple"] if len(array_shape) == 1 else ["array"]))
            array = numpy.array(values).reshape(array_shape)
            items.append(array if form == "array" else list(values) if form == "list" else tuple(values))
        else:  # a mask over one dim, or two
            dims = min(draw(st.integers(1, 2)), len(shape) - dim)
            mask = numpy.array(draw(st.lists(st.booleans(), min_size=int(numpy.prod(shape[dim:dim + dims])),
                                             max_size=int(numpy.prod(shape[dim:dim + dims]))))).reshape(shape[dim:dim + dims])
            items.append(mask)
            used_mask = True
            dim += dims
            continue
        dim += 1
    if draw(st.booleans()) and items and len(items) == 1:
        return items[0]
    return tuple(items)


def _on(library, index):
    """The index with its arrays as `library`'s tensors (lists and tuples as they are)."""
    items = index if isinstance(index, tuple) else (index,)
    converted = tuple(library.tensor(i) if isinstance(i, numpy.ndarray) else i for i in items)
    return converted if isinstance(index, tuple) else converted[0]


@examples
@given(data=st.data(), shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple),
       seed=st.integers(0, 2 ** 32 - 1))
def test_random_index_expressions_match_torch(data, shape, seed):
    index = data.draw(index_expressions(shape), label="index")
    x = numpy.random.default_rng(seed).standard_normal(shape)
    try:
        expected = torch.tensor(x)[_on(torch, index)]
    except (IndexError, ValueError, RuntimeError) as error:  # torch refuses: so must minigan
        with pytest.raises(type(error)):
            minigan.tensor(x)[_on(minigan, index)]
        return
    ours = minigan.tensor(x)[_on(minigan, index)]
    assert ours.shape == tuple(expected.shape), f"x{list(index) if isinstance(index, tuple) else [index]}"
    assert_matches_torch(lambda t: t[_on(minigan, index)] * 1.5, [x],
                         torch_fn=lambda t: t[_on(torch, index)] * 1.5)


@examples
@given(data=st.data(), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2 ** 32 - 1))
def test_random_index_assignments_match_torch(data, shape, seed):
    """x[index] = value on a tensor of the graph: x's gradient is zero where it was written over,
    the value's is the gradient of the places it was written to (summed where it broadcast)."""
    index = data.draw(index_expressions(shape), label="index")
    draw = numpy.random.default_rng(seed)
    x = draw.standard_normal(shape)
    try:
        target_shape = tuple(torch.tensor(x)[_on(torch, index)].shape)
    except (IndexError, ValueError, RuntimeError):
        return
    if _writes_one_place_twice(shape, index):
        return  # which of the repeated writes wins is unspecified in torch
    value_shape = data.draw(st.sampled_from([target_shape, target_shape[1:], ()]), label="value shape")
    value = draw.standard_normal(value_shape)

    def assign(library):
        def function(x, value):
            y = x * 1.0  # a tensor of the graph
            y[_on(library, index)] = value
            return y
        return function

    assert_matches_torch(assign(minigan), [x, value], torch_fn=assign(torch))


def _writes_one_place_twice(shape, index):
    positions = numpy.arange(int(numpy.prod(shape))).reshape(shape)
    written = torch.tensor(positions)[_on(torch, index)].flatten()
    return len(numpy.unique(written.numpy())) != written.numel()


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------
COMPARISONS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
               "eq": lambda a, b: a.eq(b), "ne": lambda a, b: a.ne(b), "lt": lambda a, b: a.lt(b),
               "le": lambda a, b: a.le(b), "gt": lambda a, b: a.gt(b), "ge": lambda a, b: a.ge(b)}
small_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@examples
@given(name=st.sampled_from(sorted(COMPARISONS)), shapes=st.tuples(small_shapes, small_shapes),
       number=st.booleans(), seed=st.integers(0, 2 ** 32 - 1))
def test_comparisons_give_elementwise_bool_tensors_as_torch(name, shapes, number, seed):
    compare = COMPARISONS[name]
    draw = numpy.random.default_rng(seed)
    a = draw.integers(-2, 3, shapes[0]).astype(numpy.float64)  # small integers: ties are common
    b = float(draw.integers(-2, 3)) if number else draw.integers(-2, 3, shapes[1]).astype(numpy.float64)
    other = b if number else minigan.tensor(b)
    try:
        expected = compare(torch.tensor(a), b if number else torch.tensor(b))
    except RuntimeError:
        with pytest.raises(RuntimeError):
            compare(minigan.tensor(a), other)
        return
    ours = compare(minigan.tensor(a), other)
    assert isinstance(ours, minigan.Tensor) and ours.dtype == numpy.bool_ and not ours.requires_grad
    numpy.testing.assert_array_equal(ours.array, expected.numpy())


def test_a_mask_made_by_a_comparison_multiplies_as_in_torch():
    """`t * (t != 0)` used to multiply by the Python bool True."""
    x = numpy.array([0.0, 1.5, 0.0, -2.0])
    assert_matches_torch(lambda t: t * (t != 0) + t * (t == 0) * 3, [x])


def test_equality_with_none_is_false_and_tensors_hash_by_identity():
    x, y = minigan.tensor([1.0]), minigan.tensor([1.0])
    assert (x == None) is False and (x != None) is True  # noqa: E711, as torch
    assert len({x, y, x}) == 2 and {x: 1}[x] == 1
    assert x in [x] and bool(x == y)


def test_an_int_index_into_a_0_d_tensor_gives_torchs_error():
    """PyTorch-GAN's began.py reads `loss.data[0]`, written for torch 0.3; torch 2 refuses it so."""
    with pytest.raises(IndexError, match=r"invalid index of a 0-dim tensor. Use `tensor.item\(\)`"):
        minigan.tensor(1.0)[0]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        torch.tensor(1.0)[0]
