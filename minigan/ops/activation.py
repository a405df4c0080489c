"""Activations: relu, leaky_relu, sigmoid, tanh, softplus, logsigmoid, each beside its backward."""
from minigan.autograd import Function
from minigan.backend import get_array_module
from minigan.ops.math import where


class ReLU(Function):
    def forward(self, x):
        self.positive = x > 0  # a piecewise-constant mask: safe to keep raw
        return get_array_module(x).maximum(x, 0)

    def backward(self, grad_output):
        return grad_output * self.positive.astype(grad_output.dtype)


class LeakyReLU(Function):
    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        xp = get_array_module(x)
        # the local slope, 1 or negative_slope: piecewise constant, so safe to keep raw
        self.slope = xp.where(x > 0, xp.asarray(1, x.dtype), xp.asarray(self.negative_slope, x.dtype))
        return x * self.slope

    def backward(self, grad_output):
        return grad_output * self.slope


def _stable_sigmoid(x):
    """1 / (1 + e^-x) without overflow: for x < 0 use the equal e^x / (1 + e^x)."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


class Sigmoid(Function):
    saves_output = True

    def forward(self, x):
        return _stable_sigmoid(x)

    def backward(self, grad_output):
        y = self.output()
        return grad_output * y * (1 - y)  # d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))


class Tanh(Function):
    saves_output = True

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, grad_output):
        y = self.output()
        return grad_output * (1 - y * y)  # d/dx tanh(x) = 1 - tanh²(x)


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
        return where(x.data * self.beta > self.threshold, grad_output, grad_output * sigmoid(x * self.beta))


class LogSigmoid(Function):
    def forward(self, x):
        xp = get_array_module(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad_output):
        return grad_output * sigmoid(-self.inputs[0])  # d/dx log sigmoid(x) = 1 - sigmoid(x)


def relu(x):
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(negative_slope)(x)


def sigmoid(x):
    return Sigmoid()(x)


def tanh(x):
    return Tanh()(x)


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus(beta, threshold)(x)


def logsigmoid(x):
    return LogSigmoid()(x)
