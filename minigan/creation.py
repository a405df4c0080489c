"""Making tensors: tensor(), zeros, ones, full, arange, rand, randn and friends."""
import numpy

from minigan import backend, random
from minigan.tensor import Tensor


def _shape(size):
    """zeros(2, 3) and zeros((2, 3)) both mean shape (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _float_dtype(dtype):
    return backend.default_dtype() if dtype is None else numpy.dtype(dtype)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data`.

    Python floats become the default dtype (float32); numpy arrays keep theirs, so float64
    input stays float64; Python ints become int64 and bools bool, as in torch.
    """
    backend.check_device(device)
    if isinstance(data, Tensor):
        data = data.data
    keeps_dtype = hasattr(data, "dtype")
    array = numpy.array(backend.to_numpy(data) if keeps_dtype else data, dtype=dtype, copy=True)
    if dtype is None and not keeps_dtype and array.dtype.kind == "f":
        array = array.astype(backend.default_dtype())
    if array.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} (ragged or non-numeric data)")
    return Tensor(array, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, sharing memory with an array of the right dtype (torch.as_tensor)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    if hasattr(data, "dtype"):
        return Tensor(backend.as_array(data, dtype=dtype, device=device))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    return Tensor(array)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    backend.check_device(device)
    return Tensor(numpy.zeros(_shape(size), _float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    backend.check_device(device)
    return Tensor(numpy.ones(_shape(size), _float_dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    backend.check_device(device)
    if dtype is None and isinstance(fill_value, bool):
        dtype = numpy.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = numpy.int64
    return Tensor(numpy.full(_shape((size,)), fill_value, _float_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False, device=None):
    return zeros(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device)


def ones_like(x, dtype=None, requires_grad=False, device=None):
    return ones(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device)


def full_like(x, fill_value, dtype=None, requires_grad=False, device=None):
    return full(x.shape, fill_value, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """torch.arange: integers give int64, any float argument gives the default float dtype."""
    backend.check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, end, step)):
        dtype = backend.default_dtype()
    return Tensor(numpy.arange(start, end, step, dtype=dtype or numpy.int64), requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1) from minigan's seeded generator."""
    backend.check_device(device)
    dtype = _float_dtype(dtype)
    return Tensor(random.generator().random(_shape(size), dtype=dtype), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False, device=None):
    """Standard normal samples from minigan's seeded generator."""
    backend.check_device(device)
    dtype = _float_dtype(dtype)
    return Tensor(random.generator().standard_normal(_shape(size), dtype=dtype), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    backend.check_device(device)
    if high is None:
        low, high = 0, low
    return Tensor(random.generator().integers(low, high, size=tuple(size), dtype=dtype or numpy.int64))


def randperm(n, device=None):
    backend.check_device(device)
    return Tensor(random.generator().permutation(n))
