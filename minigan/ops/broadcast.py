"""Broadcasting and its adjoint: broadcast_to copies along new axes, sum_to adds them back up."""
from minigan.backend import get_array_module
from minigan.tensor import Function


def _summed_axes(shape, target_shape):
    """The axes to sum, and whether to keep them, to bring `shape` down to `target_shape`."""
    leading = len(shape) - len(target_shape)
    stretched = tuple(leading + i for i, size in enumerate(target_shape) if size == 1 and shape[leading + i] != 1)
    return tuple(range(leading)), stretched


class BroadcastTo(Function):
    saves_inputs, is_view = False, True

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, grad_output):
        return sum_to(grad_output, self.inputs[0].shape)


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
