"""Bias + activation after a GEMM in one kernel, and an activation's derivative in one kernel.

    bias_activation(x, b, act)      y = act(x + b)            b broadcast along one axis of x (or None)
    activation_grad(g, y, act)      g · act'(x), read from y  (relu and leaky_relu: from its sign)

with act one of ACTIVATIONS. They are the GPU versions of minigan/ops/activation.py's forwards
(ReLU.forward, BiasActivation.forward) and derivatives (TanhGrad.forward, ...): there, a chain of
array calls would launch one kernel per step (add the bias, compare, select, ...); each of these
reads its inputs once and writes once.
"""
from minigan.backend import get_array_module
from minigan.cuda.kernels.core import Kernel

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")

# The CUDA side names the activations by their index in ACTIVATIONS: one list for both languages.
_ACTIVATION_ENUM = "enum Activation { " + ", ".join(name.upper() for name in ACTIVATIONS) + " };\n"

_BIAS_ACTIVATION = Kernel("bias_activation", _ACTIVATION_ENUM + r"""
__device__ T activate(T z, long long activation, T negative_slope) {
    switch (activation) {
    case RELU: return z < T(0) ? T(0) : z;                   // a NaN passes, as numpy's maximum(z, 0)
    case LEAKY_RELU: return z > T(0) ? z : z * negative_slope;
    case SIGMOID: {
        const T e = exp(-fabs(z));                            // never overflows
        return (z >= T(0) ? T(1) : e) / (T(1) + e);           // 1 / (1 + e^-z) = e^z / (1 + e^z)
    }
    case TANH: return tanh(z);
    default: return z;
    }
}

// y[i] = act(x[i] + bias[channel of i]); the channel of i is (i / inner) % channels.
extern "C" __global__ void bias_activation(
        const T* __restrict__ x, const T* __restrict__ bias, T* __restrict__ y, long long size,
        long long inner, long long channels, long long activation, T negative_slope) {
    GRID_STRIDE_LOOP(i, size) {
        const T z = bias == nullptr ? x[i] : x[i] + bias[(i / inner) % channels];
        y[i] = activate(z, activation, negative_slope);
    }
}
""")

_ACTIVATION_GRAD = Kernel("activation_grad", _ACTIVATION_ENUM + r"""
// grad_output * act'(x), written with the output y = act(x) as torch's backward formulas are.
__device__ T times_derivative(T grad_output, T y, long long activation, T negative_slope) {
    switch (activation) {
    case RELU: return y <= T(0) ? T(0) : grad_output;        // torch's threshold_backward
    case LEAKY_RELU: return y > T(0) ? grad_output : grad_output * negative_slope;
    case SIGMOID: return grad_output * (T(1) - y) * y;      // sigmoid' = y (1 - y)
    case TANH: return grad_output * ((T(1) - y) * (T(1) + y)); // tanh' = 1 - y², factored: exact near |y| = 1
    default: return grad_output;
    }
}

extern "C" __global__ void activation_grad(
        const T* __restrict__ grad_output, const T* __restrict__ output, T* __restrict__ grad_input,
        long long size, long long activation, T negative_slope) {
    GRID_STRIDE_LOOP(i, size) {
        grad_input[i] = times_derivative(grad_output[i], output[i], activation, negative_slope);
    }
}
""")


def _activation_code(op, activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS.index(activation)


def _bias_layout(x, bias, channel_axis):
    """(bias_shape, inner, channels): bias reshaped to `bias_shape` broadcasts against x, and the
    bias index of element i of x is (i / inner) % channels."""
    if bias is None:
        return None, 1, 1
    axis = channel_axis % x.ndim
    if tuple(bias.shape) != (x.shape[axis],):
        raise ValueError(f"bias_activation: bias of shape {tuple(bias.shape)} does not match axis {channel_axis} "
                         f"of x, of shape {tuple(x.shape)}: expected shape ({x.shape[axis]},)")
    inner = 1
    for size in x.shape[axis + 1:]:
        inner *= size
    return (x.shape[axis],) + (1,) * (x.ndim - 1 - axis), inner, x.shape[axis]


def _check_activation_grad(grad_output, output, activation):
    if tuple(grad_output.shape) != tuple(output.shape):
        raise ValueError(f"activation_grad: grad_output of shape {tuple(grad_output.shape)} and output of "
                         f"shape {tuple(output.shape)} must have the same shape")
    return _activation_code("activation_grad", activation)


# --------------------------------------------------------------------------------------------
# Forward: y = act(x + b)
# --------------------------------------------------------------------------------------------
def bias_activation(x, bias=None, activation="identity", negative_slope=0.01, channel_axis=-1, out=None):
    """act(x + bias) as a new array (or into `out`, which may be x itself), `bias` (or None) of
    shape (x.shape[channel_axis],) broadcast along that axis: channel_axis=-1 after a Linear
    layer's GEMM, 1 for NCHW images."""
    code = _activation_code("bias_activation", activation)
    _, inner, channels = _bias_layout(x, bias, channel_axis)
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    y = xp.empty_like(x) if out is None else out
    bias = None if bias is None else xp.ascontiguousarray(bias)
    _BIAS_ACTIVATION.launch(x.dtype, (x, bias, y, x.size, inner, channels, code, x.dtype.type(negative_slope)), x.size)
    return y


# --------------------------------------------------------------------------------------------
# Backward: grad_input = grad_output · act'(x)
# --------------------------------------------------------------------------------------------
def activation_grad(grad_output, output, activation, negative_slope=0.01):
    """grad_output · act'(x) as a new array, from `output` = act(x). For relu and leaky_relu (with
    a positive slope) only the sign matters, so the input x may be passed instead of the output."""
    code = _check_activation_grad(grad_output, output, activation)
    xp = get_array_module(grad_output)
    grad_output, output = xp.ascontiguousarray(grad_output), xp.ascontiguousarray(output)
    grad_input = xp.empty_like(grad_output)
    _ACTIVATION_GRAD.launch(grad_output.dtype, (grad_output, output, grad_input, grad_output.size, code,
                                                grad_output.dtype.type(negative_slope)), grad_output.size)
    return grad_input
