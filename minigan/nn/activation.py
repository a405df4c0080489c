"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, ELU, SiLU, GELU, Softplus, Hardtanh, Softmax
and LogSoftmax (modules around the ops of the same name).

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


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return activation.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return activation.silu(input, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return activation.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return activation.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return activation.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return activation.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return activation.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
