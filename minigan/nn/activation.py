"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh (modules around the ops of the same name).

`inplace=True` writes the result into the input's storage, as torch does (minigan/ops/inplace.py).
`function()` gives the op as a Function, for nn.utils.fuse, which runs a Linear layer's bias and
the activation after it in one kernel.
"""
from minigan.nn import functional as F
from minigan.nn.module import Module
from minigan.ops import activation
from minigan.ops.activation import sigmoid, tanh


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, self.inplace)

    def function(self):
        return activation.ReLU()

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """max(0, x) + negative_slope × min(0, x); the default slope is 0.01, as torch's."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def function(self):
        # LeakyReLU reads its derivative from the sign of its output, which is x's for a slope >= 0
        return activation.LeakyReLU(self.negative_slope) if self.negative_slope >= 0 else None

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    def forward(self, input):
        return sigmoid(input)

    def function(self):
        return activation.Sigmoid()


class Tanh(Module):
    def forward(self, input):
        return tanh(input)

    def function(self):
        return activation.Tanh()


class Identity(Module):
    """The input, unchanged (torch.nn.Identity); nn.utils.fuse puts one where an activation was fused."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
