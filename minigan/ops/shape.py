"""Ops that move, copy or select elements without arithmetic: reshape, permute, cat, indexing, pad,
and moving a tensor to another device."""
from minigan import backend
from minigan.autograd import Function
from minigan.backend import get_array_module
from minigan.ops.broadcast import broadcast_to
from minigan.tensor import Tensor


def _axis(dim, ndim, op):
    """A dim in [-ndim, ndim) as an axis in [0, ndim), or a clear error naming the op; a 0-d
    tensor takes dim 0 or -1, as in torch."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into shape {self.shape}") from None

    def backward(self, grad_output):
        return reshape(grad_output, self.inputs[0].shape)


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, grad_output):
        inverse = [0] * len(self.dims)
        for position, dim in enumerate(self.dims):
            inverse[dim] = position
        return permute(grad_output, inverse)


class Copy(Function):
    """A copy of the data into new memory, optionally of another dtype (clone, to(dtype))."""

    def __init__(self, dtype=None):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype or x.dtype, copy=True)

    def backward(self, grad_output):
        input_dtype = self.inputs[0].dtype
        return grad_output if grad_output.dtype == input_dtype else Copy(input_dtype)(grad_output)


class ToDevice(Function):
    """The same values on another device; the gradient goes back to the input's device."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        return backend.to_device(x, self.device)

    def backward(self, grad_output):
        return to_device(grad_output, self.inputs[0].device)


def _as_index(index, xp):
    """A Tensor index (or tuple of them) as raw arrays; lists become arrays, as torch reads them."""
    if isinstance(index, tuple):
        return tuple(_as_index(i, xp) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return xp.asarray(index)
    return index


def _is_advanced(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(hasattr(i, "shape") for i in items)


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        try:
            return x[self.index]
        except IndexError as error:
            raise IndexError(f"getitem: index {self.index!r} does not fit a tensor of shape {x.shape}: {error}") from None

    def backward(self, grad_output):
        return ScatterAdd(self.index, self.inputs[0].shape)(grad_output)


class ScatterAdd(Function):
    """The adjoint of x[index]: a zero tensor of `shape` with `values` added at `index`."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, values):
        xp = get_array_module(values)
        result = xp.zeros(self.shape, dtype=values.dtype)
        if _is_advanced(self.index):
            xp.add.at(result, self.index, values)  # an index may repeat: add, don't overwrite
        else:
            result[self.index] = values
        return result

    def backward(self, grad_output):
        return GetItem(self.index)(grad_output)


class Cat(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        try:
            return get_array_module(arrays[0]).concatenate(arrays, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"cat: shapes {shapes} must match in every dim but dim {self.axis}") from None

    def backward(self, grad_output):
        grads, start = [], 0
        for x in self.inputs:
            stop = start + x.shape[self.axis]
            grads.append(narrow(grad_output, self.axis, start, stop))
            start = stop
        return tuple(grads)


class Pad(Function):
    """Constant padding by `widths`, a (before, after) pair per axis."""

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return get_array_module(x).pad(x, self.widths, constant_values=self.value)

    def backward(self, grad_output):
        inner = tuple(slice(before, size - after) for (before, after), size in zip(self.widths, grad_output.shape))
        return grad_output[inner]


def reshape(x, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return x if shape == x.shape else Reshape(shape)(x)


def permute(x, *dims):
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute(tuple(d % x.ndim for d in dims))(x)


def transpose(x, dim0, dim1):
    a, b = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    if a == b:
        return x
    dims = list(range(x.ndim))
    dims[a], dims[b] = dims[b], dims[a]
    return Permute(tuple(dims))(x)


def squeeze(x, dim=None):
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = dim if isinstance(dim, tuple) else (dim,)
    axes = {_axis(d, x.ndim, "squeeze") for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(x, dim):
    axis = _axis(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    merged = 1
    for size in x.shape[start:end + 1]:
        merged *= size
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def expand(x, *sizes):
    """Broadcast to `sizes` without copying; -1 keeps a dim's size, as in torch."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    leading = len(sizes) - x.ndim
    if leading < 0:
        raise ValueError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
    shape = tuple(x.shape[i - leading] if size == -1 else size for i, size in enumerate(sizes))
    try:
        get_array_module(x.data).broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"expand: shape {x.shape} cannot be expanded to {sizes}: "
                         "only dims of size 1 can grow") from None
    return broadcast_to(x, shape)


def getitem(x, index):
    return GetItem(_as_index(index, get_array_module(x.data)))(x)


def narrow(x, dim, start, stop):
    """x[..., start:stop, ...] along `dim`."""
    index = (slice(None),) * dim + (slice(start, stop),)
    return GetItem(index)(x)


def clone(x):
    return Copy()(x)


def cast(x, dtype):
    return x if x.dtype == dtype else Copy(dtype)(x)


def to_device(x, device):
    """`x` on `device` ('cpu' or 'cuda'): x itself if it is there already, else a copy."""
    device = backend.check_device(device)
    return x if x.device == device else ToDevice(device)(x)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ndim = tensors[0].ndim
    if any(t.ndim != ndim for t in tensors):
        raise ValueError(f"cat: all tensors need the same number of dims, got shapes {[t.shape for t in tensors]}")
    return Cat(_axis(dim, ndim, "cat"))(*tensors)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in tensors]}")
    axis = _axis(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def pad(x, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: `pad` lists (before, after) pairs starting from the last dim."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {x.ndim} dims")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported; slice the tensor instead")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    widths = tuple([(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1])
    return Pad(widths, value)(x)
