"""Linear: the fully connected layer y = x Wᵀ + b."""
import math

from minigan.creation import zeros
from minigan.errors import ShapeError
from minigan.nn import init
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.layer import linear


class Linear(Module):
    """Linear(in_features, out_features, bias=True): weight (out_features, in_features), bias
    (out_features,), both initialised as torch does (see init._reset_weight_and_bias)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(zeros(out_features, in_features, dtype=dtype, device=device))
        self.register_parameter("bias", Parameter(zeros(out_features, dtype=dtype, device=device)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init._reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input, activation="identity", negative_slope=0.01):
        """x Wᵀ + b, passed through `activation` in the same kernel as the bias (nn.Sequential
        asks for that when an activation layer follows; see nn.activation)."""
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            hint = ""
            if input.ndim > 2:
                hint = (f"; to feed images, flatten them first (nn.Flatten() before this layer, or "
                        f"x.view(x.size(0), -1)), which gives {math.prod(input.shape[1:])} features per example")
            raise ShapeError(f"{self!r}: expected an input of shape (*, {self.in_features}), got shape "
                             f"{tuple(input.shape)}{hint}")
        return linear(input, self.weight, self.bias, activation, negative_slope)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
