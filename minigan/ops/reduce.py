"""Reductions over dims: sum, mean, var, std, norm, max/min (with their indices), logsumexp, any/all
and cumsum, with torch's `dim`/`keepdim`; the Sum Function lives with its adjoint, broadcasting, in
broadcast.py."""
import builtins
from collections import namedtuple

from minigan.backend import get_array_module
from minigan.ops.broadcast import Sum, broadcast_to
from minigan.ops.math import maximum, minimum, where
from minigan.ops.shape import clone, flip, gather, reshape, squeeze
from minigan.tensor import Function, Tensor

# what torch.max(x, dim), sort and topk return: a tuple with named fields
values_and_indices = namedtuple("values_and_indices", ["values", "indices"])


def _axes(dim, ndim, op):
    """`dim` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):  # torch reads dim=() as every dim
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    size = builtins.max(ndim, 1)
    for d in dims:
        if not -size <= d < size:
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted({d % size for d in dims})) if ndim else ()


def _kept_shape(shape, axes):
    """`shape` with each reduced axis kept as size 1: the shape a keepdim=True result has."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Norm2(Function):
    """The Euclidean norm sqrt(sum x²), with a backward that stays finite where the norm is 0."""
    saves_output = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return get_array_module(x).sqrt((x * x).sum(axis=self.axes, keepdims=self.keepdim))

    def backward(self, grad_output):
        x = self.inputs[0]
        kept_shape = _kept_shape(x.shape, self.axes)
        norm = reshape(self.output(), kept_shape)
        grad_output = reshape(grad_output, kept_shape)
        nonzero = norm.array != 0
        # d‖x‖/dx = x / ‖x‖, taken as 0 at x = 0 (a subgradient) instead of 0/0 = NaN; dividing
        # by a norm where zeros are replaced keeps every derivative of this finite, too
        safe_norm = where(nonzero, norm, 1.0)
        return x * (grad_output / safe_norm * nonzero.astype(x.dtype))


class Max(Function):
    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return x.max(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad_output):
        x = self.inputs[0]
        kept_shape = _kept_shape(x.shape, self.axes)
        is_max = x.array == x.array.max(axis=self.axes, keepdims=True)
        # ties share the gradient evenly, as torch's amax does
        share = is_max / is_max.sum(axis=self.axes, keepdims=True)
        return broadcast_to(reshape(grad_output, kept_shape), x.shape) * share.astype(x.dtype)


def sum(x, dim=None, keepdim=False):
    return Sum(_axes(dim, x.ndim, "sum"), keepdim)(x)


def _count(x, axes):
    count = 1
    for axis in axes:
        count *= x.shape[axis]
    return count


def mean(x, dim=None, keepdim=False):
    axes = _axes(dim, x.ndim, "mean")
    return Sum(axes, keepdim)(x) / _count(x, axes)


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (`correction=1`, i.e. unbiased), as torch."""
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(dim, x.ndim, "var")
    centered = x - mean(x, axes, keepdim=True)
    return Sum(axes, keepdim)(centered * centered) / builtins.max(_count(x, axes) - correction, 0)


def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm over `dim` (all elements by default)."""
    axes = _axes(dim, x.ndim, "norm")
    if p == 2:
        return Norm2(axes, keepdim)(x)
    if p == 1:
        return sum(x.abs(), axes, keepdim)
    if p == float("inf"):
        return amax(x.abs(), axes, keepdim)
    total = sum(x.abs() ** p, axes, keepdim)
    # (Σ|x|^p)^(1/p) has an infinite slope at 0: there torch's gradient is 0, and so is this one
    nonzero = total.array > 0
    return where(nonzero, where(nonzero, total, 1.0) ** (1.0 / p), 0.0)


def amax(x, dim=None, keepdim=False):
    return Max(_axes(dim, x.ndim, "amax"), keepdim)(x)


def amin(x, dim=None, keepdim=False):
    return -amax(-x, dim, keepdim)


def _arg(x, dim, keepdim, pick, op):
    """Index of the first element `pick` (argmax or argmin) chooses along `dim`, or in the flattened
    tensor (no gradient: indices are not differentiable)."""
    xp = get_array_module(x.array)
    if dim is None:
        index = getattr(x.array.reshape(-1), pick)()
        return Tensor(xp.asarray(index).reshape((1,) * x.ndim if keepdim else ()))
    axis = _axes(dim, x.ndim, op)[0] if x.ndim else None
    return Tensor(xp.asarray(getattr(x.array, pick)(axis=axis, keepdims=keepdim)))


def argmax(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, "argmax", "argmax")


def argmin(x, dim=None, keepdim=False):
    return _arg(x, dim, keepdim, "argmin", "argmin")


def _extreme(x, dim, keepdim, other, largest):
    """torch.max / torch.min: of the whole tensor (ties share the gradient); along `dim`, the
    values and the indices of the first extreme ones (the gradient goes to that one); with a
    tensor `other`, the elementwise maximum / minimum."""
    if isinstance(dim, Tensor):
        dim, other = None, dim
    if other is not None:
        return maximum(x, other) if largest else minimum(x, other)
    if dim is None:
        return amax(x) if largest else amin(x)
    indices = _arg(x, dim, True, "argmax" if largest else "argmin", "max" if largest else "min")
    axis = _axes(dim, x.ndim, "max")[0] if x.ndim else 0
    values = gather(x, axis, indices) if x.ndim else clone(x)
    if not keepdim and x.ndim:
        values, indices = squeeze(values, axis), squeeze(indices, axis)
    return values_and_indices(values, indices)


def max(x, dim=None, keepdim=False, *, other=None):
    return _extreme(x, dim, keepdim, other, largest=True)


def min(x, dim=None, keepdim=False, *, other=None):
    return _extreme(x, dim, keepdim, other, largest=False)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(x, dim, unbiased, keepdim, correction=correction).sqrt()


def logsumexp(x, dim, keepdim=False):
    """log Σ exp(x) along `dim`, shifted by the max (a constant of the graph) so no exp overflows;
    an infinite max is not subtracted, as torch does. Its gradient is softmax(x)."""
    axes = _axes(dim, x.ndim, "logsumexp")
    shift = x.array.max(axis=axes, keepdims=True) if x.size else x.array.sum(axis=axes, keepdims=True)
    shift = get_array_module(shift).where(abs(shift) == float("inf"), 0, shift)
    total = Sum(axes, keepdim)((x - Tensor(shift)).exp()).log()
    return total + Tensor(shift if keepdim else shift.reshape(total.shape))


def _truth(x, dim, keepdim, reduce, op):
    xp = get_array_module(x.array)
    axes = _axes(dim, x.ndim, op)
    return Tensor(xp.asarray(reduce(x.array.astype(bool), axis=axes, keepdims=keepdim)))


def any(x, dim=None, keepdim=False):
    return _truth(x, dim, keepdim, get_array_module(x.array).any, "any")


def all(x, dim=None, keepdim=False):
    return _truth(x, dim, keepdim, get_array_module(x.array).all, "all")


class CumSum(Function):
    saves_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return x.cumsum(axis=self.axis)

    def backward(self, grad_output):
        # y_j = Σ_{i≤j} x_i, so dL/dx_i = Σ_{j≥i} dL/dy_j: a cumulative sum from the end
        return flip(cumsum(flip(grad_output, self.axis), self.axis), self.axis)


def cumsum(x, dim, dtype=None):
    x = x if dtype is None else x.to(dtype)
    if x.dtype.kind in "bui":  # torch sums integers and bools as int64
        x = x.long()
    axes = _axes(dim, x.ndim, "cumsum")  # checks dim on a 0-d tensor too
    return CumSum(axes[0])(x) if x.ndim else clone(x)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """torch.nn.functional.normalize: input / max(‖input‖_p, eps) along `dim`."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported; assign the result instead")
    return input / norm(input, p, dim, keepdim=True).clamp(min=eps)


def sort(x, dim=-1, descending=False, stable=False):
    """The values along `dim` in order, and where they came from; equal values keep their order
    (a stable sort, which torch promises only with stable=True). The gradient goes back through
    the indices."""
    if x.ndim == 0:
        return values_and_indices(clone(x), Tensor(get_array_module(x.array).zeros((), dtype="int64")))
    axis = _axes(dim, x.ndim, "sort")[0]
    keys = -x.array if descending and x.dtype.kind != "b" else x.array
    if descending and x.dtype.kind == "b":
        keys = ~keys
    indices = Tensor(get_array_module(keys).argsort(keys, axis=axis, kind="stable"))
    return values_and_indices(gather(x, axis, indices), indices)


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) values along `dim`, in order, and their indices."""
    axis = _axes(dim, x.ndim, "topk")[0] if x.ndim else 0
    size = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= size:
        raise IndexError(f"topk: k ({k}) is out of range for dim {dim} of size {size}")
    values, indices = sort(x, axis if x.ndim else -1, descending=largest)
    if not x.ndim:
        return values_and_indices(values, indices)
    index = (slice(None),) * axis + (slice(0, k),)
    return values_and_indices(values[index], indices[index])
