"""The matrix products of one minigan training step, timed alone: how fast the step could be if
everything but its GEMMs were free.

`step_products(step)` traces one step (`minigan.trace()`) and reads, from each matrix-product op on
the tape (forward calls, and the ops each backward is written with), the shapes of the GEMM that
op runs; `products_seconds(products)` then times those same products with numpy on random arrays
of those shapes, nothing else, as the median of a few repeats of the whole list.

    op                 inputs on the tape                 the GEMM it runs (rows × inner) @ (inner × columns)
    MatMul             a (…, m, k), b (…, k, n)            a @ b
    LinearMap          x (B, in), W (out, in)              x @ Wᵀ
    Conv2d             x (N, C, H, W), W (O, C, kh, kw)    (O, C·kh·kw) @ (C·kh·kw, Ho·Wo·N)
    ConvTranspose2d    x (N, Ci, H, W), W (Ci, Co, kh, kw) (Co·kh·kw, Ci) @ (Ci, H·W·N)
    Conv2dGradWeight   x (N, C, H, W), dy (N, O, Ho, Wo)   (O, Ho·Wo·N) @ (Ho·Wo·N, C·kh·kw)
"""
import time

import numpy

import minigan


def _gemm(entry):
    """The (left, right) operand shapes of the product that the op on tape `entry` runs, or None."""
    inputs, outputs = entry.input_shapes, entry.output_shapes
    if entry.name == "MatMul":
        return tuple(inputs[0]), tuple(inputs[1])
    if entry.name == "LinearMap":
        (batch, features_in), (features_out, _) = inputs
        return (batch, features_in), (features_in, features_out)
    if entry.name == "Conv2d":
        (_, out_channels, out_h, out_w), (_, channels, kernel_h, kernel_w) = outputs[0], inputs[1]
        window = channels * kernel_h * kernel_w
        return (out_channels, window), (window, out_h * out_w * inputs[0][0])
    if entry.name == "ConvTranspose2d":
        (batch, channels_in, height, width), (_, channels_out, kernel_h, kernel_w) = inputs
        return (channels_out * kernel_h * kernel_w, channels_in), (channels_in, height * width * batch)
    if entry.name == "Conv2dGradWeight":
        (out_channels, channels, kernel_h, kernel_w), (batch, _, out_h, out_w) = outputs[0], inputs[1]
        return (out_channels, out_h * out_w * batch), (out_h * out_w * batch, channels * kernel_h * kernel_w)
    return None


def step_products(step):
    """The GEMM operand shapes of one call of `step()`, in the order they ran."""
    with minigan.trace() as tape:
        step()
    ops = [entry for entry in tape if entry.phase == "forward" or (entry.phase == "backward" and entry.depth > 0)]
    return [gemm for gemm in map(_gemm, ops) if gemm is not None]


def products_seconds(products, dtype=numpy.float32, repeats=5):
    """Median seconds numpy takes to run all of `products` once, on random arrays made beforehand."""
    rng = numpy.random.default_rng(0)
    operands = [(rng.standard_normal(left).astype(dtype), rng.standard_normal(right).astype(dtype))
                for left, right in products]
    seconds = []
    for _ in range(repeats + 1):  # the first pass warms the BLAS threads up and is dropped
        started = time.perf_counter()
        for left, right in operands:
            numpy.matmul(left, right)
        seconds.append(time.perf_counter() - started)
    return float(numpy.median(seconds[1:]))
