"""Making tensors: tensor(), zeros, ones, full, arange, rand, randn and friends, on any device.

Every function takes `device=` ('cpu' by default, or 'cuda') and makes its array with that
device's library; the `*_like` functions default to the device of the tensor they copy.
"""
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
    """A new tensor holding a copy of `data`, on `device` (by default where `data` is: the host
    for lists and numbers).

    Python floats become the default dtype (float32); arrays keep theirs, so float64 input stays
    float64; Python ints become int64 and bools bool, as in torch.
    """
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.module_for(backend.device_of(data) if device is None else device)
    if hasattr(data, "dtype"):  # an array (or a numpy scalar): copied, on `device`
        if backend.get_array_module(data) is not xp:
            data = backend.to_numpy(data)
        return Tensor(xp.array(data, dtype=dtype, copy=True), requires_grad=requires_grad)
    array = numpy.array(data, dtype=dtype)  # nested lists and numbers: numpy reads them on the host
    if dtype is None and array.dtype.kind == "f":
        array = array.astype(backend.default_dtype())
    if array.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} (ragged or non-numeric data)")
    return Tensor(xp.asarray(array), requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, sharing memory with an array of the right dtype and device (torch.as_tensor)."""
    if (isinstance(data, Tensor) and (dtype is None or data.dtype == dtype)
            and (device is None or backend.check_device(device) == data.device)):
        return data
    if isinstance(data, Tensor):
        data = data.data
    if hasattr(data, "dtype"):
        return Tensor(backend.as_array(data, dtype=dtype, device=device))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    return Tensor(array)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    return Tensor(xp.zeros(_shape(size), _float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    return Tensor(xp.ones(_shape(size), _float_dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    if dtype is None and isinstance(fill_value, bool):
        dtype = numpy.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = numpy.int64
    return Tensor(xp.full(_shape((size,)), fill_value, _float_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False, device=None):
    return zeros(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device or x.device)


def ones_like(x, dtype=None, requires_grad=False, device=None):
    return ones(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device or x.device)


def full_like(x, fill_value, dtype=None, requires_grad=False, device=None):
    return full(x.shape, fill_value, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device or x.device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """torch.arange: integers give int64, any float argument gives the default float dtype."""
    xp = backend.module_for(device)
    if end is None:
        start, end = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, end, step)):
        dtype = backend.default_dtype()
    return Tensor(xp.arange(start, end, step, dtype=dtype or numpy.int64), requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1) from the seeded generator of `device`."""
    samples = random.generator(device).random(_shape(size), dtype=_float_dtype(dtype))
    return Tensor(samples, requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False, device=None):
    """Standard normal samples from the seeded generator of `device`."""
    samples = random.generator(device).standard_normal(_shape(size), dtype=_float_dtype(dtype))
    return Tensor(samples, requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    return Tensor(random.generator(device).integers(low, high, size=tuple(size), dtype=dtype or numpy.int64))


def randperm(n, device=None):
    return Tensor(random.permutation(n, device))
