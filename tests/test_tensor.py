"""The Tensor itself: creation functions and their dtypes, seeding, attributes, conversions, repr."""
import numpy
import pytest
from parity import torch

import minigan


@pytest.fixture
def float64_default():
    minigan.set_default_dtype(minigan.float64)
    try:
        yield
    finally:
        minigan.set_default_dtype(minigan.float32)


# -- creation and dtypes ----------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], numpy.float32),
    (2.5, numpy.float32),
    ([[1, 2], [3, 4]], numpy.int64),
    (7, numpy.int64),
    ([True, False], numpy.bool_),
    (numpy.array([1.0, 2.0]), numpy.float64),
    (numpy.array([1.0, 2.0], dtype=numpy.float32), numpy.float32),
    (numpy.array([1, 2], dtype=numpy.int32), numpy.int32),
], ids=["float list", "float", "int lists", "int", "bools", "float64 array", "float32 array", "int32 array"])
def test_tensor_dtype_follows_torch(data, dtype):
    ours = minigan.tensor(data)
    assert ours.dtype == dtype
    assert str(torch.tensor(data).dtype) == f"torch.{numpy.dtype(dtype)}"
    numpy.testing.assert_array_equal(ours.array, numpy.asarray(data))


def test_tensor_takes_an_explicit_dtype():
    assert minigan.tensor([1, 2], dtype=minigan.float64).dtype == numpy.float64
    assert minigan.tensor(numpy.array([1.5]), dtype=minigan.float32).dtype == numpy.float32


def test_tensor_copies_its_data():
    source = numpy.array([1.0, 2.0])
    t = minigan.tensor(source)
    source[0] = 5.0
    assert t.array[0] == 1.0
    again = minigan.tensor(t)
    again.array[1] = 9.0
    assert t.array[1] == 2.0


def test_tensor_rejects_ragged_data():
    with pytest.raises((TypeError, ValueError)):
        minigan.tensor([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("make, value", [(minigan.zeros, 0.0), (minigan.ones, 1.0)], ids=["zeros", "ones"])
def test_zeros_and_ones_take_sizes_as_arguments_or_a_tuple(make, value):
    for t in (make(2, 3), make((2, 3)), make([2, 3])):
        assert t.shape == (2, 3) and t.dtype == numpy.float32 and numpy.all(t.array == value)
    assert make(3, dtype=minigan.float64).dtype == numpy.float64
    assert make(2, requires_grad=True).requires_grad
    assert make(()).shape == ()


def test_full_takes_the_dtype_of_its_fill_value_as_torch():
    assert minigan.full((2, 3), 1.5).dtype == numpy.float32
    assert numpy.all(minigan.full((2, 3), 1.5).array == 1.5)
    assert minigan.full((2,), 3).dtype == numpy.int64 == numpy.dtype(str(torch.full((2,), 3).dtype)[6:])
    assert minigan.full((2,), True).dtype == numpy.bool_
    assert minigan.full((2,), 3, dtype=minigan.float64).dtype == numpy.float64


def test_zeros_like_and_ones_like_keep_shape_and_dtype():
    x = minigan.tensor(numpy.ones((2, 3)))
    for made, value in [(minigan.zeros_like(x), 0), (minigan.ones_like(x), 1)]:
        assert made.shape == (2, 3) and made.dtype == numpy.float64 and numpy.all(made.array == value)
        assert not numpy.shares_memory(made.array, x.array) and not made.requires_grad
    assert minigan.zeros_like(x, dtype=minigan.float32).dtype == numpy.float32
    assert minigan.ones_like(minigan.arange(3)).dtype == numpy.int64


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (-2, 3, 2)], ids=str)
def test_arange_of_ints_matches_torch(args):
    ours, theirs = minigan.arange(*args), torch.arange(*args)
    assert ours.dtype == numpy.int64
    numpy.testing.assert_array_equal(ours.array, theirs.numpy())


@pytest.mark.parametrize("args", [(2.5,), (0, 1, 0.25), (-1.0, 1)], ids=str)
def test_arange_with_a_float_gives_the_default_float_dtype(args):
    ours, theirs = minigan.arange(*args), torch.arange(*args)
    assert ours.dtype == numpy.float32
    numpy.testing.assert_array_equal(ours.array, theirs.numpy())


def test_rand_is_uniform_in_unit_interval_and_randn_is_normal():
    minigan.manual_seed(0)
    uniform, normal = minigan.rand(2000), minigan.randn(40, 50)
    assert uniform.shape == (2000,) and uniform.dtype == numpy.float32
    assert normal.shape == (40, 50) and normal.dtype == numpy.float32
    assert uniform.array.min() >= 0 and uniform.array.max() < 1
    assert abs(uniform.array.mean() - 0.5) < 0.05
    assert abs(normal.array.mean()) < 0.1 and abs(normal.array.std() - 1) < 0.1
    assert minigan.randn((3, 2), dtype=minigan.float64).dtype == numpy.float64
    assert minigan.rand(2, requires_grad=True).requires_grad


def test_manual_seed_repeats_rand_and_randn():
    def draw():
        return minigan.rand(3, 4).array, minigan.randn(5).array

    minigan.manual_seed(123)
    first = draw()
    minigan.manual_seed(123)
    second = draw()
    minigan.manual_seed(124)
    other = draw()
    for a, b in zip(first, second):
        numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(first[0], other[0])


def test_set_default_dtype_changes_what_floats_become(float64_default):
    assert minigan.get_default_dtype() == numpy.float64
    assert minigan.tensor([1.0]).dtype == numpy.float64
    assert minigan.tensor(numpy.array([1.0], dtype=numpy.float32)).dtype == numpy.float32
    for made in (minigan.zeros(2), minigan.ones(2), minigan.full((2,), 0.5), minigan.rand(2), minigan.randn(2),
                 minigan.arange(0.0, 2.0)):
        assert made.dtype == numpy.float64
    assert minigan.tensor([1]).dtype == numpy.int64
    assert (minigan.tensor([1, 2]) * 0.5).dtype == numpy.float64


def test_the_default_dtype_is_float32_again_after_the_fixture():
    assert minigan.get_default_dtype() == numpy.float32
    assert minigan.tensor([1.0]).dtype == numpy.float32


def test_set_default_dtype_refuses_non_float_dtypes():
    with pytest.raises(TypeError, match="float32 and float64"):
        minigan.set_default_dtype(minigan.int64)
    assert minigan.get_default_dtype() == numpy.float32


@pytest.mark.parametrize("expression", [
    lambda lib: lib.tensor([1.0, 2.0]) * 2.5,
    lambda lib: 2.5 * lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([1.0, 2.0]) + 1,
    lambda lib: lib.tensor([1.0, 2.0]) ** 2,
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64) * 2.5,
    lambda lib: lib.tensor([1, 2]) * 2,
    lambda lib: lib.tensor([1, 2]) * 2.5,
    lambda lib: 2.5 - lib.tensor([1, 2]),
    lambda lib: lib.tensor([1, 2]) / 2,
    lambda lib: lib.tensor([1, 2]) / lib.tensor([2, 4]),
    lambda lib: lib.tensor([1, 2]) ** 0.5,
    lambda lib: lib.tensor([1, 2]) * lib.tensor([0.5, 1.5]),
    lambda lib: lib.tensor([1, 2]) * lib.tensor([0.5, 1.5], dtype=lib.float64),
    lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 0.5),
    lambda lib: lib.tensor([True, False]) * 1.5,
], ids=["float*float", "float*tensor", "tensor+int", "tensor**int", "float64*float", "int*int", "int*float",
        "float-int", "int/int scalar", "int/int", "int**float", "int*float32 tensor", "int*float64 tensor",
        "where int or float", "bool*float"])
def test_result_dtypes_follow_torch(expression):
    assert numpy.dtype(expression(minigan).dtype) == numpy.dtype(str(expression(torch).dtype)[len("torch."):])


def test_unknown_devices_are_refused():
    assert minigan.zeros(2, device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="device"):
        minigan.zeros(2, device="tpu")


# -- attributes and methods -------------------------------------------------------------------
def test_attributes_of_a_leaf():
    x = minigan.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert isinstance(x.array, numpy.ndarray)
    assert x.grad is None and x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x.shape == (2, 3) and x.dtype == numpy.float32 and x.ndim == 2 and x.device == "cpu"
    assert x.size() == (2, 3) and x.size(1) == 3 and x.dim() == 2 and x.numel() == 6 and len(x) == 2


def test_attributes_of_an_op_result():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.requires_grad and not y.is_leaf and type(y.grad_fn).__name__ == "Mul"
    assert y.grad is None
    y.sum().backward()
    assert y.grad is None  # only leaves keep gradients
    numpy.testing.assert_array_equal(x.grad.array, [2.0, 2.0])
    assert x.grad.dtype == x.dtype


def test_numpy_item_and_conversions():
    x = minigan.tensor([[1.5, 2.0]])
    array = x.numpy()
    assert isinstance(array, numpy.ndarray) and array.dtype == numpy.float32
    numpy.testing.assert_array_equal(array, [[1.5, 2.0]])
    scalar = x[0, 0]
    assert scalar.item() == 1.5 and isinstance(scalar.item(), float)
    assert float(scalar) == 1.5 and int(scalar) == 1 and bool(scalar)
    assert minigan.tensor([3]).item() == 3 and isinstance(minigan.tensor([3]).item(), int)
    assert x.tolist() == [[1.5, 2.0]]
    with pytest.raises(ValueError, match="one element"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


def test_numpy_of_a_tensor_that_requires_grad_asks_for_detach():
    x = minigan.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    numpy.testing.assert_array_equal(x.detach().numpy(), [1.0])


def test_detach_keeps_the_data_and_drops_the_graph():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).detach()
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    numpy.testing.assert_array_equal(y.array, [3.0, 6.0])


def test_requires_grad_in_place():
    x = minigan.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    y = minigan.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_repr_reads_like_torch():
    cases = [
        lambda lib: lib.tensor([1.0, 2.0]),
        lambda lib: lib.tensor([1, 2]),
        lambda lib: lib.tensor([True, False]),
        lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    ]
    for make in cases:
        assert repr(make(minigan)) == repr(make(torch))
    assert repr(minigan.tensor(numpy.array([1.0, 2.0]))) == "tensor([1., 2.], dtype=float64)"
    assert repr(minigan.tensor([1.0, 2.0], requires_grad=True) * 2) == "tensor([2., 4.], grad_fn=<Mul>)"
    assert repr(minigan.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


def test_numpy_arrays_and_scalars_on_the_left_of_an_operator_give_tensors():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    products = [numpy.array([3.0, 4.0]) * x, numpy.float64(3.0) * x, numpy.float32(3.0) * x]
    assert all(isinstance(p, minigan.Tensor) and p.requires_grad for p in products)
    assert products[1].dtype == products[2].dtype == numpy.float32
    products[0].sum().backward()
    numpy.testing.assert_array_equal(x.grad.array, [3.0, 4.0])
