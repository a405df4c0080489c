"""2-D convolution and transposed convolution: im2col + one GEMM, differentiable to any order.

Three Functions form a closed set, each one's backward made of the others:

    Conv2d           y = W ⋆ x          dx = conv_transpose2d(dy, W)     dW = Conv2dGradWeight(x, dy)
    ConvTranspose2d  y = Wᵀ ⋆ x         dx = conv2d(dy, W)               dW = Conv2dGradWeight(dy, x)
    Conv2dGradWeight dW = dy ⋆ x        dx = conv_transpose2d(dy, G)     d(dy) = conv2d(x, G)

(G is the gradient arriving at Conv2dGradWeight's output.) Every backward reads its inputs as
Tensors and calls these Functions again, so gradients of gradients, as in a gradient penalty,
follow with respect to inputs and weights alike.

The arrays: `im2col` gathers every kernel window of the padded image into the columns of a matrix
(C·kh·kw, Ho·Wo·N), so a convolution is one matrix product with the weight as a (C_out, C·kh·kw)
matrix. `col2im` is its adjoint: it adds each column back where it was read from. Both are array
slices here, one per kernel offset, and one kernel each on a GPU (minigan/cuda/kernels/conv.py).
Inside, images are laid out (C, H, W, N), "channel-major" with the batch innermost: each GEMM
operand is then one contiguous matrix, and each slice that im2col copies or col2im adds runs over
rows of W·N or N contiguous numbers (in torch's (N, C, H, W) a row is W numbers, as few as 4,
and numpy's per-row cost dominated); `_channel_major` and `_batch_major` move between that and
torch's (N, C, H, W). The
columns are kh·kw / (sh·sw) times the size of the image: ConvTranspose2d's backward gathers them
once for both its gradients, but no Function keeps them from its forward to its backward, where
gathering them again costs less than holding them through the step.
"""
import itertools
import numbers

import numpy

from minigan.backend import get_array_module
from minigan.cuda import kernels
from minigan.errors import DTypeError, ShapeError
from minigan.ops.shape import index_put, pad, reshape
from minigan.tensor import Function, Tensor, other_factors


# --------------------------------------------------------------------------------------------
# Array helpers: layouts, im2col and its adjoint
# --------------------------------------------------------------------------------------------
def _channel_major(images):
    """(N, C, H, W) -> contiguous (C, H, W, N)."""
    return get_array_module(images).ascontiguousarray(images.transpose(1, 2, 3, 0))


def _batch_major(images):
    """(C, H, W, N) -> (N, C, H, W), torch's shape. On the CPU a view: the memory stays (C, H, W, N),
    numpy's elementwise ops and reductions keep and use that layout, and the next convolution's
    `_channel_major` finds its operand ready, with no transposing copy either way. On a GPU a
    contiguous copy, which its kernels read."""
    xp = get_array_module(images)
    batch_major = images.transpose(3, 0, 1, 2)
    return batch_major if xp is numpy else xp.ascontiguousarray(batch_major)


def _as_matrix(array, leading_axes=1):
    """An array as a matrix: its first `leading_axes` axes index the rows, the rest the columns."""
    rows = 1
    for size in array.shape[:leading_axes]:
        rows *= size
    return array.reshape(rows, -1)


def im2col(images, kernel_size, stride, padding):
    """Every kernel window of the zero-padded (N, C, H, W) `images`, as a new contiguous
    (C, kh, kw, Ho, Wo, N) array: one kernel on a GPU, array slices on the CPU."""
    return kernels.run(kernels.im2col, _im2col, images, kernel_size, stride, padding)


def _im2col(images, kernel_size, stride, padding):
    """The image, zero-padded, in the (C, H, W, N) layout, then one strided slice per kernel
    offset (i, j) copied to columns[:, i, j]: the pixels that offset reads in every window."""
    batch, channels, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w = (
        kernels.conv.window_geometry("im2col", images.shape, kernel_size, stride, padding))
    xp = get_array_module(images)
    padded = xp.zeros((channels, height + 2 * pad_h, width + 2 * pad_w, batch), dtype=images.dtype)
    padded[:, pad_h:pad_h + height, pad_w:pad_w + width] = images.transpose(1, 2, 3, 0)
    columns = xp.empty((channels, kernel_h, kernel_w, out_h, out_w, batch), dtype=images.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            columns[:, i, j] = padded[:, i:i + stride_h * (out_h - 1) + 1:stride_h,
                                      j:j + stride_w * (out_w - 1) + 1:stride_w]
    return columns


def col2im(columns, image_size, stride, padding):
    """The adjoint of im2col: (C, kh, kw, Ho, Wo, N) columns summed back into a new (N, C, H, W)
    array, `image_size` = (H, W). Several sizes give the same Ho when the stride exceeds 1
    (a transposed convolution's output_padding picks one), so the size is given, not inferred."""
    return kernels.run(kernels.col2im, _col2im, columns, image_size, stride, padding)


def _col2im(columns, image_size, stride, padding):
    """Kernel offset by kernel offset, (i, j) ascending as the kernel sums them, each (C, Ho, Wo, N)
    slab of columns is added onto the pixels it was read from: a strided slice of the padded
    image, kept in the (C, H, W, N) layout, then cropped and turned to (N, C, H, W)."""
    batch, channels, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w = (
        kernels.conv.col2im_geometry(columns, image_size, stride, padding))
    xp = get_array_module(columns)
    # room for the last window's stride step too, so every slice below has out_h × out_w places
    padded = xp.zeros((channels, height + 2 * pad_h + stride_h, width + 2 * pad_w + stride_w, batch),
                      dtype=columns.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            padded[:, i:i + stride_h * out_h:stride_h, j:j + stride_w * out_w:stride_w] += columns[:, i, j]
    return _batch_major(padded[:, pad_h:pad_h + height, pad_w:pad_w + width])


def _channel_blocks(channels, kernel_size, small_size, image_size):
    """Slices that split `channels` so that each block's columns are about the size of its image:
    the columns of an image of `image_size` whose windows form a `small_size` grid are
    kh·kw·(small area)/(image area) times the image (4 for DCGAN's 4×4 stride-2 layers), and the
    blocks' columns, gathered (or scattered) one block at a time, never all exist at once."""
    growth = kernel_size[0] * kernel_size[1] * small_size[0] * small_size[1] / (image_size[0] * image_size[1])
    count = max(1, min(channels, round(growth)))
    bounds = [channels * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


def _concatenate_channels(parts):
    """(N, C_k, H, W) arrays joined along C, in the layout _batch_major gives."""
    xp = get_array_module(parts[0])
    return _batch_major(xp.concatenate([part.transpose(1, 2, 3, 0) for part in parts]))


# --------------------------------------------------------------------------------------------
# The three Functions
# --------------------------------------------------------------------------------------------
class Conv2d(Function):
    """y[n, o] = Σ_c W[o, c] ⋆ x[n, c]: cross-correlation, weight (C_out, C_in, kh, kw).

    `columns`, when the caller already has `im2col` of the input, saves building it again. The
    weight gradient multiplies the same matrix, but forward lets it go: holding it until backward
    (4× the input for DCGAN's 4×4 stride-2 layers: 14 MB of a 33 MB DCGAN 32 step) costs more
    than Conv2dGradWeight gathering it again from the saved input.
    """

    def __init__(self, stride, padding, columns=None):
        self.stride, self.padding, self.columns = stride, padding, columns

    def saved_positions(self):
        return other_factors(self.needs_input_grad)

    def forward(self, images, weight):
        columns = self.columns
        if columns is None:
            columns = im2col(images, weight.shape[2:], self.stride, self.padding)
        self.columns = None
        # y[o, (h, w, n)] = Σ_(c, i, j) W[o, (c, i, j)] columns[(c, i, j), (h, w, n)]
        output = _as_matrix(weight) @ _as_matrix(columns, 3)
        return _batch_major(output.reshape(weight.shape[0], *columns.shape[3:]))

    def backward(self, grad_output):
        images, weight = self.inputs
        need_images, need_weight = self.needs_input_grad
        grad_images = grad_weight = None
        if need_images:
            # conv2d is linear in x; its adjoint is the transposed convolution with the same W
            grad_images = ConvTranspose2d(self.stride, self.padding, images.shape[2:])(grad_output, weight)
        if need_weight:
            grad_weight = Conv2dGradWeight(weight.shape[2:], self.stride, self.padding)(images, grad_output)
        return grad_images, grad_weight


class ConvTranspose2d(Function):
    """The adjoint of Conv2d in its input: y = col2im(Wᵀ x), weight (C_in, C_out, kh, kw).

    `output_size` (H, W) is given explicitly: several sizes convolve down to the same input size
    when the stride is above 1, and the backward of a strided Conv2d must give back exactly its
    input's.
    """

    def __init__(self, stride, padding, output_size):
        self.stride, self.padding, self.output_size = stride, padding, tuple(output_size)

    def saved_positions(self):
        return other_factors(self.needs_input_grad)

    def forward(self, images, weight):
        channel_major = _channel_major(images)
        parts = []
        for block in _channel_blocks(weight.shape[1], weight.shape[2:], images.shape[2:], self.output_size):
            block_weight = weight[:, block]
            # columns[(o, i, j), (h, w, n)] = Σ_c W[c, (o, i, j)] x[c, (h, w, n)], for the block's o
            columns = _as_matrix(block_weight).T @ _as_matrix(channel_major)
            columns = columns.reshape(block_weight.shape[1:] + channel_major.shape[1:])
            parts.append(col2im(columns, self.output_size, self.stride, self.padding))
        return parts[0] if len(parts) == 1 else _concatenate_channels(parts)

    def backward(self, grad_output):
        images, weight = self.inputs
        need_images, need_weight = self.needs_input_grad
        # both gradients read the windows of dy: gather them once
        columns = im2col(grad_output.array, weight.shape[2:], self.stride, self.padding)
        grad_images = grad_weight = None
        if need_images:
            grad_images = Conv2d(self.stride, self.padding, columns)(grad_output, weight)
        if need_weight:
            # the same products as Conv2d's weight gradient, with input and output swapping roles
            grad_weight = Conv2dGradWeight(weight.shape[2:], self.stride, self.padding,
                                           columns)(grad_output, images)
        return grad_images, grad_weight


class Conv2dGradWeight(Function):
    """dW[o, c] = Σ_n dy[n, o] ⋆ x[n, c]: the weight gradient of Conv2d, as an op of (x, dy).

    It is bilinear in x and dy, so its own backward, for an incoming gradient G shaped like W,
    is a transposed convolution of dy (for x) and a convolution of x (for dy), both with G.
    `columns` is `im2col` of x when the caller has it.
    """

    def __init__(self, kernel_size, stride, padding, columns=None):
        self.kernel_size, self.stride, self.padding = tuple(kernel_size), stride, padding
        self.columns = columns

    def saved_positions(self):
        return other_factors(self.needs_input_grad)

    def forward(self, images, grad_output):
        columns, self.columns = self.columns, None  # the backward below needs no columns: let them go
        grad_rows = _as_matrix(_channel_major(grad_output))
        if columns is not None:
            return self._product(grad_rows, columns)
        blocks = _channel_blocks(images.shape[1], self.kernel_size, grad_output.shape[2:], images.shape[2:])
        parts = [self._product(grad_rows, im2col(images[:, block], self.kernel_size, self.stride, self.padding))
                 for block in blocks]
        return parts[0] if len(parts) == 1 else get_array_module(images).concatenate(parts, axis=1)

    @staticmethod
    def _product(grad_rows, columns):
        # dW[o, (c, i, j)] = Σ_(h, w, n) dy[o, (h, w, n)] columns[(c, i, j), (h, w, n)]
        return (grad_rows @ _as_matrix(columns, 3).T).reshape(grad_rows.shape[:1] + columns.shape[:3])

    def backward(self, grad_grad_weight):
        images, grad_output = self.inputs
        need_images, need_grad_output = self.needs_input_grad
        grad_images = grad_grad_output = None
        if need_images:
            transposed = ConvTranspose2d(self.stride, self.padding, images.shape[2:])
            grad_images = transposed(grad_output, grad_grad_weight)
        if need_grad_output:
            grad_grad_output = Conv2d(self.stride, self.padding)(images, grad_grad_weight)
        return grad_images, grad_grad_output


# --------------------------------------------------------------------------------------------
# The public functions: argument checks, then the Functions
# --------------------------------------------------------------------------------------------
def _pair(value, name, op, minimum):
    """An int or a pair of ints as a pair of Python ints, each at least `minimum`."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_operands(op, images, weight, bias, in_channels_axis, out_channels_axis, weight_layout):
    """The checks conv2d and conv_transpose2d share: types, ranks, channel counts, bias size."""
    for name, value in (("input", images), ("weight", weight)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    if images.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C_in, H, W), got shape {images.shape}")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D weight {weight_layout}, got shape {weight.shape}")
    if images.dtype != weight.dtype:
        raise DTypeError(f"{op}: input ({images.dtype}) and weight ({weight.dtype}) must have the same dtype")
    if images.shape[1] != weight.shape[in_channels_axis]:
        raise ShapeError(
            f"{op}: input of shape {images.shape} has {images.shape[1]} channels but weight of "
            f"shape {weight.shape} {weight_layout} expects {weight.shape[in_channels_axis]}")
    out_channels = weight.shape[out_channels_axis]
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (out_channels,)):
        raise ShapeError(f"{op}: bias must be a Tensor of shape ({out_channels},) for weight of shape "
                         f"{weight.shape}, got {getattr(bias, 'shape', type(bias).__name__)}")
    if bias is not None and bias.dtype != weight.dtype:
        raise DTypeError(f"{op}: bias ({bias.dtype}) and weight ({weight.dtype}) must have the same dtype")


def _add_bias(output, bias):
    """output[n, o, h, w] + bias[o]; its backward sums the gradient over n, h and w."""
    return output if bias is None else output + reshape(bias, (1, -1, 1, 1))


def _dense_weight(weight, groups, dilation):
    """A grouped or dilated kernel as the plain kernel the Functions compute, built with ops (so
    exact to any order), at the cost of multiplying its zeros: x groups and x dilation² the FLOPs.

    Groups: the weight's dim 0 (C_out of a conv, C_in of a transposed one) splits into `groups`
    blocks, and block g sees only the g-th block of the other channels: the weight becomes
    block-diagonal, zeros between the blocks. Dilation: dilation - 1 zeros between the taps.
    """
    if groups != 1:
        rows, columns = weight.shape[:2]
        xp = get_array_module(weight.array)
        own_group = (xp.arange(rows)[:, None] // (rows // groups)) == xp.arange(groups)
        mask = Tensor(own_group.astype(weight.dtype).reshape(rows, groups, 1, 1, 1))
        weight = reshape(weight.unsqueeze(1) * mask, (rows, groups * columns) + weight.shape[2:])
    if dilation != (1, 1):
        (dh, dw), (kh, kw) = dilation, weight.shape[2:]
        xp = get_array_module(weight.array)
        spread = Tensor(xp.zeros(weight.shape[:2] + ((kh - 1) * dh + 1, (kw - 1) * dw + 1), dtype=weight.dtype))
        weight = index_put(spread, (slice(None), slice(None), slice(None, None, dh), slice(None, None, dw)), weight)
    return weight


def _check_groups(op, groups, channels, weight):
    """torch's rules for groups: a positive int dividing the input channels and the weight's dim 0."""
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    if channels % groups or weight.shape[0] % groups:
        raise ShapeError(f"{op}: groups={groups} must divide the input's {channels} channels and the weight's "
                         f"dim 0 ({weight.shape[0]}; weight shape {weight.shape})")


def _same_padding(op, input, weight, stride, dilation):
    """padding='same' (stride 1 only): the input padded by d·(k - 1) in all along each dim, the
    extra one (for an odd total) on the right and bottom, as torch pads. Returns the input, padded
    here when the padding is uneven, and the (even) padding left for the Function."""
    if stride != (1, 1):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    (top, left) = (totals[0] // 2, totals[1] // 2)
    if all(total % 2 == 0 for total in totals):
        return input, (top, left)
    return pad(input, (left, totals[1] - left, top, totals[0] - top)), (0, 0)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d: input (N, C_in, H, W), weight (C_out, C_in / groups, kh, kw);
    padding an int, a pair, 'valid' or 'same'."""
    op = "conv2d"
    stride, dilation = _pair(stride, "stride", op, 1), _pair(dilation, "dilation", op, 1)
    if isinstance(input, Tensor) and isinstance(weight, Tensor) and input.ndim == weight.ndim == 4:
        _check_groups(op, groups, input.shape[1], weight)
        weight = _dense_weight(weight, groups, dilation)
    _check_operands(op, input, weight, bias, 1, 0, "(C_out, C_in, kh, kw)")
    if padding == "same":
        input, padding = _same_padding(op, input, weight, stride, (1, 1))
    elif padding == "valid":
        padding = 0
    elif isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    padding = _pair(padding, "padding", op, 0)
    kernel_size = weight.shape[2:]
    padded_size = tuple(size + 2 * pad for size, pad in zip(input.shape[2:], padding))
    if any(kernel > size for kernel, size in zip(kernel_size, padded_size)):
        raise ShapeError(
            f"{op}: kernel {kernel_size[0]}x{kernel_size[1]} (weight shape {weight.shape}) is larger "
            f"than the padded input {padded_size[0]}x{padded_size[1]} (input shape {input.shape}, "
            f"padding {padding})")
    return _add_bias(Conv2d(stride, padding)(input, weight), bias)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose2d: input (N, C_in, H, W), weight (C_in, C_out / groups,
    kh, kw).

    The output is (H - 1)·s - 2p + d·(k - 1) + 1 + output_padding tall (and likewise wide):
    output_padding picks which of the sizes that a stride-s convolution maps to H is meant.
    """
    op = "conv_transpose2d"
    dilation = _pair(dilation, "dilation", op, 1)
    if isinstance(input, Tensor) and isinstance(weight, Tensor) and input.ndim == weight.ndim == 4:
        _check_groups(op, groups, input.shape[1], weight)
        weight = _dense_weight(weight, groups, dilation)
    _check_operands(op, input, weight, bias, 0, 1, "(C_in, C_out, kh, kw)")
    stride, padding = _pair(stride, "stride", op, 1), _pair(padding, "padding", op, 0)
    output_padding = _pair(output_padding, "output_padding", op, 0)
    if any(extra >= max(step, dil) for extra, step, dil in zip(output_padding, stride, dilation)):
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either stride {stride} or "
                         f"dilation {dilation}")
    output_size = tuple((size - 1) * step - 2 * pad + kernel + extra for size, step, pad, kernel, extra
                        in zip(input.shape[2:], stride, padding, weight.shape[2:], output_padding))
    if min(output_size) <= 0:
        raise ShapeError(
            f"{op}: the output size {output_size} is not positive for input shape {input.shape}, "
            f"weight shape {weight.shape}, stride {stride}, padding {padding}, output_padding "
            f"{output_padding}")
    return _add_bias(ConvTranspose2d(stride, padding, output_size)(input, weight), bias)
