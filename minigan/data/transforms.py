"""What happens to a loaded data set on its way to a model: scaling, resizing, shuffled mini-batches.

All of it works on whole numpy arrays at once (host data; the examples turn batches into tensors):
  - `scale_images`: uint8 pixels 0..255 -> float32 in [-1, 1] (or [0, 1]), computed exactly as
    torchvision's ToTensor() then Normalize(0.5, 0.5) compute it, so the floats are bit-identical;
  - `resize_images`: bilinear resizing of a whole batch (e.g. MNIST 28×28 -> 32×32 or 64×64) as two
    small interpolation matrices applied with matmul: out = R_rows @ image @ R_columnsᵀ;
  - `batches`: a fresh permutation each epoch from a seeded numpy Generator, cut into index arrays.

Resizing convention: bilinear with half-pixel centres and clamped edges, i.e.
`torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)`, which is
also what torchvision's `transforms.Resize` does to tensors when upsampling (antialiasing only acts
when shrinking). For upsampling, PIL's `Image.resize(..., BILINEAR)` (what Resize does to PIL
images, as in the DCGAN source) uses the same weights but rounds to uint8 after each of its two
passes: `dtype=numpy.uint8` rounds once at the end, so it agrees with PIL to one grey level.
"""
import numpy

RESIZE_BLOCK = 1024  # images per matmul, so float intermediates stay small for 60,000-image sets


def scale_images(images, value_range=(-1.0, 1.0), dtype=numpy.float32):
    """Pixels 0..255 -> floats spanning `value_range` ((-1, 1) or (0, 1) as the GAN sources use).

    Computed as (pixels / 255 - mean) / std with mean = -low / (high - low), std = 1 / (high - low):
    torchvision's ToTensor then Normalize, in the same order and precision.
    """
    low, high = value_range
    if not high > low:
        raise ValueError(f"scale_images: value_range must be (low, high) with low < high, got {value_range}")
    dtype = numpy.dtype(dtype)
    mean, std = dtype.type(-low / (high - low)), dtype.type(1.0 / (high - low))
    unit = numpy.asarray(images).astype(dtype) / dtype.type(255)
    return (unit - mean) / std


def resize_images(images, size, dtype=None):
    """Bilinearly resize a batch (N, H, W) or (N, C, H, W) to `size` (an int, or (height, width)).

    Works in float64 for float64 input, else float32. The result has `dtype` (default: the working
    float type); an integer dtype rounds to nearest and clips to its range, as PIL does for uint8.
    """
    images = numpy.asarray(images)
    if images.ndim not in (3, 4) or images.shape[0] == 0:
        raise ValueError("resize_images: expected a non-empty batch (N, H, W) or (N, C, H, W), "
                         f"got shape {images.shape}")
    height, width = (size, size) if numpy.isscalar(size) else tuple(size)
    if not all(isinstance(n, (int, numpy.integer)) and n > 0 for n in (height, width)):
        raise ValueError(f"resize_images: size must be a positive int or (height, width), got {size!r}")
    work = numpy.dtype(numpy.float64 if images.dtype == numpy.float64 else numpy.float32)
    dtype = work if dtype is None else numpy.dtype(dtype)
    rows = interpolation_matrix(images.shape[-2], height).astype(work)
    columns_t = interpolation_matrix(images.shape[-1], width).T.astype(work)
    resized = numpy.empty(images.shape[:-2] + (height, width), dtype=dtype)
    for start in range(0, len(images), RESIZE_BLOCK):
        block = rows @ images[start:start + RESIZE_BLOCK].astype(work) @ columns_t
        resized[start:start + RESIZE_BLOCK] = _cast(block, dtype)
    return resized


def interpolation_matrix(in_size, out_size):
    """The (out_size, in_size) float64 matrix of 1-D linear interpolation, half-pixel centres, clamped edges.

    Output pixel i samples the input at s = (i + 0.5) · in_size / out_size - 0.5, clamped to
    [0, in_size - 1]; it takes (1 - t) of pixel floor(s) and t of the next one, t = s - floor(s).
    Each row sums to 1, so a constant image stays constant.
    """
    source = numpy.clip((numpy.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0, in_size - 1)
    left = numpy.floor(source).astype(numpy.int64)
    right = numpy.minimum(left + 1, in_size - 1)
    fraction = source - left
    matrix = numpy.zeros((out_size, in_size))
    numpy.add.at(matrix, (numpy.arange(out_size), left), 1 - fraction)
    numpy.add.at(matrix, (numpy.arange(out_size), right), fraction)
    return matrix


def _cast(values, dtype):
    """Floats to `dtype`; for an integer dtype, round to nearest and clip to its range first."""
    if numpy.issubdtype(dtype, numpy.integer):
        limits = numpy.iinfo(dtype)
        values = numpy.clip(numpy.rint(values), limits.min, limits.max)
    return values.astype(dtype)


def num_batches(n, batch_size, drop_last=True):
    """How many batches `batches` yields per epoch."""
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(n, batch_size, rng, drop_last=True):
    """Yield one epoch of shuffled index arrays into a data set of `n` examples.

    `rng` is a numpy Generator (numpy.random.default_rng(seed)); each call draws one permutation
    from it, so consecutive epochs differ and a seeded run repeats exactly. With `drop_last` the
    final short batch is skipped, so every batch has exactly `batch_size` indices.
    """
    if not isinstance(rng, numpy.random.Generator):
        raise TypeError(f"batches: rng must be a numpy.random.Generator "
                        f"(numpy.random.default_rng(seed)), got {type(rng).__name__}")
    if not isinstance(batch_size, (int, numpy.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(n, (int, numpy.integer)) or n < 0:
        raise ValueError(f"batches: n must be a non-negative int, got {n!r}")
    if drop_last and n < batch_size:
        raise ValueError(f"batches: batch_size {batch_size} is larger than the data set ({n} examples), "
                         "so drop_last=True would give no batch at all: use a smaller batch size")
    return _epoch(rng.permutation(n), batch_size, num_batches(n, batch_size, drop_last))


def _epoch(order, batch_size, count):
    for start in range(0, count * batch_size, batch_size):
        yield order[start:start + batch_size]
