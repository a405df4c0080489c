"""Activations, each a Function with its derivative beside it: ReLU, LeakyReLU, Sigmoid, Tanh,
Softplus, LogSigmoid; elu, silu, gelu, hardtanh, log_softmax and softmax, composed from other ops.

ReLU, LeakyReLU, Sigmoid and Tanh read their derivative from their output y (1 - y² for tanh),
and compute it as the forward of a `...Grad` Function (TanhGrad): one pass over the arrays, whose
own backward is again made of Tensor ops, so the second derivative is exact. On a GPU each of
their forwards and each `...Grad` runs as one CUDA kernel (`kernel`, from
minigan/cuda/kernels/activation.py), which can add a bias first: `BiasActivation`, a linear
layer's bias and its activation in one kernel (minigan.nn.utils.fuse makes those).
"""
import math
import warnings

import numpy  # select's bit trick works on the host's arrays only

from minigan.backend import get_array_module
from minigan.cuda import kernels
from minigan.ops.math import clamp, erf, exp, where
from minigan.tensor import Function, Tensor


def select(condition, if_true, if_false):
    """where(condition, if_true, if_false) for float arrays (or numbers) of one dtype, exactly.

    numpy's where decides element by element with a branch, which costs ~4 ns per element when
    the condition is random (an activation's sign), ten times an add. On the host the choice is
    made on the floats' bits instead: with m all ones where the condition holds and zeros
    elsewhere, the result's bits are (a & m) | (b & ~m). CuPy's where is a plain kernel already.
    """
    xp = get_array_module(condition)
    if xp is not numpy:
        return xp.where(condition, if_true, if_false)
    dtype = next(value.dtype for value in (if_true, if_false) if hasattr(value, "dtype"))
    ints = numpy.dtype(f"int{8 * dtype.itemsize}")
    mask = numpy.asarray(condition).astype(ints)  # asarray: a 0-d comparison gives a numpy scalar
    numpy.negative(mask, out=mask)  # -1, every bit set, where the condition holds

    def bits(value):
        return numpy.asarray(value, dtype).view(ints)  # an array's bits in place; a number's as 0-d

    shape = numpy.broadcast_shapes(mask.shape, *(numpy.shape(v) for v in (if_true, if_false)))
    # the result in the condition's memory layout (a convolution's output may be a transposed view)
    chosen = numpy.empty_like(mask) if mask.shape == shape else numpy.empty(shape, ints)
    numpy.bitwise_and(bits(if_true), mask, out=chosen)
    if not (isinstance(if_false, int) and if_false == 0):  # for +0.0, all bits clear, that was all
        numpy.invert(mask, out=mask)
        chosen |= numpy.bitwise_and(bits(if_false), mask)
    return chosen.view(dtype)


def _zeros_like(tensor):
    return Tensor(get_array_module(tensor.array).zeros_like(tensor.array))


# --------------------------------------------------------------------------------------------
# What the four share: the kernels, and a backward read from the output
# --------------------------------------------------------------------------------------------
class Activation(Function):
    """An elementwise activation whose derivative is read from its output y: `derivative(g, y)`
    gives g · act'(x) as an op of the graph. On a GPU its forward is one kernel."""

    saves_inputs, saves_output = False, True
    negative_slope = 0.0  # LeakyReLU's; the kernels take one for every activation
    out = None  # where forward writes its result: a new array, or the input's own (relu_, ReLU(inplace=True))

    def backward(self, grad_output):
        return self.derivative(grad_output, self.output())

    def kernel(self, x):
        return kernels.bias_activation(x, None, self.kernel_name, self.negative_slope, out=self.out)


class ActivationGrad(Function):
    """g · act'(x) from y = act(x), the inputs being (g, y): one array pass (one kernel on a GPU),
    linear in g; its derivative in y reaches x through y's own graph."""

    def kernel(self, grad_output, y):
        return kernels.activation_grad(grad_output, y, self.kernel_name, self.negative_slope)


# --------------------------------------------------------------------------------------------
# The activations
# --------------------------------------------------------------------------------------------
class ReLU(Activation):
    """y = max(x, 0)."""

    kernel_name = "relu"

    def forward(self, x):
        return get_array_module(x).maximum(x, 0, out=self.out)

    def derivative(self, grad_output, y):
        return ReLUGrad()(grad_output, y)


class ReLUGrad(ActivationGrad):
    """g where y > 0, else 0 (torch's threshold_backward: 0 where y <= 0)."""

    kernel_name = "relu"

    def forward(self, grad_output, y):
        return select(y <= 0, 0, grad_output)

    def backward(self, grad_grad):
        grad_output, y = self.inputs
        # linear in g: the same op; the mask is piecewise constant in y: a zero derivative, as torch's
        return ReLUGrad()(grad_grad, y), _zeros_like(y)


class LeakyReLU(Activation):
    """y = x for x > 0, negative_slope · x otherwise (negative_slope >= 0: y's sign is x's)."""

    kernel_name = "leaky_relu"

    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        # x or slope · x, whichever is larger for a slope up to 1, smaller above
        xp = get_array_module(x)
        return (xp.maximum if self.negative_slope <= 1 else xp.minimum)(x, x * self.negative_slope, out=self.out)

    def derivative(self, grad_output, y):
        return LeakyReLUGrad(self.negative_slope)(grad_output, y)


class LeakyReLUGrad(ActivationGrad):
    """g where y > 0, else g · negative_slope."""

    kernel_name = "leaky_relu"

    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, grad_output, y):
        if not 0 <= self.negative_slope <= 1:
            return select(y > 0, grad_output, grad_output * self.negative_slope)
        # g · max(1 where y > 0 else 0, slope): g · 1 or g · slope, bit for bit what select gives,
        # in three array passes where select takes six, and in y's memory layout
        xp = get_array_module(y)
        factor = xp.asarray(y > 0).astype(grad_output.dtype)  # asarray: a 0-d comparison gives a numpy scalar
        xp.maximum(factor, grad_output.dtype.type(self.negative_slope), out=factor)
        factor *= grad_output
        return factor

    def backward(self, grad_grad):
        grad_output, y = self.inputs
        return LeakyReLUGrad(self.negative_slope)(grad_grad, y), _zeros_like(y)


class Sigmoid(Activation):
    """y = 1 / (1 + e^-x), computed as e^x / (1 + e^x) for x < 0, so no exp overflows."""

    kernel_name = "sigmoid"
    computes_in_float = True

    def forward(self, x):
        xp = get_array_module(x)
        e = xp.exp(-xp.abs(x))
        return xp.divide(select(x >= 0, 1, e), 1 + e, out=self.out)

    def derivative(self, grad_output, y):
        return SigmoidGrad()(grad_output, y)


class SigmoidGrad(ActivationGrad):
    """g · y (1 - y)."""

    kernel_name = "sigmoid"

    def forward(self, grad_output, y):
        return grad_output * (1 - y) * y

    def backward(self, grad_grad):
        grad_output, y = self.inputs
        # d/dg: y (1 - y), this op again;  d/dy [g y (1 - y)] = g (1 - 2y)
        return SigmoidGrad()(grad_grad, y), grad_grad * grad_output * (1 - 2 * y)


class Tanh(Activation):
    """y = tanh(x)."""

    kernel_name = "tanh"
    computes_in_float = True

    def forward(self, x):
        return get_array_module(x).tanh(x, out=self.out)

    def derivative(self, grad_output, y):
        return TanhGrad()(grad_output, y)


class TanhGrad(ActivationGrad):
    """g · (1 - y²)."""

    kernel_name = "tanh"

    def forward(self, grad_output, y):
        return grad_output * ((1 - y) * (1 + y))  # 1 - y², factored: exact near |y| = 1

    def backward(self, grad_grad):
        grad_output, y = self.inputs
        # d/dg: 1 - y², this op again;  d/dy [g (1 - y²)] = -2 g y
        return TanhGrad()(grad_grad, y), -2 * (grad_grad * grad_output * y)


class BiasActivation(Function):
    """act(x + bias), `bias` of shape (x.shape[channel_axis],): a layer's bias and its activation
    as one op, one kernel on a GPU (nn.utils.fuse makes these). `activation` is the Activation
    Function used (ReLU(), LeakyReLU(0.2), ...)."""

    saves_inputs, saves_output = False, True

    def __init__(self, activation, channel_axis=-1):
        self.activation, self.channel_axis = activation, channel_axis

    @property
    def name(self):
        return "Bias" + self.activation.name

    def forward(self, x, bias):
        axis = self.channel_axis % x.ndim
        return self.activation.forward(x + bias.reshape(bias.shape + (1,) * (x.ndim - 1 - axis)))

    def kernel(self, x, bias):
        activation = self.activation
        return kernels.bias_activation(x, bias, activation.kernel_name, activation.negative_slope, self.channel_axis)

    def backward(self, grad_output):
        grad_x = self.activation.derivative(grad_output, self.output())
        if not self.needs_input_grad[1]:  # a frozen layer's bias
            return grad_x, None
        axis = self.channel_axis % grad_x.ndim
        return grad_x, grad_x.sum(dim=tuple(a for a in range(grad_x.ndim) if a != axis))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and exactly x where beta x > threshold, as torch does."""

    computes_in_float = True

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


class ELU(Function):
    """x where x > 0, else alpha·(e^x - 1). The exponential reads min(x, 0), so that a large x
    (whose branch is not taken) cannot overflow."""
    computes_in_float = True

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, grad_output):
        x = self.inputs[0]
        # d/dx = 1 for x > 0, alpha·e^x for x <= 0; torch's second derivative takes x = 0 as the
        # flat side (x < 0 strictly), which exp of where(x < 0, x, 0) reproduces
        negative_side = exp(where(x.array < 0, x, 0.0)) * self.alpha
        return where(x.array > 0, grad_output, grad_output * negative_side)


class LogSigmoid(Function):
    computes_in_float = True

    def forward(self, x):
        xp = get_array_module(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad_output):
        return grad_output * sigmoid(-self.inputs[0])  # d/dx log sigmoid(x) = 1 - sigmoid(x)


def relu(input):
    return ReLU()(input)


def leaky_relu(input, negative_slope=0.01):
    if negative_slope < 0:  # then y's sign is not x's, and LeakyReLU reads its derivative from y
        return where(input.array > 0, input, input * negative_slope)
    return LeakyReLU(negative_slope)(input)


def sigmoid(input):
    return Sigmoid()(input)


def tanh(input):
    return Tanh()(input)


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus(beta, threshold)(input)


def logsigmoid(input):
    return LogSigmoid()(input)


def elu(input, alpha=1.0, inplace=False):
    if inplace:
        raise NotImplementedError("elu: inplace=True is not supported; use inplace=False (the same values)")
    return ELU(alpha)(input)


def silu(input, inplace=False):
    """x·sigmoid(x), the swish."""
    if inplace:
        raise NotImplementedError("silu: inplace=True is not supported; use inplace=False (the same values)")
    return input * sigmoid(input)


def gelu(input, approximate="none"):
    """x·Φ(x), Φ the standard normal's CDF: 0.5·x·(1 + erf(x/√2)); with approximate='tanh',
    0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    if approximate == "none":
        return input * 0.5 * (1 + erf(input * (1 / math.sqrt(2))))
    if approximate == "tanh":
        return input * 0.5 * (1 + tanh((input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; unlike clamp, the gradient stops at the bounds themselves,
    as torch's hardtanh_backward has it (it passes only strictly inside)."""
    if inplace:
        raise NotImplementedError("hardtanh: inplace=True is not supported; use inplace=False (the same values)")
    inside = (input.array > min_val) & (input.array < max_val)
    return where(inside, input, clamp(input, min_val, max_val).detach())


def _softmax_dim(input, dim, dtype):
    """torch's softmax arguments: `dtype` converts the input first; without `dim`, torch's old
    implicit choice (0 for 0-, 1- and 3-d inputs, else 1), with its deprecation warning."""
    if dim is None:
        warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                      "as an argument.", UserWarning, stacklevel=3)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return (input if dtype is None else input.to(dtype)), dim


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - log Σ exp(x) along `dim`. The max is subtracted first, so no exp overflows; it is a
    constant of the graph, since log_softmax(x - c) = log_softmax(x) for any c."""
    x, dim = _softmax_dim(input, dim, dtype)
    shifted = x - x.amax(dim, keepdim=True).detach()
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / Σ exp(x) along `dim`, computed as exp(log_softmax(x))."""
    x, dim = _softmax_dim(input, dim, dtype)
    return log_softmax(x, dim).exp()
