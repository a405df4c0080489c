"""Conv2d and ConvTranspose2d forward + backward at DCGAN's layer sizes, minigan against torch CPU.

    python benchmarks/conv.py [--threads 2] [--repeats 7] [--batch 64]

Float32, batch 64, the 64x64 DCGAN: the discriminator's k4 s2 p1 convolutions and the generator's
mirrored transposed convolutions (its first layer maps the 100-d noise, 1x1, to 4x4 with k4 s1 p0).
Each step computes the layer, then the gradients of its input and weight for a fixed random
incoming gradient (the input needs one too: in a GAN the generator learns through it). numpy's
BLAS and torch get the same thread count; times are medians over alternating runs, after a
warm-up. Target (issue 3): minigan within 1.5x of torch.
"""
import argparse
import os
import sys

import numpy
import torch

sys.path.insert(0, os.path.dirname(__file__))
import minigan  # noqa: E402
from minigan.ops.conv import conv2d, conv_transpose2d  # noqa: E402
from timing import compare, limit_threads, print_table  # noqa: E402

# (in channels, out channels, input height = width, kernel, stride, padding)
DISCRIMINATOR = [(3, 64, 64, 4, 2, 1), (64, 128, 32, 4, 2, 1), (128, 256, 16, 4, 2, 1), (256, 512, 8, 4, 2, 1)]
GENERATOR = [(100, 512, 1, 4, 1, 0), (512, 256, 4, 4, 2, 1), (256, 128, 8, 4, 2, 1), (128, 64, 16, 4, 2, 1),
             (64, 3, 32, 4, 2, 1)]


def layer_step(library, conv, images, weight, grad_output, stride, padding):
    """One forward + backward of `conv` in `library` (minigan or torch), on copies of the arrays."""
    x = library.tensor(images, requires_grad=True)
    w = library.tensor(weight, requires_grad=True)
    v = library.tensor(grad_output)

    def step():
        x.grad = w.grad = None
        conv(x, w, stride=stride, padding=padding).backward(v)
    return step


def benchmark_layer(transposed, in_channels, out_channels, size, kernel, stride, padding, batch, repeats):
    rng = numpy.random.default_rng(0)
    channels = (in_channels, out_channels) if transposed else (out_channels, in_channels)
    if transposed:
        out_size = (size - 1) * stride - 2 * padding + kernel
    else:
        out_size = (size + 2 * padding - kernel) // stride + 1
    images = rng.standard_normal((batch, in_channels, size, size)).astype(numpy.float32)
    weight = (0.02 * rng.standard_normal(channels + (kernel, kernel))).astype(numpy.float32)
    grad_output = rng.standard_normal((batch, out_channels, out_size, out_size)).astype(numpy.float32)
    ours = conv_transpose2d if transposed else conv2d
    theirs = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
    seconds = compare(layer_step(minigan, ours, images, weight, grad_output, stride, padding),
                      layer_step(torch, theirs, images, weight, grad_output, stride, padding),
                      repeats=repeats, warmup=2, pause=0.25)  # let idle BLAS threads settle
    name = (f"{'ConvTranspose2d' if transposed else 'Conv2d'} {in_channels}->{out_channels} "
            f"{size}x{size} k{kernel} s{stride} p{padding}")
    return (name,) + seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    limit_threads(args.threads)
    rows = [benchmark_layer(False, *layer, args.batch, args.repeats) for layer in DISCRIMINATOR]
    rows += [benchmark_layer(True, *layer, args.batch, args.repeats) for layer in GENERATOR]
    print_table(f"conv forward + backward, float32, batch {args.batch}, {args.threads} threads", rows)
    total_ours, total_theirs = sum(row[1] for row in rows), sum(row[2] for row in rows)
    print_table("", [("all layers", total_ours, total_theirs)])


if __name__ == "__main__":
    main()
