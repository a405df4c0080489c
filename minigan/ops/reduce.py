"""Reductions over dims: sum, mean, var, norm (and max/argmax), with torch's `dim`/`keepdim`; the Sum
Function lives with its adjoint, broadcasting, in broadcast.py."""
from minigan.backend import get_array_module
from minigan.ops.broadcast import Sum, broadcast_to
from minigan.ops.math import where
from minigan.ops.shape import reshape
from minigan.tensor import Function, Tensor


def _axes(dim, ndim, op):
    """`dim` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):  # torch reads dim=() as every dim
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    size = max(ndim, 1)
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
    return Sum(axes, keepdim)(centered * centered) / max(_count(x, axes) - correction, 0)


def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm over `dim` (all elements by default)."""
    axes = _axes(dim, x.ndim, "norm")
    if p == 2:
        return Norm2(axes, keepdim)(x)
    if p == 1:
        return sum(x.abs(), axes, keepdim)
    return sum(x.abs() ** p, axes, keepdim) ** (1.0 / p)


def amax(x, dim=None, keepdim=False):
    return Max(_axes(dim, x.ndim, "amax"), keepdim)(x)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest element (no gradient: indices are not differentiable)."""
    xp = get_array_module(x.array)
    if dim is None:
        return Tensor(xp.asarray(x.array.argmax()))
    return Tensor(xp.asarray(x.array.argmax(axis=dim, keepdims=keepdim)))
