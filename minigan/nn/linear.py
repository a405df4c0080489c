"""Linear: the fully connected layer y = x Wᵀ + b."""
import math

from minigan.creation import zeros
from minigan.errors import ShapeError
from minigan.nn import init
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.layer import linear, linear_activation


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

    def forward(self, input):
        self._check_input(input)
        return linear(input, self.weight, self.bias)

    def _check_input(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            hint = ""
            if input.ndim > 2:
                hint = (f"; to feed images, flatten them first (nn.Flatten() before this layer, or "
                        f"x.view(x.size(0), -1)), which gives {math.prod(input.shape[1:])} features per example")
            raise ShapeError(f"{self!r}: expected an input of shape (*, {self.in_features}), got shape "
                             f"{tuple(input.shape)}{hint}")

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class LinearActivation(Linear):
    """A Linear layer and the activation layer after it, run as one: the GEMM, then the bias and
    the activation in one kernel (ops.layer.linear_activation). nn.utils.fuse makes these from a
    model's Linear layers; as a Linear it keeps their parameters and state_dict keys."""

    def __init__(self, linear_layer, activation_layer):
        Module.__init__(self)
        self.in_features, self.out_features = linear_layer.in_features, linear_layer.out_features
        self.weight = linear_layer.weight
        self.register_parameter("bias", linear_layer.bias)
        object.__setattr__(self, "activation", activation_layer)  # not a child: it holds no state

    def forward(self, input):
        self._check_input(input)
        return linear_activation(input, self.weight, self.bias, self.activation.function())

    def extra_repr(self):
        return f"{super().extra_repr()}, activation={self.activation!r}"
