"""im2col and col2im for 2-D convolution on NCHW images, as kernels; col2im gathers, with no atomics.

A convolution is one GEMM on the columns that im2col gathers:

    columns[c, i, j, h, w, n] = padded[n, c, h·sh + i, w·sw + j]      shape (C, kh, kw, Ho, Wo, N)

(`padded` is the image with `padding` zeros on each side, Ho = (H + 2 ph - kh) / sh + 1 rounded
down.) Seen as a (C·kh·kw, Ho·Wo·N) matrix, it multiplies a (C_out, C·kh·kw) weight from the left,
which is the layout of minigan/ops/conv.py: the batch is the innermost axis, so that the CPU's
array slices run over long contiguous rows. col2im is the adjoint: every pixel of the (N, C, H, W)
image sums the column entries that were read from it. On the GPU each pixel's thread gathers its
own sum, in a fixed order, so the result is deterministic and needs no atomic adds.
"""
from minigan.backend import get_array_module
from minigan.cuda.kernels.core import Kernel

_GEOMETRY = ("long long batch, long long channels, long long height, long long width, "
             "long long kernel_h, long long kernel_w, long long stride_h, long long stride_w, "
             "long long pad_h, long long pad_w, long long out_h, long long out_w")

_IM2COL = Kernel("im2col", r"""
extern "C" __global__ void im2col(const T* __restrict__ images, T* __restrict__ columns, """ + _GEOMETRY + r""") {
    const long long size = channels * kernel_h * kernel_w * batch * out_h * out_w;
    GRID_STRIDE_LOOP(index, size) {
        long long rest = index;                      // index of columns[c, i, j, ho, wo, n]
        const long long n = rest % batch; rest /= batch;
        const long long wo = rest % out_w; rest /= out_w;
        const long long ho = rest % out_h; rest /= out_h;
        const long long j = rest % kernel_w; rest /= kernel_w;
        const long long i = rest % kernel_h;
        const long long c = rest / kernel_h;
        const long long h = ho * stride_h - pad_h + i, w = wo * stride_w - pad_w + j;
        const bool inside = 0 <= h && h < height && 0 <= w && w < width;
        columns[index] = inside ? images[((n * channels + c) * height + h) * width + w] : T(0);
    }
}
""")

_COL2IM = Kernel("col2im", r"""
extern "C" __global__ void col2im(const T* __restrict__ columns, T* __restrict__ images, """ + _GEOMETRY + r""") {
    const long long size = batch * channels * height * width;
    GRID_STRIDE_LOOP(index, size) {
        long long rest = index;                      // index of images[n, c, h, w]
        const long long w = rest % width; rest /= width;
        const long long h = rest % height; rest /= height;
        const long long c = rest % channels;
        const long long n = rest / channels;
        const long long hp = h + pad_h, wp = w + pad_w;   // the pixel in the padded image
        // Kernel row i of window row ho read row hp when hp = ho·sh + i: i ≡ hp (mod sh), i <= hp.
        // Summed in the order (i, j) ascending, as the twin adds them.
        T sum = T(0);
        for (long long i = hp % stride_h; i < kernel_h && i <= hp; i += stride_h) {
            const long long ho = (hp - i) / stride_h;
            if (ho >= out_h) continue;
            for (long long j = wp % stride_w; j < kernel_w && j <= wp; j += stride_w) {
                const long long wo = (wp - j) / stride_w;
                if (wo >= out_w) continue;
                sum += columns[((((c * kernel_h + i) * kernel_w + j) * out_h + ho) * out_w + wo) * batch + n];
            }
        }
        images[index] = sum;
    }
}
""")


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _output_size(op, size, kernel, stride, padding):
    """Window positions along one axis: (size + 2 padding - kernel) // stride + 1, at least 1."""
    if size + 2 * padding < kernel:
        raise ValueError(f"{op}: kernel size {kernel} exceeds the padded input size {size} + 2·{padding}")
    return (size + 2 * padding - kernel) // stride + 1


def window_geometry(op, image_shape, kernel_size, stride, padding):
    """The kernels' geometry arguments, in _GEOMETRY's order, for images of `image_shape`."""
    if len(image_shape) != 4:
        raise ValueError(f"{op}: expected images of shape (N, C, H, W), got shape {tuple(image_shape)}")
    batch, channels, height, width = image_shape
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w) = _pair(kernel_size), _pair(stride), _pair(padding)
    out_h = _output_size(op, height, kernel_h, stride_h, pad_h)
    out_w = _output_size(op, width, kernel_w, stride_w, pad_w)
    return (batch, channels, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w)


def _columns_shape(geometry):
    batch, channels, _, _, kernel_h, kernel_w, _, _, _, _, out_h, out_w = geometry
    return (channels, kernel_h, kernel_w, out_h, out_w, batch)


# --------------------------------------------------------------------------------------------
# im2col
# --------------------------------------------------------------------------------------------
def im2col(images, kernel_size, stride=1, padding=0):
    """Every kernel window of the zero-padded (N, C, H, W) `images`, as a new contiguous
    (C, kh, kw, Ho, Wo, N) array. kernel_size, stride and padding are ints or (h, w) pairs."""
    geometry = window_geometry("im2col", images.shape, kernel_size, stride, padding)
    xp = get_array_module(images)
    images = xp.ascontiguousarray(images)
    columns = xp.empty(_columns_shape(geometry), dtype=images.dtype)
    _IM2COL.launch(images.dtype, (images, columns) + geometry, columns.size)
    return columns


# --------------------------------------------------------------------------------------------
# col2im
# --------------------------------------------------------------------------------------------
def col2im_geometry(columns, image_size, stride, padding):
    """The geometry of images of `image_size` (H, W) whose columns `columns` must be."""
    if columns.ndim != 6 or len(image_size) != 2:
        raise ValueError(f"col2im: expected columns of shape (C, kh, kw, Ho, Wo, N) and an image size (H, W), "
                         f"got columns of shape {tuple(columns.shape)} and image size {tuple(image_size)}")
    channels, kernel_h, kernel_w = columns.shape[:3]
    batch = columns.shape[5]
    geometry = window_geometry("col2im", (batch, channels) + tuple(image_size), (kernel_h, kernel_w), stride, padding)
    if tuple(columns.shape) != _columns_shape(geometry):
        raise ValueError(f"col2im: columns of shape {tuple(columns.shape)} do not come from images of size "
                         f"{tuple(image_size)} with stride {stride} and padding {padding}: expected shape "
                         f"{_columns_shape(geometry)}")
    return geometry


def col2im(columns, image_size, stride=1, padding=0):
    """The adjoint of im2col: (C, kh, kw, Ho, Wo, N) columns summed back into a new (N, C, H, W)
    array, `image_size` = (H, W). Several sizes give the same Ho when the stride exceeds 1
    (a transposed convolution's output_padding picks one), so the size is given, not inferred."""
    geometry = col2im_geometry(columns, image_size, stride, padding)
    xp = get_array_module(columns)
    columns = xp.ascontiguousarray(columns)
    images = xp.empty(geometry[:4], dtype=columns.dtype)
    _COL2IM.launch(columns.dtype, (columns, images) + geometry, images.size)
    return images
