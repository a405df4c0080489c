"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh (modules around the ops of the same name).

Each names its kernel activation in `fused_activation`, (name, negative_slope): a Sequential
that runs a Linear right before it hands it to the Linear, whose bias kernel then applies it.

`inplace=True` writes the result into the input's storage, as torch does (minigan/ops/inplace.py).
"""
from minigan.nn import functional as F
from minigan.nn.module import Module
from minigan.ops.activation import sigmoid, tanh


class ReLU(Module):
    fused_activation = ("relu", 0.0)

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """max(0, x) + negative_slope × min(0, x); the default slope is 0.01, as torch's."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    @property
    def fused_activation(self):
        return ("leaky_relu", self.negative_slope) if self.negative_slope >= 0 else None

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    fused_activation = ("sigmoid", 0.0)

    def forward(self, input):
        return sigmoid(input)


class Tanh(Module):
    fused_activation = ("tanh", 0.0)

    def forward(self, input):
        return tanh(input)
