"""Activations: relu, leaky_relu, sigmoid, tanh, softplus, logsigmoid, each beside its backward;
log_softmax and softmax, composed from other ops.

relu, leaky_relu, sigmoid and tanh are one `Activation` Function, which runs one CUDA kernel
each way (minigan/cuda/kernels/activation.py; its plain-array twin on the CPU) and can add a
bias first: a linear or conv layer followed by its activation then costs the GEMM and one
kernel, instead of one kernel per array operation.
"""
from minigan.backend import get_array_module
from minigan.cuda.kernels import activation_grad, bias_activation
from minigan.ops.math import floating, where
from minigan.tensor import Function, Tensor

# how the graph (errors, minigan.viz) names each Activation: as torch names the op
_NAMES = {"identity": "AddBias", "relu": "ReLU", "leaky_relu": "LeakyReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}


class Activation(Function):
    """y = act(x + bias) for act in relu, leaky_relu, sigmoid, tanh, identity; `bias` (optional)
    runs along `channel_axis` of x: -1 after a linear layer, 1 on NCHW images."""

    def __init__(self, activation, negative_slope=0.0, channel_axis=-1):
        if activation == "leaky_relu" and negative_slope < 0:
            raise ValueError("Activation: leaky_relu's backward reads the sign of its output, which needs "
                             f"negative_slope >= 0, got {negative_slope}")
        self.activation, self.negative_slope, self.channel_axis = activation, negative_slope, channel_axis
        # act'(x) is read from y: y (1 - y) for sigmoid, 1 - y² for tanh, the sign of y for the others
        self.saves_inputs, self.saves_output = False, activation != "identity"

    @property
    def name(self):
        return _NAMES[self.activation]

    def forward(self, x, bias=None):
        return bias_activation(x, bias, self.activation, self.negative_slope, self.channel_axis)

    def backward(self, grad_output):
        grad_x = grad_output
        if self.activation != "identity":
            grad_x = ActivationGrad(self.activation, self.negative_slope)(grad_output, self.output())
        if len(self.inputs) == 1 or not self.needs_input_grad[1]:
            return grad_x
        channel_axis = self.channel_axis % grad_x.ndim
        return grad_x, grad_x.sum(dim=tuple(axis for axis in range(grad_x.ndim) if axis != channel_axis))


class ActivationGrad(Function):
    """g · act'(x), read from y = act(x), in one kernel. Its inputs are (g, y), so that the second
    derivative reaches x through y's own graph."""

    def __init__(self, activation, negative_slope):
        self.activation, self.negative_slope = activation, negative_slope

    @property
    def name(self):
        return _NAMES[self.activation] + "Grad"

    def forward(self, grad_output, output):
        return activation_grad(grad_output, output, self.activation, self.negative_slope)

    def backward(self, grad_grad):
        grad_output, y = self.inputs
        # linear in g, so d/dg is the same kernel applied to grad_grad
        grad_grad_output = ActivationGrad(self.activation, self.negative_slope)(grad_grad, y)
        if self.activation == "sigmoid":  # d/dy [g y (1 - y)] = g (1 - 2y)
            return grad_grad_output, grad_grad * grad_output * (1 - 2 * y)
        if self.activation == "tanh":  # d/dy [g (1 - y²)] = -2 g y
            return grad_grad_output, -2 * (grad_grad * grad_output * y)
        # relu, leaky_relu: act' is piecewise constant in y, so its derivative is zero (torch's too)
        return grad_grad_output, Tensor(get_array_module(y.array).zeros_like(y.array))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and exactly x where beta x > threshold, as torch does."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = get_array_module(x)
        bx = x * self.beta
        smooth = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / self.beta
        return xp.where(bx > self.threshold, x, smooth)

    def backward(self, grad_output):
        x = self.inputs[0]
        # d/dx softplus(x) = sigmoid(beta x)
        return where(x.array * self.beta > self.threshold, grad_output, grad_output * sigmoid(x * self.beta))


class LogSigmoid(Function):
    def forward(self, x):
        xp = get_array_module(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad_output):
        return grad_output * sigmoid(-self.inputs[0])  # d/dx log sigmoid(x) = 1 - sigmoid(x)


def relu(x):
    return Activation("relu")(x)


def leaky_relu(x, negative_slope=0.01):
    if negative_slope < 0:  # y < 0 no longer tells x < 0, so Activation's backward cannot read y
        return where(x.array > 0, x, x * negative_slope)
    return Activation("leaky_relu", negative_slope)(x)


def sigmoid(x):
    return Activation("sigmoid")(floating(x))


def tanh(x):
    return Activation("tanh")(floating(x))


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus(beta, threshold)(floating(x))


def logsigmoid(x):
    return LogSigmoid()(floating(x))


def log_softmax(x, dim=-1):
    """x - log Σ exp(x) along `dim`. The max is subtracted first, so no exp overflows; it is a
    constant of the graph, since log_softmax(x - c) = log_softmax(x) for any c."""
    shifted = x - x.amax(dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(x, dim=-1):
    """exp(x) / Σ exp(x) along `dim`, computed as exp(log_softmax(x))."""
    return log_softmax(x, dim).exp()
