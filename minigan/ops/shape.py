"""Ops that move, copy or select elements without arithmetic: reshape, permute, cat, split, indexing
(gather, scatter, index_select, flip, roll), repeat, pad, meshgrid, and moving a tensor to another
device. Those that pick elements are one GetItem, whose gradient scatters back (ScatterAdd)."""
import numbers
import warnings

from minigan import backend
from minigan.backend import get_array_module
from minigan.errors import ShapeError
from minigan.ops.broadcast import broadcast_to, sum_to
from minigan.tensor import Function, Tensor


def _axis(dim, ndim, op):
    """A dim in [-ndim, ndim) as an axis in [0, ndim), or a clear error naming the op; a 0-d
    tensor takes dim 0 or -1, as in torch."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


class Reshape(Function):
    saves_inputs, is_view = False, True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into shape {self.shape}") from None

    def backward(self, grad_output):
        return reshape(grad_output, self.inputs[0].shape)


class Permute(Function):
    saves_inputs, is_view = False, True

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

    saves_inputs = False

    def __init__(self, dtype=None):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype or x.dtype, copy=True)

    def backward(self, grad_output):
        input_dtype = self.inputs[0].dtype
        return grad_output if grad_output.dtype == input_dtype else Copy(input_dtype)(grad_output)


class ToDevice(Function):
    """The same values on another device; the gradient goes back to the input's device."""

    saves_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        return backend.to_device(x, self.device)

    def backward(self, grad_output):
        return to_device(grad_output, self.inputs[0].device)


# --------------------------------------------------------------------------------------------
# Indexing, as torch reads an index
# --------------------------------------------------------------------------------------------
def _is_integer(item):
    return isinstance(item, numbers.Integral) and not isinstance(item, bool)


def _index_item(item, xp):
    """One item of an index as numpy reads it the way torch does: a Tensor as its array, a list or
    tuple as an index array (so `x[:, (1, 1)]` repeats, as `x[:, [1, 1]]` does), a 0-d integer
    tensor as an int, a Python bool as a 0-d mask."""
    if isinstance(item, Tensor):
        item = item.array
    if isinstance(item, (list, tuple, bool)):
        item = xp.asarray(item)
    elif hasattr(item, "shape") and get_array_module(item) is not xp:  # a host index for a 'cuda' tensor
        item = xp.asarray(backend.to_numpy(item))
    if hasattr(item, "shape"):
        if item.dtype.kind not in "biu":
            raise IndexError(f"getitem: tensors used as indices must be integer or bool tensors, got dtype {item.dtype}")
        if item.ndim == 0 and item.dtype.kind in "iu":
            return int(item)
    elif isinstance(item, slice) and item.step is not None and item.step <= 0:
        raise ValueError(f"getitem: step must be greater than zero, got {item}; torch has no negative "
                         "steps (use flip)")
    return item


def torch_index(index, xp):
    """`index` as steps of numpy indexing that give torch's result: `x[steps[0]][steps[1]]...`.

    numpy and torch agree but in one case. numpy counts an int as an index array, so in
    `x[1, :, [0, 2]]` the int and the list are "separated by a slice" and numpy puts their dim
    first: shape (2, n). torch applies ints first, as plain selection, and then the index arrays:
    `x[1][:, [0, 2]]`, shape (n, 2). When an index has both, the ints go in a first step.
    """
    items = tuple(_index_item(item, xp) for item in (index if isinstance(index, tuple) else (index,)))
    has_arrays = any(hasattr(item, "shape") for item in items)
    if not (has_arrays and any(_is_integer(item) for item in items)):
        return (items,)
    selection, rest = [], []
    for item in items:
        if _is_integer(item):
            selection.append(item)
        elif item is None:
            rest.append(None)
        elif item is Ellipsis:
            selection.append(Ellipsis)
            rest.append(Ellipsis)
        else:  # a slice, an index array (one dim) or a mask (as many dims as it has)
            dims = item.ndim if hasattr(item, "shape") and item.dtype.kind == "b" else 1
            selection.extend([slice(None)] * dims)
            rest.append(item)
    return tuple(selection), tuple(rest)


def _is_advanced(index):
    return any(hasattr(item, "shape") for item in index)


def _select(array, steps):
    for step in steps:
        array = array[step]
    return array


def _last_step_target(result, steps):
    """The view of `result` that the last step of `steps` indexes (earlier steps are basic)."""
    return _select(result, steps[:-1]), steps[-1]


class GetItem(Function):
    """x[index], the index as steps (see torch_index)."""

    saves_inputs, is_view = False, True

    def __init__(self, steps):
        self.steps = steps

    def forward(self, x):
        try:
            return _select(x, self.steps)
        except IndexError as error:
            raise IndexError(f"getitem: index {self.steps!r} does not fit a tensor of shape {x.shape}: {error}") from None

    def backward(self, grad_output):
        return ScatterAdd(self.steps, self.inputs[0].shape)(grad_output)


class ScatterAdd(Function):
    """The adjoint of x[index]: a zero tensor of `shape` with `values` added at `index`."""

    saves_inputs = False

    def __init__(self, steps, shape):
        self.steps, self.shape = steps, shape

    def forward(self, values):
        xp = get_array_module(values)
        result = xp.zeros(self.shape, dtype=values.dtype)
        target, index = _last_step_target(result, self.steps)
        if _is_advanced(index):
            xp.add.at(target, index, values)  # an index may repeat: add, don't overwrite
        else:
            target[index] = values
        return result

    def backward(self, grad_output):
        return GetItem(self.steps)(grad_output)


class IndexPut(Function):
    """x with x[index] = value (value broadcast to x[index]'s shape): `x[index] = value` recorded."""

    saves_inputs = False

    def __init__(self, steps):
        self.steps = steps

    def forward(self, x, value):
        result = x.copy()
        target, index = _last_step_target(result, self.steps)
        try:
            target[index] = value
        except ValueError:
            raise ShapeError(f"setitem: a value of shape {value.shape} cannot be broadcast to the shape "
                             f"{target[index].shape} of x[index]") from None
        return result

    def backward(self, grad_output):
        x, value = self.inputs
        need_x, need_value = self.needs_input_grad
        # the elements written over get no gradient; the value gets theirs, summed where broadcast
        grad_x = IndexPut(self.steps)(grad_output, 0.0) if need_x else None
        grad_value = sum_to(GetItem(self.steps)(grad_output), value.shape) if need_value else None
        return grad_x, grad_value


class Cat(Function):
    saves_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        try:
            return get_array_module(arrays[0]).concatenate(arrays, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(f"cat: shapes {shapes} must match in every dim but dim {self.axis}") from None

    def backward(self, grad_output):
        grads, start = [], 0
        for x in self.inputs:
            stop = start + x.shape[self.axis]
            grads.append(narrow(grad_output, self.axis, start, stop - start))
            start = stop
        return tuple(grads)


class Pad(Function):
    saves_inputs = False

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
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
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
        raise ShapeError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
    shape = tuple(x.shape[i - leading] if size == -1 else size for i, size in enumerate(sizes))
    try:
        get_array_module(x.array).broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ShapeError(f"expand: shape {x.shape} cannot be expanded to {sizes}: "
                         "only dims of size 1 can grow") from None
    return broadcast_to(x, shape)


def getitem(x, index):
    if x.ndim == 0 and _is_integer(index):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python to convert a 0-dim "
                         "tensor to a number")
    return GetItem(torch_index(index, get_array_module(x.array)))(x)


def index_put(x, index, value):
    """x with x[index] = value, out of place (`x[index] = value` is its in-place form)."""
    return IndexPut(torch_index(index, get_array_module(x.array)))(x, value)


def narrow(x, dim, start, length):
    """torch.narrow: the `length` elements from `start` along `dim` (a view in torch, a copy here)."""
    axis = _axis(dim, x.ndim, "narrow")
    start = start + x.shape[axis] if start < 0 else start
    if not 0 <= start <= start + length <= x.shape[axis] or length < 0:
        raise IndexError(f"narrow: start {start} + length {length} exceeds dim {dim} of size {x.shape[axis]}")
    return GetItem(((slice(None),) * axis + (slice(start, start + length),),))(x)


def _along(axis, index):
    """An index that applies `index` to axis `axis` and keeps every other axis whole."""
    return (slice(None),) * axis + (index,)


def index_select(x, dim, index):
    """The entries of `index` (a 1-D integer tensor) along `dim`; repeated indices repeat them."""
    axis = _axis(dim, x.ndim, "index_select") if x.ndim else 0
    if x.ndim == 0:
        return x.reshape(-1)[index]
    return x[_along(axis, index.reshape(-1) if isinstance(index, Tensor) else index)]


def flip(x, dims):
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    axes = sorted({_axis(d, x.ndim, "flip") for d in dims})
    index = tuple(slice(None, None, -1) if axis in axes else slice(None) for axis in range(x.ndim))
    return GetItem((index,))(x) if axes else clone(x)  # numpy's negative step, which torch's indexing refuses


def roll(x, shifts, dims=None):
    """Shift elements along `dims` by `shifts`, wrapping around; without dims, over the flattened
    tensor. One index gather per rolled dim."""
    if dims is None:
        return roll(x.reshape(-1), shifts, 0).reshape(x.shape)
    shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    xp = get_array_module(x.array)
    for shift, dim in zip(shifts, dims):
        axis = _axis(dim, x.ndim, "roll")
        size = x.shape[axis]
        if size:
            x = x[_along(axis, Tensor((xp.arange(size) - shift) % size))]
    return x


def gather(x, dim, index):
    """torch.gather: out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for the others):
    `index` has x's number of dims and picks, along `dim`, one entry for each of its positions."""
    index = index if isinstance(index, Tensor) else Tensor(index)
    if index.ndim != x.ndim:
        raise ShapeError(f"gather: index (shape {index.shape}) must have as many dims as the input (shape "
                         f"{x.shape})")
    axis = _axis(dim, x.ndim, "gather") if x.ndim else 0
    if x.ndim == 0:
        return x.reshape(1)[index.reshape(1)].reshape(())
    return x[_positions(index, axis)]


def _positions(index, axis):
    """The advanced index that reads, at each position p of `index`, the input at p with its `axis`
    coordinate replaced by index[p]."""
    xp = get_array_module(index.array)
    grid = [xp.arange(size).reshape((-1,) + (1,) * (index.ndim - 1 - i)) for i, size in enumerate(index.shape)]
    grid[axis] = index.array
    return tuple(Tensor(g) for g in grid)


def scatter(x, dim, index, src=None, value=None, *, reduce=None):
    """torch.scatter, out of place: x with x[index[i][j]][j] = src[i][j] for dim 0 (src a tensor,
    or a number). Where `index` repeats a position torch keeps an unspecified one of the values;
    so does this."""
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported")
    source = value if src is None else src
    index = index if isinstance(index, Tensor) else Tensor(index)
    axis = _axis(dim, x.ndim, "scatter")
    if isinstance(source, Tensor):
        source = source[tuple(slice(0, size) for size in index.shape)]
    if not isinstance(source, Tensor):
        source = Tensor(get_array_module(x.array).asarray(source, dtype=x.dtype))
    return index_put(x, _positions(index, axis), source)


def chunk(x, chunks, dim=0):
    """`chunks` pieces (the last may be smaller, and fewer may come) of ceil(size / chunks) along dim."""
    axis = _axis(dim, x.ndim, "chunk")
    size = x.shape[axis]
    step = max(-(-size // chunks), 1)
    return split(x, step, axis) if size else tuple(clone(x) for _ in range(chunks))


def split(x, split_size_or_sections, dim=0):
    """Pieces of split_size_or_sections along dim (the last may be smaller), or of each listed size."""
    axis = _axis(dim, x.ndim, "split")
    size = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        sizes = [min(step, size - start) for start in range(0, size, step)] if size else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise ValueError(f"split: sizes {sizes} do not add up to dim {dim}'s size {size}")
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return tuple(narrow(x, axis, start, length) for start, length in zip(starts, sizes))


def repeat(x, *sizes):
    """torch's Tensor.repeat (numpy's tile): the tensor `sizes[i]` times along dim i; more sizes
    than dims add leading dims. One broadcast and one reshape, so the gradient sums the copies."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: number of repeat dims {len(sizes)} can not be smaller than the number of "
                         f"dims of the tensor ({x.ndim})")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = reshape(x, tuple(size for dim in shape for size in (1, dim)))
    expanded = broadcast_to(interleaved, tuple(size for count, dim in zip(sizes, shape) for size in (count, dim)))
    return reshape(expanded, tuple(count * dim for count, dim in zip(sizes, shape)))


def tile(x, dims):
    """torch.tile: repeat, with ones prepended to `dims` when it has fewer entries than x has dims."""
    dims = tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def repeat_interleave(x, repeats, dim=None, *, output_size=None):
    """Each element repeated `repeats` times (an int, or one count per element) along dim, or in
    the flattened tensor."""
    if dim is None:
        x, dim = x.reshape(-1), 0
    axis = _axis(dim, x.ndim, "repeat_interleave")
    xp = get_array_module(x.array)
    counts = repeats.array if isinstance(repeats, Tensor) else repeats
    return x[_along(axis, Tensor(xp.repeat(xp.arange(x.shape[axis]), counts)))]


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: with indexing 'ij' (torch's default) the i-th output
    varies along dim i; with 'xy' the first two are swapped."""
    tensors = tuple(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)) else tensors
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ordered = list(tensors)
    if indexing == "xy" and len(ordered) >= 2:
        ordered[0], ordered[1] = ordered[1], ordered[0]
    shape = tuple(t.numel() for t in ordered)
    grids = [broadcast_to(reshape(t, tuple(-1 if i == k else 1 for k in range(len(shape)))), shape)
             for i, t in enumerate(ordered)]
    if indexing == "xy" and len(grids) >= 2:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


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
        raise ShapeError(f"cat: all tensors need the same number of dims, got shapes {[t.shape for t in tensors]}")
    return Cat(_axis(dim, ndim, "cat"))(*tensors)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ShapeError(f"stack: all tensors need the same shape, got {[t.shape for t in tensors]}")
    axis = _axis(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def _source_positions(xp, size, before, after, mode):
    """For padding an axis of `size` by (before, after) in `mode`, the position each output element
    is read from: reflect mirrors about the edge (the edge once), replicate repeats the edge,
    circular wraps around."""
    positions = xp.arange(-before, size + after)
    if mode == "reflect":
        return xp.abs((positions + size - 1) % (2 * size - 2) - (size - 1)) if size > 1 else positions * 0
    if mode == "replicate":
        return xp.clip(positions, 0, size - 1)
    return positions % size


def _check_pad_fits(mode, x, pairs):
    """torch's limits: non-constant modes pad the last 1 to 3 dims of an input with 1 or 2 more,
    reflect by less than the size, circular by at most it."""
    padded = len(pairs)
    if x.ndim not in (padded + 1, padded + 2) or padded > 3:
        raise NotImplementedError(f"pad: mode {mode!r} pads the last 1 to 3 dims of an input with 1 or 2 more "
                                  f"(batch, channel); got {padded} dims to pad for shape {tuple(x.shape)}")
    for (before, after), size in zip(pairs[::-1], x.shape[-padded:]):
        limit_ok = max(before, after) < size if mode == "reflect" else max(before, after) <= size
        if not limit_ok and (before or after):
            raise ValueError(f"pad: padding ({before}, {after}) with mode {mode!r} is too large for a dim of "
                             f"size {size}; reflect needs less than the size, circular at most the size")


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: `pad` lists (before, after) pairs starting from the last dim.
    'constant' pads with `value` (None: 0); 'reflect', 'replicate' and 'circular' read the padding
    from the input itself, one index gather per padded axis (so the gradient of a padded element
    flows back to the element it copies)."""
    x = input
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; 'constant', 'reflect', 'replicate' or "
                                  "'circular'")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {x.ndim} dims")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported; slice the tensor instead")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    if mode == "constant":
        widths = tuple([(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1])
        return Pad(widths, 0.0 if value is None else value)(x)
    if value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    _check_pad_fits(mode, x, pairs)
    xp = get_array_module(x.array)
    for axis_from_end, (before, after) in enumerate(pairs, start=1):
        if before or after:
            axis = x.ndim - axis_from_end
            positions = _source_positions(xp, x.shape[axis], before, after, mode)
            x = x[(slice(None),) * axis + (Tensor(positions),)]
    return x
