"""Resampling images (N, C, H, W): interpolate (nearest, bilinear) and pooling (max, average,
adaptive average), each composed from ops that already have exact derivatives of every order, so
a gradient penalty through them is exact.

- Bilinear interpolation and average pooling are linear maps along H and along W: y = R_h x R_wᵀ,
  with R the (small) matrix of the weights torch uses; two matrix products.
- Nearest interpolation picks rows and columns: one indexing op.
- Max pooling picks, in each window, the first largest value (as torch's kernel does, so ties,
  common after a ReLU, send the whole gradient to one element): the windows are stacked, their
  argmax found, and the values picked by indexing.
"""
import math

from minigan.backend import get_array_module
from minigan.errors import ShapeError
from minigan.ops.shape import pad, stack
from minigan.tensor import Tensor


def _pair(value, name, op):
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair, got {value!r}")
    return pair


def _check_images(op, input):
    if input.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(input.shape)}")


def _along(input, height_matrix, width_matrix):
    """R_h · x · R_wᵀ for x (N, C, H, W): a linear map along each spatial axis, as two products."""
    xp = get_array_module(input.array)
    rows = Tensor(xp.asarray(height_matrix, dtype=input.dtype))
    columns = Tensor(xp.asarray(width_matrix.T, dtype=input.dtype))
    return (rows @ input) @ columns


# --------------------------------------------------------------------------------------------
# Interpolation
# --------------------------------------------------------------------------------------------
def _bilinear_matrix(xp, in_size, out_size, scale, align_corners):
    """(out_size, in_size) weights of linear interpolation along one axis, as torch computes the
    source coordinate of each output pixel: dst·scale with align_corners, else (dst + 0.5)·scale
    - 0.5 clamped at 0; each output mixes the two inputs around it (one, at the last input)."""
    destination = xp.arange(out_size, dtype=xp.float64)
    source = destination * scale if align_corners else xp.maximum((destination + 0.5) * scale - 0.5, 0)
    low = xp.floor(source).astype(xp.int64)
    high = low + (low < in_size - 1)
    weight_high = (source - low)[:, None]
    columns = xp.arange(in_size)
    return (columns == low[:, None]) * (1 - weight_high) + (columns == high[:, None]) * weight_high


def _nearest_positions(xp, in_size, out_size, scale):
    """The input index each output reads: floor(dst·scale), computed in float32 as torch's kernel
    does, so that the same neighbours are picked."""
    step = xp.float32(in_size / out_size if scale is None else scale)
    return xp.minimum(xp.floor(xp.arange(out_size, dtype=xp.float32) * step).astype(xp.int64), in_size - 1)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """torch.nn.functional.interpolate for images (N, C, H, W): mode 'nearest' or 'bilinear',
    to `size` or by `scale_factor` (each an int or float, or a pair)."""
    op = "interpolate"
    _check_images(op, input)
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported; 'nearest' or 'bilinear'")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give either size or scale_factor, not both or neither")
    in_sizes = input.shape[2:]
    if size is not None:
        out_sizes, scales = _pair(size, "size", op), [None, None]
    else:
        factors = _pair(scale_factor, "scale_factor", op)
        out_sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_sizes, factors))
        scales = [None, None] if recompute_scale_factor else [1.0 / f for f in factors]
    xp = get_array_module(input.array)
    if mode == "nearest":
        rows, columns = (_nearest_positions(xp, n, out, scale) for n, out, scale in zip(in_sizes, out_sizes, scales))
        return input[:, :, Tensor(rows[:, None]), Tensor(columns)]
    matrices = []
    for n, out, scale in zip(in_sizes, out_sizes, scales):
        if align_corners:
            step = (n - 1) / (out - 1) if out > 1 else 0.0
        else:
            step = n / out if scale is None else scale
        matrices.append(_bilinear_matrix(xp, n, out, step, bool(align_corners)))
    return _along(input, *matrices)


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------
def _windows(input, kernel_size, stride, padding, dilation, fill, op):
    """The (N, C, Ho, Wo) slices of the `fill`-padded input, one per kernel offset."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(v, name, op) for v, name in (
        (kernel_size, "kernel_size"), (stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{op}: pad should be at most half of effective kernel size, but got pad={padding} and "
                         f"kernel_size={kernel_size}")
    height, width = input.shape[2:]
    out_h, out_w = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if out_h < 1 or out_w < 1:
        raise ShapeError(f"{op}: the window of kernel_size={kernel_size} does not fit the input of shape "
                         f"{tuple(input.shape)} with padding={padding}")
    padded = pad(input, (pw, pw, ph, ph), value=fill) if ph or pw else input
    return [padded[:, :, i * dh:i * dh + sh * (out_h - 1) + 1:sh, j * dw:j * dw + sw * (out_w - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool2d: the largest value of each window (the first, on ties)."""
    op = "max_pool2d"
    _check_images(op, input)
    if ceil_mode or return_indices:
        raise NotImplementedError(f"{op}: ceil_mode and return_indices are not supported")
    windows = stack(_windows(input, kernel_size, stride or kernel_size, padding, dilation, -math.inf, op))
    xp = get_array_module(windows.array)
    first_largest = windows.array.argmax(axis=0)
    n, c, h, w = (xp.arange(size).reshape((-1,) + (1,) * (3 - axis)) for axis, size in enumerate(first_largest.shape))
    return windows[first_largest, n, c, h, w]


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d: the mean of each window (zero padding counted, unless
    count_include_pad=False)."""
    op = "avg_pool2d"
    _check_images(op, input)
    if ceil_mode:
        raise NotImplementedError(f"{op}: ceil_mode is not supported")
    stride = stride or kernel_size
    windows = _windows(input, kernel_size, stride, padding, 1, 0.0, op)
    total = windows[0]
    for window in windows[1:]:
        total = total + window
    if divisor_override:
        return total / divisor_override
    if count_include_pad or not any(_pair(padding, "padding", op)):
        return total / len(windows)
    ones = Tensor(get_array_module(input.array).ones((1, 1) + input.shape[2:], dtype=input.dtype))
    counts = _windows(ones, kernel_size, stride, padding, 1, 0.0, op)
    count = counts[0]
    for window in counts[1:]:
        count = count + window
    return total / count


def _adaptive_matrix(xp, in_size, out_size):
    """(out_size, in_size) averaging weights: output i averages inputs floor(i·n/m) .. ceil((i+1)·n/m)."""
    outputs = xp.arange(out_size)[:, None]
    start, end = (outputs * in_size) // out_size, -(-((outputs + 1) * in_size) // out_size)
    columns = xp.arange(in_size)
    return ((columns >= start) & (columns < end)) / (end - start)


def adaptive_avg_pool2d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool2d: averages over windows that tile the input into
    `output_size` (None in a place keeps that size)."""
    _check_images("adaptive_avg_pool2d", input)
    sizes = _pair(output_size, "output_size", "adaptive_avg_pool2d")
    sizes = tuple(n if size is None else size for n, size in zip(input.shape[2:], sizes))
    xp = get_array_module(input.array)
    return _along(input, *(_adaptive_matrix(xp, n, size) for n, size in zip(input.shape[2:], sizes)))
