"""Summing over axes and broadcasting along them, each the other's backward: Sum and BroadcastTo,
and sum_to, which undoes numpy's broadcasting in every binary op's backward."""
from minigan.backend import get_array_module
from minigan.tensor import Function


def _summed_axes(shape, target_shape):
    """The axes to sum, and whether to keep them, to bring `shape` down to `target_shape`."""
    leading = len(shape) - len(target_shape)
    stretched = tuple(leading + i for i, size in enumerate(target_shape) if size == 1 and shape[leading + i] != 1)
    return tuple(range(leading)), stretched


class Sum(Function):
    """The sum over `axes` (the summed axes kept as size 1 with keepdim)."""

    saves_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad_output):
        # every element contributed once: the gradient, copied back along the summed axes
        return BroadcastTo(self.inputs[0].shape, () if self.keepdim else self.axes)(grad_output)


class BroadcastTo(Function):
    """x broadcast to `shape` (a view: no copy), after size-1 axes are put back at `new_axes`
    (the axes a sum without keepdim took away)."""

    saves_inputs, is_view = False, True

    def __init__(self, shape, new_axes=()):
        self.shape, self.new_axes = tuple(shape), new_axes

    def forward(self, x):
        xp = get_array_module(x)
        return xp.broadcast_to(xp.expand_dims(x, self.new_axes) if self.new_axes else x, self.shape)

    def backward(self, grad_output):
        summed = Sum(self.new_axes, False)(grad_output) if self.new_axes else grad_output
        return sum_to(summed, self.inputs[0].shape)


class SumTo(Function):
    saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        leading, stretched = _summed_axes(x.shape, self.shape)
        if stretched:
            x = x.sum(axis=stretched, keepdims=True)
        return x.sum(axis=leading) if leading else x

    def backward(self, grad_output):
        return broadcast_to(grad_output, self.inputs[0].shape)


def broadcast_to(x, shape):
    return x if x.shape == tuple(shape) else BroadcastTo(shape)(x)


def sum_to(x, shape):
    """Sum `x` down to `shape`, undoing numpy broadcasting (used by every binary op's backward)."""
    return x if x.shape == tuple(shape) else SumTo(shape)(x)
