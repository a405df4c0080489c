"""The custom CUDA kernels (minigan/cuda/kernels), checked without a GPU, in four ways:

1. each kernel's plain twin, the op's own array code (ops/activation.py, ops/loss.py, ops/conv.py,
   ops/norm.py, optim/adam.py), against torch, float64 and float32;
2. each twin on the stand-in device, as kernels.run runs it there: device arrays in, device
   arrays out, equal to numpy, ONE launch;
3. each kernel's CUDA source compiled to PTX by NVRTC, for float and double;
4. each kernel's GPU path -- the launcher's argument packing and the CUDA code itself -- run on the
   CPU: the sources compiled with g++ against a small emulation of CUDA's execution model (every
   thread of every block runs; threads of a block run concurrently when the kernel synchronises
   them), the results compared with the twin's.
Plus the dispatch: CuPy arrays go to the compiled kernel, made once per dtype, with no device call.
"""
import ctypes
import dataclasses
import re
import shutil
import subprocess
import zlib
from typing import Callable

import numpy
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from parity import torch

from minigan import random
from minigan.cuda import kernels
from minigan.cuda.kernels import ACTIVATIONS, COMPILE_OPTIONS, KERNELS, Kernel
from minigan.cuda.kernels.core import dtype_name
from minigan.ops import activation, conv, loss, norm
from minigan.optim import adam
from minigan.testing import standin

F = torch.nn.functional
DTYPES = ["float64", "float32"]


# --------------------------------------------------------------------------------------------
# Each kernel's launcher beside its twin, the op's plain array code, as kernels.run pairs them
# --------------------------------------------------------------------------------------------
class KernelFunction:
    """`launch` (the kernel) on CuPy arrays, `twin` on any other: kernels.run(launch, twin, ...)."""

    def __init__(self, launch, twin):
        self.launch, self.twin, self.__name__ = launch, twin, launch.__name__

    def __call__(self, *args, **kwargs):
        return kernels.run(self.launch, self.twin, *args, **kwargs)


def _activation_function(name, negative_slope):
    return {"relu": activation.ReLU, "leaky_relu": lambda: activation.LeakyReLU(negative_slope),
            "sigmoid": activation.Sigmoid, "tanh": activation.Tanh}[name]()


def _bias_activation_twin(x, bias=None, name="identity", negative_slope=0.01, channel_axis=-1):
    """The ops' plain code: BiasActivation's forward, or the activation's own without a bias."""
    if name == "identity":  # the kernel's bias add alone
        return x.copy() if bias is None else x + bias.reshape(bias.shape + (1,) * (x.ndim - 1 - channel_axis % x.ndim))
    function = _activation_function(name, negative_slope)
    return function.forward(x) if bias is None else activation.BiasActivation(function, channel_axis).forward(x, bias)


def _activation_grad_twin(grad_output, output, name, negative_slope=0.01):
    grads = {"relu": activation.ReLUGrad, "leaky_relu": lambda: activation.LeakyReLUGrad(negative_slope),
             "sigmoid": activation.SigmoidGrad, "tanh": activation.TanhGrad}
    return grad_output.copy() if name == "identity" else grads[name]().forward(grad_output, output)


bias_activation = KernelFunction(kernels.bias_activation, _bias_activation_twin)
activation_grad = KernelFunction(kernels.activation_grad, _activation_grad_twin)
bce = KernelFunction(kernels.bce, lambda p, y, grad_output=None, grad_divisor=1: loss._bce_arrays(
    p, y, grad_output, grad_divisor))
bce_with_logits = KernelFunction(kernels.bce_with_logits, lambda x, y, pos_weight=None, grad_output=None,
                                 grad_divisor=1: loss._bce_with_logits_arrays(x, y, pos_weight, grad_output,
                                                                              grad_divisor))
im2col = KernelFunction(kernels.im2col, lambda images, kernel_size, stride=1, padding=0: conv._im2col(
    images, kernel_size, stride, padding))
col2im = KernelFunction(kernels.col2im, lambda columns, image_size, stride=1, padding=0: conv._col2im(
    columns, image_size, stride, padding))
norm_statistics = KernelFunction(kernels.norm_statistics, lambda x, per_sample=False: norm._norm_statistics(
    x, per_sample))
normalize = KernelFunction(kernels.normalize, lambda x, mean, variance, weight=None, bias=None, eps=1e-5:
                           norm._normalize_arrays(x, mean, variance, weight, bias, eps))
adam_step = KernelFunction(kernels.adam_step, adam.adam_update)
philox_uniform = KernelFunction(kernels.philox_uniform, random.fill_uniform)
philox_normal = KernelFunction(kernels.philox_normal, random.fill_normal)
KERNEL_FUNCTIONS = [bias_activation, activation_grad, bce, bce_with_logits, im2col, col2im, norm_statistics, normalize,
                    adam_step, philox_uniform, philox_normal]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def _rng(*key):
    return numpy.random.default_rng(zlib.crc32(repr(key).encode()))  # hash() of str varies per process


def _close(actual, expected, dtype, **kwargs):
    assert_allclose(actual, expected, rtol=TOLERANCE[dtype], equal_nan=True, **kwargs)


# float32 kernels against their numpy twins, in units in the last place: CUDA's expf, tanhf and
# log1pf are within 2 ulps of the correctly rounded value (the CUDA C Programming Guide's table), as
# glibc's and numpy's are, and a kernel chains a few of them; bit-equality would fail on a GPU.
EMULATED_ULPS = 16


def _within_ulps(actual, expected, ulps):
    """|actual − expected| ≤ ulps · (spacing at |expected|, or at 1/16 of the largest |expected|
    where cancellation made the value small): ulps of the value, or of the output's scale."""
    actual, expected = numpy.asarray(actual, numpy.float64), numpy.asarray(expected)
    scale = numpy.abs(expected).max(initial=0.0) / 16
    spacing = numpy.spacing(numpy.maximum(numpy.abs(expected), scale).astype(expected.dtype)).astype(numpy.float64)
    error = numpy.abs(actual - expected)
    worst = numpy.nanmax(error / spacing, initial=0.0)
    assert worst <= ulps and numpy.array_equal(numpy.isnan(actual), numpy.isnan(expected)), (
        f"{worst:.1f} ulps from the twin (at most {ulps})")


def _numpy(tensor):
    return tensor.detach().numpy()


# ============================================================================================
# 1. Twins against torch
# ============================================================================================
_TORCH_ACTIVATIONS = {
    "identity": lambda z, slope: z,
    "relu": lambda z, slope: torch.relu(z),
    "leaky_relu": lambda z, slope: F.leaky_relu(z, slope),
    "sigmoid": lambda z, slope: torch.sigmoid(z),
    "tanh": lambda z, slope: torch.tanh(z),
}

# (shape of x, channel axis of the bias, or None for no bias)
_BIAS_LAYOUTS = [((1, 1), -1), ((7, 13), -1), ((2, 3, 5, 4), 1), ((3, 4, 2), 0), ((5,), None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape, channel_axis", _BIAS_LAYOUTS)
def test_bias_activation_is_torch_activation_of_x_plus_bias(shape, channel_axis, activation, dtype):
    rng = _rng("bias_activation", shape, activation, dtype)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    x.flat[0] = 0  # relu and leaky_relu at their kink
    slope = 0.2
    if channel_axis is None:
        y = bias_activation(x, None, activation, slope)
        expected = _TORCH_ACTIVATIONS[activation](torch.from_numpy(x), slope)
    else:
        bias = rng.standard_normal(shape[channel_axis]).astype(dtype)
        y = bias_activation(x, bias, activation, slope, channel_axis=channel_axis)
        bias_view = bias.reshape((-1,) + (1,) * (len(shape) - 1 - channel_axis % len(shape)))
        expected = _TORCH_ACTIVATIONS[activation](torch.from_numpy(x + bias_view), slope)
    assert y.dtype == x.dtype and y.shape == x.shape and not numpy.shares_memory(y, x)
    _close(y, _numpy(expected), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1,), (6, 5), (2, 3, 4, 3)])
def test_activation_grad_is_torch_backward(shape, activation, dtype):
    rng = _rng("activation_grad", shape, activation, dtype)
    x = torch.from_numpy((3 * rng.standard_normal(shape)).astype(dtype)).requires_grad_()
    grad_output = rng.standard_normal(shape).astype(dtype)
    y = _TORCH_ACTIVATIONS[activation](x, 0.1)
    expected, = torch.autograd.grad(y, x, torch.from_numpy(grad_output)) if y.requires_grad else (
        torch.from_numpy(grad_output),)
    _close(activation_grad(grad_output, _numpy(y), activation, 0.1), _numpy(expected), dtype)


def _bce_inputs(rng, shape, dtype, *, probabilities):
    """Inputs with the awkward values: exact 0/1 probabilities, large logits, hard and soft targets."""
    if probabilities:
        input = rng.uniform(0, 1, shape)
        input.flat[:2] = [0, 1][:input.size]
    else:
        input = 4 * rng.standard_normal(shape)
        input.flat[:3] = [60, -60, 0][:input.size]
    target = rng.uniform(0, 1, shape)
    target.flat[::2] = rng.integers(0, 2, target.flat[::2].shape)
    return input.astype(dtype), target.astype(dtype)


# (shape, pos_weight shape or None, grad_output shape or None)
_BCE_LAYOUTS = [((1,), None, None), ((5, 3), (3,), ()), ((4, 3), (4, 1), (4, 3)), ((2, 3, 2), (), None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, pos_weight_shape, grad_output_shape", _BCE_LAYOUTS)
def test_bce_with_logits_is_torch_loss_and_gradient(shape, pos_weight_shape, grad_output_shape, dtype):
    rng = _rng("bce_with_logits", shape, dtype)
    logits, target = _bce_inputs(rng, shape, dtype, probabilities=False)
    pos_weight = None if pos_weight_shape is None else rng.uniform(0.2, 3, pos_weight_shape).astype(dtype)
    grad_output = None if grad_output_shape is None else rng.standard_normal(grad_output_shape).astype(dtype)
    loss, grad = bce_with_logits(logits, target, pos_weight, grad_output)

    x = torch.from_numpy(logits).requires_grad_()
    torch_pos_weight = None if pos_weight is None else torch.from_numpy(pos_weight)
    expected = F.binary_cross_entropy_with_logits(x, torch.from_numpy(target), pos_weight=torch_pos_weight,
                                                  reduction="none")
    incoming = torch.ones_like(x) if grad_output is None else torch.from_numpy(grad_output).expand_as(x)
    expected_grad, = torch.autograd.grad(expected, x, incoming)
    _close(loss, _numpy(expected), dtype)
    _close(grad, _numpy(expected_grad), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, grad_output_shape", [((1,), None), ((6, 4), (6, 4)), ((3, 2, 2), ())])
def test_bce_is_torch_loss_and_gradient_with_its_clamps(shape, grad_output_shape, dtype):
    rng = _rng("bce", shape, dtype)
    probabilities, target = _bce_inputs(rng, shape, dtype, probabilities=True)
    grad_output = None if grad_output_shape is None else rng.standard_normal(grad_output_shape).astype(dtype)
    loss, grad = bce(probabilities, target, grad_output)

    p = torch.from_numpy(probabilities).requires_grad_()
    expected = F.binary_cross_entropy(p, torch.from_numpy(target), reduction="none")
    incoming = torch.ones_like(p) if grad_output is None else torch.from_numpy(grad_output).expand_as(p)
    expected_grad, = torch.autograd.grad(expected, p, incoming)
    _close(loss, _numpy(expected), dtype)
    _close(grad, _numpy(expected_grad), dtype)


# (image shape, kernel_size, stride, padding): non-divisible sizes, rectangular kernels, strides
# above the kernel (pixels no window reads), the DCGAN 4/2/1 case.
_CONV_GEOMETRIES = [
    ((2, 3, 5, 5), 3, 1, 1),
    ((1, 1, 1, 1), 1, 1, 0),
    ((2, 2, 7, 6), (3, 2), 2, (1, 0)),
    ((1, 3, 8, 8), 4, 2, 1),
    ((2, 1, 5, 7), (2, 3), (2, 3), (1, 1)),
    ((1, 2, 7, 7), 2, 3, 0),
]


def _torch_columns(columns):
    """Our (C, kh, kw, Ho, Wo, N) columns in torch's unfold layout (N, C·kh·kw, Ho·Wo)."""
    channels, kernel_h, kernel_w, out_h, out_w, batch = columns.shape
    return torch.from_numpy(numpy.ascontiguousarray(columns.transpose(5, 0, 1, 2, 3, 4))).reshape(
        batch, channels * kernel_h * kernel_w, out_h * out_w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel_size, stride, padding", _CONV_GEOMETRIES)
def test_im2col_is_torch_unfold(shape, kernel_size, stride, padding, dtype):
    images = _rng("im2col", shape, dtype).standard_normal(shape).astype(dtype)
    columns = im2col(images, kernel_size, stride, padding)
    assert columns.flags.c_contiguous and columns.flags.writeable and columns.dtype == images.dtype
    assert not numpy.shares_memory(columns, images)
    expected = F.unfold(torch.from_numpy(images), kernel_size, padding=padding, stride=stride)
    assert_array_equal(_torch_columns(columns).numpy(), _numpy(expected))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel_size, stride, padding", _CONV_GEOMETRIES)
def test_col2im_is_torch_fold(shape, kernel_size, stride, padding, dtype):
    column_shape = im2col(numpy.zeros(shape, dtype), kernel_size, stride, padding).shape
    columns = _rng("col2im", shape, dtype).standard_normal(column_shape).astype(dtype)
    images = col2im(columns, shape[2:], stride, padding)
    expected = F.fold(_torch_columns(columns), shape[2:], kernel_size, padding=padding, stride=stride)
    assert images.shape == shape  # on the CPU a (C, H, W, N)-laid view, the layout ops/conv.py works in
    _close(images, _numpy(expected), dtype, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, per_sample", [((4, 3), False), ((1, 1, 1), False), ((2, 3, 5), False),
                                               ((3, 2, 4, 5), False), ((2, 3, 5), True), ((3, 2, 4, 5), True)])
def test_norm_statistics_are_torch_mean_and_biased_variance(shape, per_sample, dtype):
    # a mean far from 0 next to a unit spread: E[x²] - E[x]² would lose most digits here
    x = (1000 + _rng("norm_statistics", shape, dtype).standard_normal(shape)).astype(dtype)
    axes = tuple(range(2, len(shape))) if per_sample else (0,) + tuple(range(2, len(shape)))
    expected_variance, expected_mean = torch.var_mean(torch.from_numpy(x), axes, correction=0, keepdim=True)
    mean, variance = norm_statistics(x, per_sample)
    assert mean.shape == variance.shape == tuple(expected_mean.shape)
    _close(mean, _numpy(expected_mean), dtype)
    assert_allclose(variance, _numpy(expected_variance), rtol=TOLERANCE[dtype] * (1e3 if dtype == "float32" else 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode, shape", [("batch", (5, 3)), ("batch", (2, 3, 4)), ("batch", (3, 2, 3, 3)),
                                         ("instance", (2, 3, 4)), ("instance", (3, 2, 3, 3)),
                                         ("running", (5, 3)), ("running", (3, 2, 3, 3))])
def test_normalize_is_torch_batch_and_instance_norm(mode, shape, dtype):
    rng = _rng("normalize", mode, shape, dtype)
    x = (2 + 3 * rng.standard_normal(shape)).astype(dtype)
    weight, bias = rng.standard_normal((2, shape[1])).astype(dtype)
    t = {name: torch.from_numpy(array) for name, array in dict(x=x, weight=weight, bias=bias).items()}
    if mode == "running":
        mean, variance = rng.standard_normal(shape[1]).astype(dtype), rng.uniform(0.5, 2, shape[1]).astype(dtype)
        expected = F.batch_norm(t["x"], torch.from_numpy(mean), torch.from_numpy(variance), t["weight"],
                                t["bias"], training=False, eps=1e-3)
    else:
        mean, variance = norm_statistics(x, per_sample=mode == "instance")
        norm = F.batch_norm if mode == "batch" else F.instance_norm
        expected = norm(t["x"], None, None, t["weight"], t["bias"], True, 0.1, 1e-3)
    y = normalize(x, mean, variance, weight, bias, eps=1e-3)
    assert_allclose(y, _numpy(expected), rtol=1e-10 if dtype == "float64" else 1e-5, atol=TOLERANCE[dtype])


_ADAM_OPTIONS = [dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False),
                 dict(lr=0.05, betas=(0.5, 0.99), eps=1e-3, weight_decay=0.1, amsgrad=True),
                 dict(lr=0.2, betas=(0.3, 0.9), eps=1e-6, weight_decay=0, amsgrad=True)]  # torch's other lerp


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", _ADAM_OPTIONS, ids=["default", "amsgrad_weight_decay", "beta1_below_half"])
def test_adam_step_is_torch_adam(options, dtype):
    rng = _rng("adam", str(options), dtype)
    param = rng.standard_normal(37).astype(dtype)
    torch_param = torch.tensor(param, requires_grad=True)
    optimizer = torch.optim.Adam([torch_param], **options)
    exp_avg, exp_avg_sq, max_exp_avg_sq = numpy.zeros((3, 37), dtype)
    beta1, beta2 = options["betas"]
    for step in range(1, 4):
        grad = rng.standard_normal(37).astype(dtype)
        torch_param.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if options["amsgrad"] else None,
                  lr=options["lr"], beta1=beta1, beta2=beta2, eps=options["eps"],
                  weight_decay=options["weight_decay"], step=step)  # the twin uses grad as scratch
    state = optimizer.state[torch_param]
    _close(param, _numpy(torch_param), dtype, atol=1e-6)  # float32 values passing near zero
    _close(exp_avg, _numpy(state["exp_avg"]), dtype, atol=1e-6)
    _close(exp_avg_sq, _numpy(state["exp_avg_sq"]), dtype, atol=1e-6)
    if options["amsgrad"]:
        _close(max_exp_avg_sq, _numpy(state["max_exp_avg_sq"]), dtype, atol=1e-6)


# ============================================================================================
# The calls the stand-in and emulation tests make: every kernel function, a few layouts each
# ============================================================================================
@dataclasses.dataclass
class Call:
    name: str
    function: Callable
    make: Callable  # (rng, dtype) -> (args, kwargs), all arrays numpy
    in_place: tuple = ()  # for functions that return nothing: the indices of the args they update

    def outputs(self, result, args):
        if self.in_place:
            return tuple(args[i] for i in self.in_place if args[i] is not None)
        return result if isinstance(result, tuple) else (result,)


def _normal(rng, dtype, *shape, scale=1.0, shift=0.0):
    return numpy.asarray(shift + scale * rng.standard_normal(shape), dtype)  # shape (): a 0-d array


def _activation_call(activation):
    def make(rng, dtype):
        g, x = _normal(rng, dtype, 6, 5), _normal(rng, dtype, 6, 5, scale=3)
        return (g, bias_activation.twin(x, None, activation, 0.1), activation, 0.1), {}
    return Call(f"activation_grad-{activation}", activation_grad, make)


def _adam_call(name, amsgrad, **options):
    def make(rng, dtype):
        buffers = [_normal(rng, dtype, 300), _normal(rng, dtype, 300), _normal(rng, dtype, 300, scale=0.1),
                   abs(_normal(rng, dtype, 300, scale=0.1)), abs(_normal(rng, dtype, 300, scale=0.1))]
        if not amsgrad:
            buffers[4] = None
        return tuple(buffers), dict(lr=0.01, beta2=0.999, eps=1e-8, step=4, **options)
    return Call(name, adam_step, make, in_place=(0, 2, 3, 4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("on_logits", [True, False], ids=["bce_with_logits", "bce"])
@pytest.mark.parametrize("grad_output_shape", [None, ()])
def test_bce_kernels_divide_the_gradient_of_a_mean_as_torch(on_logits, grad_output_shape, dtype):
    rng = _rng("bce-mean", on_logits, grad_output_shape, dtype)
    input, target = _bce_inputs(rng, (6, 5), dtype, probabilities=not on_logits)
    grad_output = None if grad_output_shape is None else rng.standard_normal(grad_output_shape).astype(dtype)
    kernel, torch_loss = ((bce_with_logits, F.binary_cross_entropy_with_logits) if on_logits
                          else (bce, F.binary_cross_entropy))
    _, grad = kernel(input, target, grad_output=grad_output, grad_divisor=input.size)

    x = torch.from_numpy(input).requires_grad_()
    incoming = torch.tensor(1, dtype=x.dtype) if grad_output is None else torch.from_numpy(grad_output)
    expected_grad, = torch.autograd.grad(torch_loss(x, torch.from_numpy(target), reduction="mean"), x, incoming)
    _close(grad, _numpy(expected_grad), dtype)


def _columns(shape, kernel_size, stride, padding):
    def make(rng, dtype):
        column_shape = im2col.twin(numpy.zeros(shape, dtype), kernel_size, stride, padding).shape
        return (_normal(rng, dtype, *column_shape), shape[2:], stride, padding), {}
    return make


CALLS = [
    *[Call(f"bias_activation-{activation}", bias_activation,
           lambda rng, dtype, activation=activation: (
               (_normal(rng, dtype, 9, 7, scale=3), _normal(rng, dtype, 7), activation, 0.1), {}))
      for activation in ACTIVATIONS],
    Call("bias_activation-nchw", bias_activation, lambda rng, dtype: (
        (_normal(rng, dtype, 2, 3, 4, 5), _normal(rng, dtype, 3), "leaky_relu", 0.2), dict(channel_axis=1))),
    Call("bias_activation-no-bias", bias_activation, lambda rng, dtype: ((_normal(rng, dtype, 1), None, "tanh"), {})),
    *[_activation_call(activation) for activation in ACTIVATIONS],
    Call("bce_with_logits", bce_with_logits, lambda rng, dtype: (
        _bce_inputs(rng, (4, 3), dtype, probabilities=False), {})),
    Call("bce_with_logits-pos_weight-scalar_grad", bce_with_logits, lambda rng, dtype: (
        _bce_inputs(rng, (4, 3), dtype, probabilities=False),
        dict(pos_weight=abs(_normal(rng, dtype, 3)), grad_output=_normal(rng, dtype)))),
    Call("bce_with_logits-column_pos_weight", bce_with_logits, lambda rng, dtype: (
        _bce_inputs(rng, (4, 3), dtype, probabilities=False),
        dict(pos_weight=abs(_normal(rng, dtype, 4, 1)), grad_output=_normal(rng, dtype, 4, 3)))),
    Call("bce", bce, lambda rng, dtype: (_bce_inputs(rng, (5, 3), dtype, probabilities=True), {})),
    Call("bce-grad_output", bce, lambda rng, dtype: (
        _bce_inputs(rng, (5, 3), dtype, probabilities=True), dict(grad_output=_normal(rng, dtype, 5, 3)))),
    Call("bce-mean", bce, lambda rng, dtype: (
        _bce_inputs(rng, (5, 3), dtype, probabilities=True), dict(grad_divisor=15))),
    Call("bce_with_logits-mean", bce_with_logits, lambda rng, dtype: (
        _bce_inputs(rng, (4, 3), dtype, probabilities=False), dict(grad_divisor=12))),
    Call("im2col", im2col, lambda rng, dtype: ((_normal(rng, dtype, 2, 3, 5, 5), 3, 1, 1), {})),
    Call("im2col-strided", im2col, lambda rng, dtype: ((_normal(rng, dtype, 1, 2, 7, 6), (3, 2), 2, (1, 0)), {})),
    Call("col2im", col2im, _columns((2, 3, 5, 5), 3, 1, 1)),
    Call("col2im-strided", col2im, _columns((1, 2, 7, 6), (3, 2), 2, (1, 0))),
    Call("col2im-gaps", col2im, _columns((1, 2, 7, 7), 2, 3, 0)),
    Call("norm_statistics-batch", norm_statistics, lambda rng, dtype: ((_normal(rng, dtype, 4, 3, 5, shift=9),), {})),
    Call("norm_statistics-instance", norm_statistics, lambda rng, dtype: (
        (_normal(rng, dtype, 2, 3, 4, 5), True), {})),
    Call("normalize-batch", normalize, lambda rng, dtype: (
        (_normal(rng, dtype, 4, 3, 5), _normal(rng, dtype, 1, 3, 1), abs(_normal(rng, dtype, 1, 3, 1)),
         _normal(rng, dtype, 3), _normal(rng, dtype, 3)), dict(eps=1e-3))),
    Call("normalize-instance-no-affine", normalize, lambda rng, dtype: (
        (_normal(rng, dtype, 2, 3, 4), _normal(rng, dtype, 2, 3, 1), abs(_normal(rng, dtype, 2, 3, 1))), {})),
    _adam_call("adam_step", amsgrad=False, beta1=0.9, weight_decay=0),
    _adam_call("adam_step-amsgrad-weight_decay", amsgrad=True, beta1=0.9, weight_decay=0.01),
    _adam_call("adam_step-beta1_below_half", amsgrad=False, beta1=0.2, weight_decay=0),
    # 37 values: a last counter only partly written; a seed above 2⁶³ and an offset past 2³² counters
    Call("philox_uniform", philox_uniform, lambda rng, dtype: ((numpy.zeros(37, dtype), 2 ** 64 - 3, 2 ** 32 - 5), {}),
         in_place=(0,)),
    Call("philox_normal", philox_normal, lambda rng, dtype: ((numpy.zeros(37, dtype), 12345, 7), {}), in_place=(0,)),
]


def _make(call, dtype):
    return call.make(_rng(call.name, dtype), dtype)


def _copy(value):
    return value.copy() if isinstance(value, numpy.ndarray) else value


# ============================================================================================
# 2. On the stand-in device: one launch, the numpy result
# ============================================================================================
def _to_device(value):
    return standin.xp.asarray(value) if isinstance(value, numpy.ndarray) else value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.name)
def test_kernel_on_the_standin_device_is_one_launch_with_the_numpy_result(call, dtype):
    args, kwargs = _make(call, dtype)
    host_args, host_kwargs = [_copy(a) for a in args], {k: _copy(v) for k, v in kwargs.items()}
    expected = call.outputs(call.function(*host_args, **host_kwargs), host_args)
    device_args, device_kwargs = [_to_device(a) for a in args], {k: _to_device(v) for k, v in kwargs.items()}

    launches = standin.counter.launches
    result = call.function(*device_args, **device_kwargs)
    assert standin.counter.launches - launches == 1

    outputs = call.outputs(result, device_args)
    assert len(outputs) == len(expected)
    for output, host_output in zip(outputs, expected):
        assert type(output) is standin.DeviceArray
        assert_array_equal(output.get(), host_output)


# ============================================================================================
# 3. Every kernel compiles with NVRTC
# ============================================================================================
@pytest.fixture(scope="module")
def nvrtc():
    module = pytest.importorskip("cupy_backends.cuda.libs.nvrtc",
                                 reason="CuPy is not installed (pip install cupy-cuda13x): "
                                        "the kernels cannot be compiled")
    try:
        module.getVersion()
    except Exception as error:  # the wheel is there, the NVRTC library it loads is not
        pytest.skip(f"the NVRTC library cannot be loaded ({error}): pip install nvidia-cuda-nvrtc")
    return module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda kernel: kernel.name)
def test_kernel_compiles_to_ptx_with_nvrtc(kernel, dtype, nvrtc):
    program = nvrtc.createProgram(kernel.source(dtype), f"{kernel.name}.cu", [], [])
    try:
        nvrtc.compileProgram(program, ["-arch=compute_90", *COMPILE_OPTIONS])
    except nvrtc.NVRTCError as error:
        pytest.fail(f"CUDA kernel {kernel.name} ({dtype}) does not compile: {error}\n{nvrtc.getProgramLog(program)}")
    assert f".entry {kernel.name}(".encode() in nvrtc.getPTX(program), "the kernel's name must not be mangled"


def test_every_kernel_function_is_called_by_the_device_tests_and_its_kernel_registered():
    launchers = {name for name in kernels.__all__ if name.islower() and name != "run"}
    assert launchers == {function.__name__ for function in KERNEL_FUNCTIONS}, "pair each new launcher with its twin"
    assert {function for function in KERNEL_FUNCTIONS} == {call.function for call in CALLS}, \
        "add a Call for each new kernel function to CALLS"
    assert launchers <= {kernel.name for kernel in KERNELS}


# ============================================================================================
# Dispatch and the compile-once factory, without a device
# ============================================================================================
@pytest.fixture
def cupy():
    return pytest.importorskip("cupy", reason="CuPy is not installed: the compiled path cannot be selected")


def _cupy_array_without_a_device(cupy, shape, dtype):
    """A cupy.ndarray header over a null pointer: enough to be dispatched, never to be read."""
    memory = cupy.cuda.memory.MemoryPointer(cupy.cuda.memory.UnownedMemory(0, 0, None, 0), 0)
    return cupy.ndarray(shape, dtype, memptr=memory)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda kernel: kernel.name)
def test_kernel_compiles_once_per_dtype_into_a_raw_kernel(kernel, cupy):
    single = kernel.compiled(numpy.dtype("float32"))
    assert isinstance(single, cupy.RawKernel) and single.name == kernel.name
    assert single.code == kernel.source("float32") and single.code.startswith("typedef float T;")
    assert set(COMPILE_OPTIONS) <= set(single.options)
    assert kernel.compiled("float32") is single  # memoised: built once per process
    double = kernel.compiled(numpy.dtype("float64"))
    assert double is not single and double.code.startswith("typedef double T;")


def test_a_kernel_is_written_for_float_and_double_only():
    with pytest.raises(TypeError, match="bias_activation.*float32 and float64.*int64"):
        next(kernel for kernel in KERNELS if kernel.name == "bias_activation").source("int64")


def test_cupy_arrays_go_to_the_kernel_other_arrays_to_the_twin(cupy, monkeypatch):
    calls = []
    monkeypatch.setattr(bias_activation, "launch", lambda *args, **kwargs: calls.append("kernel"))
    monkeypatch.setattr(bias_activation, "twin", lambda *args, **kwargs: calls.append("twin"))
    bias_activation(_cupy_array_without_a_device(cupy, (2, 3), numpy.float32), None, "relu")
    bias_activation(numpy.zeros((2, 3), numpy.float32), None, "relu")
    launches = standin.counter.launches
    bias_activation(standin.DeviceArray(numpy.zeros((2, 3), numpy.float32)), None, "relu")
    assert calls == ["kernel", "twin", "twin"]
    assert standin.counter.launches - launches == 1


def test_plain_numpy_calls_leave_the_launch_counter_alone():
    launches = standin.counter.launches
    bias_activation(numpy.ones(3), None, "sigmoid")
    assert standin.counter.launches == launches


@pytest.mark.parametrize("call, error, match", [
    (lambda: bias_activation(numpy.ones(3, numpy.int64)), TypeError, "bias_activation: expects float32 or float64"),
    (lambda: bias_activation(numpy.ones(3), numpy.ones(3, numpy.float32)), TypeError, "float32, float64"),
    (lambda: kernels.bias_activation(numpy.ones((2, 3)), numpy.ones(2)), ValueError, r"bias of shape \(2,\).*\(3,\)"),
    (lambda: kernels.bias_activation(numpy.ones(3), None, "gelu"), ValueError, "unknown activation 'gelu'"),
    (lambda: kernels.activation_grad(numpy.ones(3), numpy.ones(2), "relu"), ValueError, "same shape"),
    (lambda: kernels.bce(numpy.ones(3), numpy.ones(2)), ValueError, r"target has shape \(2,\)"),
    (lambda: kernels.bce_with_logits(numpy.ones((2, 3)), numpy.ones((2, 3)), numpy.ones(2)), ValueError,
     r"pos_weight of shape \(2,\) does not broadcast"),
    (lambda: im2col(numpy.ones((1, 1, 2, 2)), 3), ValueError, "kernel size 3 exceeds"),
    (lambda: im2col(numpy.ones((2, 2)), 1), ValueError, r"shape \(N, C, H, W\)"),
    (lambda: col2im(numpy.ones((1, 3, 3, 1, 2, 2)), (5, 5)), ValueError, "do not come from images"),
    (lambda: kernels.normalize(numpy.ones((2, 3)), numpy.ones(2), numpy.ones(2)), ValueError, "C = 3 or N·C = 6"),
    (lambda: kernels.adam_step(*numpy.ones((4, 3)), lr=1, beta1=0.9, beta2=0.9, eps=1, weight_decay=0, step=numpy.ones(3)),
     TypeError, "step must be a number"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_bad_input_gets_an_error_naming_the_kernel_and_the_cause(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ============================================================================================
# 4. The GPU path on the CPU: the launchers and the CUDA sources, run by g++ and an emulator
# ============================================================================================
_EMULATION_PRELUDE = r"""
#include <barrier>
#include <cmath>
#include <thread>
#include <vector>
using namespace std;  // exp(float) is the float exp, as in CUDA

struct uint3 { unsigned x, y, z; };
static thread_local uint3 threadIdx, blockIdx;
static uint3 blockDim, gridDim;
static barrier<>* block_barrier;

// CuPy compiles every RawKernel with -ftz=true: float32 denormals read and made are zero. The
// float32 emulation does the same (x86's FTZ and DAZ bits), each emulated thread restoring its own.
#if defined(FLUSH_DENORMALS) && defined(__x86_64__)
#include <xmmintrin.h>
struct FlushDenormals {
    unsigned saved = _mm_getcsr();
    FlushDenormals() { _mm_setcsr(saved | 0x8040); }
    ~FlushDenormals() { _mm_setcsr(saved); }
};
#else
struct FlushDenormals {};
#endif

#define __global__
#define __device__
#define __restrict__
#define __shared__ static  // blocks run one after another, so one copy serves each in turn
inline void __syncthreads() { block_barrier->arrive_and_wait(); }

// Every thread of every block runs `body`; a kernel that synchronises its threads gets one OS
// thread per CUDA thread of a block, so that each __syncthreads() is a real barrier.
template <class Body> void run_grid(unsigned grid, unsigned block, bool synchronises, Body body) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    FlushDenormals on_this_thread;
    for (unsigned b = 0; b < grid; ++b) {
        if (!synchronises) {
            for (unsigned t = 0; t < block; ++t) { blockIdx = {b, 0, 0}; threadIdx = {t, 0, 0}; body(); }
            continue;
        }
        barrier<> block_sync(block);
        block_barrier = &block_sync;
        vector<thread> threads;
        for (unsigned t = 0; t < block; ++t) {
            threads.emplace_back([&, b, t] {
                FlushDenormals on_this_thread;
                blockIdx = {b, 0, 0};
                threadIdx = {t, 0, 0};
                body();
            });
        }
        for (auto& thread : threads) thread.join();
    }
}
"""


def _parameters(kernel):
    """The kernel's C parameters as (type, name), e.g. ('const T*', 'x'), read from its source."""
    signature = re.search(rf'extern "C" __global__ void {kernel.name}\((.*?)\)\s*\{{', kernel.body, re.S)
    parameters = []
    for parameter in signature.group(1).split(","):
        type_, name = re.fullmatch(r"\s*(.*?)\s*(\w+)\s*", parameter.replace("__restrict__", "")).groups()
        parameters.append((type_.replace(" *", "*"), name))
    return parameters


def _c_type_of(argument):
    """The C type CuPy passes an argument of a RawKernel as (cupy/cuda/function.pyx: _pointer)."""
    if argument is None or isinstance(argument, numpy.ndarray):
        return "pointer"
    if isinstance(argument, bool):
        return "bool"
    if isinstance(argument, int):
        return "long long"
    if isinstance(argument, float):
        return "double"
    return {"float32": "float", "float64": "double", "int64": "long long", "int32": "int"}.get(
        dtype_name(getattr(argument, "dtype", None)), type(argument).__name__)


def _check_arguments(kernel, dtype, args):
    """The launcher passes what the C signature asks for, as CuPy will pass it on a GPU."""
    parameters = _parameters(kernel)
    assert len(args) == len(parameters), f"{kernel.name}: {len(args)} arguments for {len(parameters)} parameters"
    c_types = {"T": {"float32": "float", "float64": "double"}[dtype_name(dtype)], "long long": "long long"}
    for (type_, name), argument in zip(parameters, args):
        if type_.endswith("*"):
            is_array = isinstance(argument, numpy.ndarray) and argument.dtype == dtype and argument.flags.c_contiguous
            assert argument is None or is_array, f"{kernel.name}: {name} needs a contiguous {dtype} array"
        else:
            assert _c_type_of(argument) == c_types[type_], (
                f"{kernel.name}: {name} is a {c_types[type_]}, but the launcher passes {argument!r}")


def _emulation_source(dtype):
    parts = [_EMULATION_PRELUDE]
    for kernel in KERNELS:
        parameters = _parameters(kernel)
        call = ", ".join(f"*({type_}*)args[{i}]" for i, (type_, _) in enumerate(parameters))
        synchronises = "true" if "__syncthreads" in kernel.body else "false"
        source = kernel.source(dtype).replace('extern "C" ', "")  # C linkage only for the entry point below
        parts.append(f"namespace kernel_{kernel.name} {{\n{source}\n"
                     f'extern "C" void emulate_{kernel.name}(unsigned grid, unsigned block, void** args) {{\n'
                     f"    run_grid(grid, block, {synchronises}, [&] {{ {kernel.name}({call}); }});\n}}\n}}\n")
    return "".join(parts)


_CTYPES_OF = {"long long": ctypes.c_longlong, "float": ctypes.c_float, "double": ctypes.c_double}


class EmulatedKernel:
    """Stands in for a cupy.RawKernel: called as kernel(grid, block, args), it checks the
    arguments against the C signature and runs the g++-compiled kernel on numpy arrays."""

    def __init__(self, library, kernel, dtype):
        self.function, self.kernel, self.dtype = getattr(library, f"emulate_{kernel.name}"), kernel, numpy.dtype(dtype)

    def __call__(self, grid, block, args):
        _check_arguments(self.kernel, self.dtype, args)
        holders = [ctypes.c_void_p(None if a is None else a.ctypes.data) if _c_type_of(a) == "pointer" else
                   _CTYPES_OF[_c_type_of(a)](a) for a in args]
        pointers = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(holder) for holder in holders])
        self.function(ctypes.c_uint(grid[0]), ctypes.c_uint(block[0]), pointers)


@pytest.fixture(scope="module")
def emulated_kernels(tmp_path_factory):
    """(kernel name, dtype) -> EmulatedKernel, for every kernel, built by g++ once per test run."""
    if shutil.which("g++") is None:
        pytest.skip("no g++ to build the CPU emulation of the CUDA kernels")
    directory = tmp_path_factory.mktemp("emulated_kernels")
    emulated = {}
    for dtype in DTYPES:
        source, library = directory / f"kernels_{dtype}.cpp", directory / f"kernels_{dtype}.so"
        source.write_text(_emulation_source(dtype))
        flush = ["-DFLUSH_DENORMALS"] if dtype == "float32" else []  # -ftz=true touches float32 only
        build = subprocess.run(["g++", "-std=c++20", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-pthread", *flush,
                                str(source), "-o", str(library)], capture_output=True, text=True)
        assert build.returncode == 0, f"the kernels do not build as C++ for emulation:\n{build.stderr}"
        loaded = ctypes.CDLL(str(library))
        emulated.update({(kernel.name, dtype): EmulatedKernel(loaded, kernel, dtype) for kernel in KERNELS})
    return emulated


@pytest.fixture
def emulated_gpu(emulated_kernels, monkeypatch):
    """Kernel.compiled gives emulated kernels: a launcher's GPU path runs on numpy arrays."""
    monkeypatch.setattr(Kernel, "compiled", lambda kernel, dtype: emulated_kernels[kernel.name, dtype_name(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.name)
def test_gpu_path_run_by_the_emulator_equals_the_twin(call, dtype, emulated_gpu):
    args, kwargs = _make(call, dtype)
    twin_args = [_copy(a) for a in args]
    expected = call.outputs(call.function.twin(*twin_args, **kwargs), twin_args)
    outputs = call.outputs(call.function.launch(*args, **kwargs), args)
    assert len(outputs) == len(expected)
    for output, twin_output in zip(outputs, expected):
        assert output.shape == twin_output.shape and output.dtype == twin_output.dtype
        if dtype == "float32":
            _within_ulps(output, twin_output, EMULATED_ULPS)
        else:
            _close(output, twin_output, dtype)


@pytest.mark.parametrize("shape, kernel_size, stride, padding", _CONV_GEOMETRIES)
def test_gpu_im2col_and_col2im_equal_their_twins_bit_for_bit(shape, kernel_size, stride, padding, emulated_gpu):
    images = _rng("emulated conv", shape).standard_normal(shape)
    columns = im2col.launch(images, kernel_size, stride, padding)
    assert_array_equal(columns, im2col.twin(images, kernel_size, stride, padding))
    # the gather adds each pixel's contributions in the twin's order: the same bits, no atomics
    assert_array_equal(col2im.launch(columns, shape[2:], stride, padding),
                       col2im.twin(columns, shape[2:], stride, padding))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_norm_statistics_with_more_groups_than_blocks_and_values_than_threads(dtype, emulated_gpu, monkeypatch):
    """Far from zero (mean 50, std 1) the float32 kernel's compensated sums, in float32 throughout,
    still agree with the twin."""
    monkeypatch.setattr(kernels.core, "MAX_BLOCKS", 2)  # the grid-stride loop over groups
    x = (_rng("norm many").standard_normal((3, 5, 17, 11)) + 50).astype(dtype)  # 561 values per channel > 256 threads
    for per_sample in (False, True):
        for value, twin_value in zip(norm_statistics.launch(x, per_sample), norm_statistics.twin(x, per_sample)):
            _close(value, twin_value, dtype)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda kernel: kernel.name)
def test_float32_kernels_compile_for_sm_90_with_cupys_options_without_spills_or_double_precision(kernel, nvrtc):
    options = ["-ftz=true", "--device-as-default-execution-space", *COMPILE_OPTIONS]  # as CuPy compiles RawKernels
    program = nvrtc.createProgram(kernel.source("float32"), f"{kernel.name}.cu", [], [])
    nvrtc.compileProgram(program, ["-arch=sm_90", "--ptxas-options=-v", *options])
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", nvrtc.getProgramLog(program))
    assert spills and all(stores == loads == "0" for stores, loads in spills), nvrtc.getProgramLog(program)
    program = nvrtc.createProgram(kernel.source("float32"), f"{kernel.name}.cu", [], [])
    nvrtc.compileProgram(program, ["-arch=compute_90", *options])
    ptx = nvrtc.getPTX(program).decode()
    assert not re.findall(r"^\s*\S*\.f64\b", ptx, re.MULTILINE), f"{kernel.name} uses double precision"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("draw", [philox_uniform, philox_normal], ids=lambda draw: draw.__name__)
def test_gpu_random_draws_equal_the_cpus_bit_for_bit(draw, dtype, emulated_gpu, monkeypatch):
    """One stream on every device: the kernel, compiled without fused multiply-adds and run with
    float32 denormals flushed (as CuPy runs it), gives the twin's bits, on more counters than
    threads in the grid and across the 2³² counter boundary."""
    monkeypatch.setattr(kernels.core, "MAX_BLOCKS", 3)
    for seed, offset, size in [(0, 0, 4001), (2 ** 64 - 1, 2 ** 32 - 100, 1001), (987654321, 5, 3)]:
        gpu, twin = numpy.full(size, numpy.nan, dtype), numpy.full(size, numpy.nan, dtype)
        draw.launch(gpu, seed, offset)
        draw.twin(twin, seed, offset)
        assert_array_equal(gpu.view(f"u{gpu.itemsize}"), twin.view(f"u{twin.itemsize}"))


def test_gpu_path_reads_strided_inputs_as_the_twin_does(emulated_gpu):
    x = _rng("strided").standard_normal((6, 8))[:, ::2].T  # neither C- nor F-contiguous
    bias = numpy.arange(6.0)
    _close(bias_activation.launch(x, bias, "relu"), bias_activation.twin(x, bias, "relu"), "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("if_true, if_false", [("array", "array"), ("array", 0), (0, "array"), (1, "array")])
def test_select_is_numpys_where_bit_for_bit(if_true, if_false, dtype):
    from minigan.ops.activation import select
    rng = _rng("select", if_true, if_false, dtype)
    values = rng.standard_normal((2, 7, 5)).astype(dtype)
    values.flat[:6] = [numpy.nan, numpy.inf, -numpy.inf, -0.0, 0.0, 1e-40]
    other = rng.standard_normal(values.shape).astype(dtype)
    condition = rng.random(values.shape) < 0.5
    a, b = (values if if_true == "array" else if_true), (other if if_false == "array" else if_false)
    chosen = select(condition, a, b)
    expected = numpy.where(condition, a, b).astype(dtype)
    assert chosen.dtype == dtype and chosen.shape == values.shape
    unsigned = f"u{numpy.dtype(dtype).itemsize}"
    numpy.testing.assert_array_equal(chosen.view(unsigned), expected.view(unsigned))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0, 1.5, -0.3])
def test_leaky_relu_grad_is_numpys_where_bit_for_bit_in_the_outputs_layout(slope, dtype):
    from minigan.ops.activation import LeakyReLUGrad
    rng = _rng("leaky grad", slope, dtype)
    y = rng.standard_normal((6, 5, 4, 3)).astype(dtype).transpose(3, 0, 1, 2)  # a conv output's layout
    g = rng.standard_normal((6, 5, 4, 3)).astype(dtype).transpose(3, 0, 1, 2)
    y.flat[:4], g.flat[4:12] = [numpy.nan, -0.0, 0.0, numpy.inf], [numpy.nan, numpy.inf, -numpy.inf, -0.0] * 2
    unsigned = f"u{numpy.dtype(dtype).itemsize}"
    for y_, g_ in ((y, g), (y[0, 0, 0, 0], g[0, 0, 0, 0]), (y[:0], g[:0])):  # 0-d and empty too
        grad = LeakyReLUGrad(slope).forward(g_, y_)
        expected = numpy.where(y_ > 0, g_, g_ * numpy.dtype(dtype).type(slope))
        assert grad.dtype == dtype and grad.shape == numpy.shape(y_)
        numpy.testing.assert_array_equal(numpy.asarray(grad).view(unsigned), expected.view(unsigned))
    assert LeakyReLUGrad(slope).forward(g, y).strides == y.strides


def test_the_float32_emulation_flushes_denormals_as_cupys_ftz_and_the_ulp_check_tells_errors(emulated_gpu):
    x = numpy.array([-100.0, 0.0, 3.0], dtype=numpy.float32)  # sigmoid(-100) = 3.7e-44, a float32 denormal
    gpu, twin = bias_activation.launch(x, None, "sigmoid"), bias_activation.twin(x, None, "sigmoid")
    assert gpu[0] == 0.0 and 0.0 < twin[0] < numpy.finfo(numpy.float32).tiny
    _within_ulps(gpu, twin, EMULATED_ULPS)
    assert numpy.float32(1e-40) * numpy.float32(2) > 0  # this thread's own arithmetic keeps its denormals
    with pytest.raises(AssertionError, match="ulps from the twin"):
        _within_ulps(twin * numpy.float32(1 + 1e-4), twin, EMULATED_ULPS)
