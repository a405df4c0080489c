"""conv2d and conv_transpose2d against torch: forward, first and second order, penalties, errors."""
import itertools

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_close, assert_matches_torch, on_cuda, torch

import minigan
from minigan.ops.conv import conv2d, conv_transpose2d

F = torch.nn.functional
rng = numpy.random.default_rng(0)

KERNELS = [1, 3, 4, 5, (3, 2)]
STRIDES = [1, 2, (2, 1)]
PADDINGS = [0, 1, (1, 2)]


def _pair(value):
    return (value, value) if isinstance(value, int) else value


def conv_arrays(batch, in_channels, out_channels, size, kernel, bias, transposed=False):
    """Random float64 input, weight (in torch's layout for the op) and, if asked, bias."""
    kernel_h, kernel_w = _pair(kernel)
    channels = (in_channels, out_channels) if transposed else (out_channels, in_channels)
    weight_shape = channels + (kernel_h, kernel_w)
    arrays = [rng.standard_normal((batch, in_channels) + _pair(size)), rng.standard_normal(weight_shape)]
    return arrays + ([rng.standard_normal(out_channels)] if bias else [])


def grad_of(library):
    """minigan.grad or torch.autograd.grad: the same signature."""
    return torch.autograd.grad if library is torch else library.grad


def as_numpy(tensor):
    return tensor.detach().numpy()


def assert_conv2d_matches_torch(arrays, **options):
    assert_matches_torch(lambda *t: conv2d(*t, **options), arrays, lambda *t: F.conv2d(*t, **options),
                         torch_fused=True)


def assert_conv_transpose2d_matches_torch(arrays, **options):
    assert_matches_torch(lambda *t: conv_transpose2d(*t, **options), arrays,
                         lambda *t: F.conv_transpose2d(*t, **options), torch_fused=True)


# --------------------------------------------------------------------------------------------
# Parity over kernel sizes, strides, paddings and output paddings, with and without bias:
# forward, input/weight/bias gradients, and the second-order gradients of all three.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("kernel, stride, padding", list(itertools.product(KERNELS, STRIDES, PADDINGS)))
def test_conv2d_matches_torch_to_second_order(kernel, stride, padding, bias):
    assert_conv2d_matches_torch(conv_arrays(2, 3, 4, (7, 8), kernel, bias), stride=stride, padding=padding)


@pytest.mark.parametrize("widest_output_padding", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("kernel, stride, padding", list(itertools.product(KERNELS, STRIDES, PADDINGS)))
def test_conv_transpose2d_matches_torch_to_second_order(kernel, stride, padding, bias, widest_output_padding):
    # output_padding must stay below the stride: the widest is stride - 1 in each dim
    output_padding = tuple(s - 1 for s in _pair(stride)) if widest_output_padding else 0
    assert_conv_transpose2d_matches_torch(conv_arrays(2, 3, 4, (4, 5), kernel, bias, transposed=True),
                                          stride=stride, padding=padding, output_padding=output_padding)


def test_strided_conv2d_gives_its_input_gradient_the_input_size_when_windows_do_not_tile():
    # (9 + 2·1 - 4) % 3 = 1: the last row and column of the padded input are in no window, so
    # the transposed convolution in the backward must be told the input's size, 9x10
    arrays = conv_arrays(2, 2, 3, (9, 10), 4, bias=True)
    assert_conv2d_matches_torch(arrays, stride=3, padding=1)
    x = minigan.tensor(arrays[0], requires_grad=True)
    (grad,) = minigan.grad(conv2d(x, minigan.tensor(arrays[1]), stride=3, padding=1).sum(), x)
    assert grad.shape == x.shape


def test_conv2d_with_a_kernel_as_large_as_the_padded_input_matches_torch():
    assert_conv2d_matches_torch(conv_arrays(2, 3, 2, (3, 4), (5, 4), bias=True), padding=(1, 0))


def test_float32_stays_float32_and_matches_torch():
    x, w, b = (a.astype(numpy.float32) for a in conv_arrays(2, 3, 4, 8, 3, bias=True))
    ours = conv2d(minigan.tensor(x), minigan.tensor(w), minigan.tensor(b), stride=2, padding=1)
    theirs = F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2, padding=1)
    assert ours.dtype == numpy.float32
    assert_close(ours.array, theirs.numpy(), rtol=1e-5)


def test_third_order_gradient_matches_torch():
    """Three nested gradients of Σ tanh(conv2d(x, W)), each squared and summed before the next."""
    x, w = conv_arrays(1, 2, 2, 5, 3, bias=False)

    def third_derivative(library, conv, x, w):
        x, w = library.tensor(x, requires_grad=True), library.tensor(w, requires_grad=True)
        y = conv(x, w, stride=2, padding=1).tanh().sum()
        for _ in range(2):
            (y,) = grad_of(library)(y, [x], create_graph=True)
            y = (y * y).sum()
        return grad_of(library)(y, [x, w])

    ours = third_derivative(minigan, conv2d, x, w)
    theirs = third_derivative(torch, F.conv2d, x, w)
    for name, g, t in zip(["x", "w"], ours, theirs):
        assert_close(as_numpy(g), as_numpy(t), what=f"third-order gradient of {name}")


# --------------------------------------------------------------------------------------------
# The gradient penalty: ((‖∂ Σ v·D(x) / ∂x‖₂ - 1)²).mean(), differentiated w.r.t. the weights
# --------------------------------------------------------------------------------------------
def gradient_penalty_grads(library, critic, x, v, params):
    """The penalty's gradient w.r.t. every parameter of `critic` and w.r.t. x, in `library`."""
    x = library.tensor(x, requires_grad=True)
    params = [library.tensor(p, requires_grad=True) for p in params]
    score = (critic(x, *params) * library.tensor(v)).sum()
    (grad_x,) = grad_of(library)(score, [x], create_graph=True)
    norms = (grad_x * grad_x).reshape(x.shape[0], -1).sum(1).sqrt()
    penalty = ((norms - 1) ** 2).mean()
    # the biases only move the leaky-relu kinks: their gradients are 0 (None where unused)
    grads = grad_of(library)(penalty, params + [x], allow_unused=True)
    return [numpy.zeros(t.shape) if g is None else as_numpy(g) for g, t in zip(grads, params + [x])]


@pytest.mark.parametrize("transposed_first", [False, True])
def test_gradient_penalty_of_a_two_layer_conv_net_matches_torch(transposed_first):
    def critic_with(conv, conv_transpose, leaky_relu):
        def critic(x, w1, b1, w2, b2):
            first_layer = conv_transpose if transposed_first else conv
            hidden = leaky_relu(first_layer(x, w1, b1, stride=2, padding=1), 0.2)
            return conv(hidden, w2, b2, stride=(2, 1), padding=(1, 0))
        return critic

    ours = critic_with(conv2d, conv_transpose2d, minigan.nn.functional.leaky_relu)
    theirs = critic_with(F.conv2d, F.conv_transpose2d, F.leaky_relu)
    x = rng.standard_normal((3, 2, 6, 6))
    w1 = rng.standard_normal((2, 4, 4, 4) if transposed_first else (4, 2, 4, 4))
    params = [w1, rng.standard_normal(4), rng.standard_normal((3, 4, 3, 2)), rng.standard_normal(3)]
    v = rng.standard_normal(theirs(torch.tensor(x), *map(torch.tensor, params)).shape)
    for name, g, t in zip(["w1", "b1", "w2", "b2", "x"], gradient_penalty_grads(minigan, ours, x, v, params),
                          gradient_penalty_grads(torch, theirs, x, v, params)):
        assert_close(g, t, what=f"penalty gradient of {name}")


# --------------------------------------------------------------------------------------------
# Property tests: random geometry against torch
# --------------------------------------------------------------------------------------------
def pairs(low, high):
    return st.tuples(st.integers(low, high), st.integers(low, high))


@st.composite
def conv_geometries(draw, transposed):
    """Random batch, channels, kernel, stride, padding (and output_padding) with a valid size."""
    kernel, stride, padding = draw(pairs(1, 4)), draw(pairs(1, 3)), draw(pairs(0, 2))
    geometry = dict(batch=draw(st.integers(1, 2)), channels=draw(pairs(1, 3)), kernel=kernel,
                    stride=stride, padding=padding, bias=draw(st.booleans()))
    if transposed:
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride)
        # the smallest input whose output, (n - 1)·s - 2p + k + output_padding, is at least 1
        smallest = [1 + max(0, -(-(2 * p - k - o + 1) // s))
                    for k, s, p, o in zip(kernel, stride, padding, output_padding)]
        geometry["output_padding"] = output_padding
    else:
        smallest = [max(1, k - 2 * p) for k, p in zip(kernel, padding)]  # a window must fit
    geometry["size"] = tuple(draw(st.integers(n, n + 4)) for n in smallest)
    return geometry


def random_geometry_arrays(geometry, transposed):
    return conv_arrays(geometry["batch"], *geometry["channels"], geometry["size"], geometry["kernel"],
                       geometry["bias"], transposed)


@settings(max_examples=30, deadline=None)
@given(geometry=conv_geometries(transposed=False))
def test_conv2d_matches_torch_for_random_geometry(geometry):
    assert_conv2d_matches_torch(random_geometry_arrays(geometry, transposed=False),
                                stride=geometry["stride"], padding=geometry["padding"])


@settings(max_examples=30, deadline=None)
@given(geometry=conv_geometries(transposed=True))
def test_conv_transpose2d_matches_torch_for_random_geometry(geometry):
    assert_conv_transpose2d_matches_torch(random_geometry_arrays(geometry, transposed=True),
                                          stride=geometry["stride"], padding=geometry["padding"],
                                          output_padding=geometry["output_padding"])


# --------------------------------------------------------------------------------------------
# Finite differences: every Function of the closed set, the incoming gradient included
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op, weight_shape", [(conv2d, (3, 2, 3, 2)), (conv_transpose2d, (2, 3, 3, 2))])
def test_gradcheck_and_gradgradcheck_pass(op, weight_shape):
    x = minigan.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = minigan.tensor(rng.standard_normal(weight_shape), requires_grad=True)
    b = minigan.tensor(rng.standard_normal(3), requires_grad=True)

    def fn(x, w, b):
        return op(x, w, b, stride=(2, 1), padding=1)

    assert minigan.gradcheck(fn, (x, w, b))
    assert minigan.gradgradcheck(fn, (x, w, b))


def test_the_graph_keeps_no_columns_from_forward_to_backward():
    x, w = (minigan.tensor(a, requires_grad=True) for a in conv_arrays(2, 3, 4, 6, 3, bias=False))
    y = conv2d(x, w, padding=1)
    assert y.grad_fn.columns is None and {id(t) for t in y.grad_fn.inputs} == {id(x), id(w)}
    (y * y).sum().backward()  # the weight gradient gathers the columns again
    torch_x, torch_w = (torch.tensor(t.detach().array, requires_grad=True) for t in (x, w))
    expected = torch.nn.functional.conv2d(torch_x, torch_w, padding=1)
    (expected * expected).sum().backward()
    assert_close(w.grad.array, torch_w.grad.numpy(), 1e-12)


# --------------------------------------------------------------------------------------------
# Bad input: clear errors that name the op, the shapes and the cause
# --------------------------------------------------------------------------------------------
def tensor(*shape):
    return minigan.tensor(numpy.zeros(shape))


@pytest.mark.parametrize("op, x, w, message", [
    (conv2d, tensor(3, 8, 8), tensor(4, 3, 3, 3), r"conv2d: expected a 4-D input .* got shape \(3, 8, 8\)"),
    (conv2d, tensor(1, 3, 8, 8), tensor(4, 3, 3), r"conv2d: expected a 4-D weight .* got shape \(4, 3, 3\)"),
    (conv2d, tensor(1, 3, 8, 8), tensor(4, 2, 3, 3),
     r"conv2d: input of shape \(1, 3, 8, 8\) has 3 channels but weight of shape \(4, 2, 3, 3\).* expects 2"),
    (conv_transpose2d, tensor(1, 3, 8, 8), tensor(4, 3, 3, 3),
     r"conv_transpose2d: input of shape \(1, 3, 8, 8\) has 3 channels but weight of shape \(4, 3, 3, 3\)"),
    (conv_transpose2d, tensor(1, 3, 8), tensor(3, 4, 3, 3), r"conv_transpose2d: expected a 4-D input"),
])
def test_shape_errors_name_the_op_and_the_shapes(op, x, w, message):
    with pytest.raises(ValueError, match=message):
        op(x, w)


def test_kernel_larger_than_the_padded_input_is_an_error():
    with pytest.raises(ValueError, match=r"conv2d: kernel 5x3 .* larger than the padded input 4x6"):
        conv2d(tensor(1, 1, 2, 4), tensor(1, 1, 5, 3), padding=1)


def test_transposed_output_size_that_is_not_positive_is_an_error():
    # (1 - 1)·1 - 2·2 + 3 = -1
    with pytest.raises(ValueError, match=r"conv_transpose2d: the output size \(-1, -1\) is not positive"):
        conv_transpose2d(tensor(1, 1, 1, 1), tensor(1, 1, 3, 3), padding=2)


def test_output_padding_must_be_smaller_than_the_stride():
    message = r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride \(2, 2\) or dilation"
    with pytest.raises(ValueError, match=message):
        conv_transpose2d(tensor(1, 1, 3, 3), tensor(1, 1, 3, 3), stride=2, output_padding=2)


@pytest.mark.parametrize("options, error, message", [
    (dict(stride=0), ValueError, r"conv2d: stride must be at least 1, got 0"),
    (dict(padding=-1), ValueError, r"conv2d: padding must be at least 0, got -1"),
    (dict(stride=(1, 2, 3)), TypeError, r"conv2d: stride must be an int or a pair of ints"),
    (dict(bias=tensor(3)), ValueError, r"conv2d: bias must be a Tensor of shape \(4,\) .* got \(3,\)"),
])
def test_bad_arguments_are_errors(options, error, message):
    with pytest.raises(error, match=message):
        conv2d(tensor(1, 3, 6, 6), tensor(4, 3, 3, 3), **options)


def test_mixed_dtypes_are_an_error():
    with pytest.raises(TypeError, match=r"conv2d: input \(float32\) and weight \(float64\)"):
        conv2d(minigan.tensor(numpy.zeros((1, 1, 3, 3), numpy.float32)), tensor(1, 1, 2, 2))


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): the same code path a GPU runs
# --------------------------------------------------------------------------------------------
def _arrays(*shapes, seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 1), (4, 2, 1), ((3, 2), (2, 1), (1, 2))])
@pytest.mark.usefixtures("standin_cuda")
def test_conv2d_and_conv_transpose2d_on_cuda_match_torch(kernel, stride, padding):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    options = dict(stride=stride, padding=padding)
    assert_matches_torch(on_cuda(lambda x, w, b: minigan.nn.functional.conv2d(x, w, b, **options)),
                         _arrays((2, 3, 7, 6), (4, 3, kh, kw), (4,)), lambda x, w, b: F.conv2d(x, w, b, **options),
                         torch_fused=True)
    assert_matches_torch(on_cuda(lambda x, w, b: minigan.nn.functional.conv_transpose2d(x, w, b, **options)),
                         _arrays((2, 3, 4, 5), (3, 4, kh, kw), (4,)),
                         lambda x, w, b: F.conv_transpose2d(x, w, b, **options), torch_fused=True)


# --------------------------------------------------------------------------------------------
# groups, dilation, padding='same'/'valid': forward, first and second order, host and stand-in
# --------------------------------------------------------------------------------------------
OPTIONS = [
    pytest.param((2, 4, 6, 5), (6, 2, 3, 3), dict(groups=2, padding=1), id="groups"),
    pytest.param((2, 4, 6, 5), (4, 1, 3, 3), dict(groups=4, stride=2), id="depthwise"),
    pytest.param((2, 3, 9, 8), (2, 3, 3, 2), dict(dilation=(2, 3), padding=(2, 1)), id="dilation"),
    pytest.param((2, 3, 6, 5), (2, 3, 4, 3), dict(padding="same"), id="same-uneven"),
    pytest.param((2, 3, 6, 5), (2, 3, 3, 3), dict(padding="same", dilation=2), id="same-dilated"),
    pytest.param((2, 3, 6, 5), (2, 3, 3, 3), dict(padding="valid"), id="valid"),
]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("input_shape, weight_shape, options", OPTIONS)
def test_conv2d_groups_dilation_and_padding_strings_match_torch(input_shape, weight_shape, options, device, request):
    if device == "cuda":
        request.getfixturevalue("standin_cuda")
    ours = lambda x, w, b: minigan.nn.functional.conv2d(x, w, b, **options)  # noqa: E731
    assert_matches_torch(ours if device == "cpu" else on_cuda(ours),
                         _arrays(input_shape, weight_shape, weight_shape[:1]),
                         lambda x, w, b: F.conv2d(x, w, b, **options), torch_fused=True)


TRANSPOSED_OPTIONS = [
    pytest.param((2, 4, 3, 4), (4, 3, 3, 3), dict(groups=2, stride=2, padding=1, output_padding=1), id="groups"),
    pytest.param((2, 3, 3, 4), (3, 2, 3, 2), dict(dilation=2, stride=2, output_padding=(1, 0)), id="dilation"),
]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("input_shape, weight_shape, options", TRANSPOSED_OPTIONS)
def test_conv_transpose2d_groups_and_dilation_match_torch(input_shape, weight_shape, options, device, request):
    if device == "cuda":
        request.getfixturevalue("standin_cuda")
    groups = options.get("groups", 1)
    ours = lambda x, w, b: minigan.nn.functional.conv_transpose2d(x, w, b, **options)  # noqa: E731
    assert_matches_torch(ours if device == "cpu" else on_cuda(ours),
                         _arrays(input_shape, weight_shape, (weight_shape[1] * groups,)),
                         lambda x, w, b: F.conv_transpose2d(x, w, b, **options), torch_fused=True)


def test_groups_and_padding_strings_are_checked():
    with pytest.raises(ValueError, match="groups=3 must divide the input's 4 channels"):
        conv2d(tensor(1, 4, 5, 5), tensor(3, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        conv2d(tensor(1, 2, 5, 5), tensor(3, 2, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="'valid' or 'same', got 'full'"):
        conv2d(tensor(1, 2, 5, 5), tensor(3, 2, 3, 3), padding="full")
