"""Benchmark: one Adam step over GAN-sized float32 parameters, minigan against torch.optim.Adam.

Both run in this process on the same parameters and gradients, with the same thread count
(numpy's element-wise ops use one thread, so torch is set to one too unless --threads says
otherwise). Warm-up steps are excluded; the steps take turns and the median of each is reported, with the
ratio minigan / torch (below 1 means minigan is faster). torch's default implementation is the
reference (on CPU it is the per-tensor one); its fused CPU kernel is printed for information.

    python benchmarks/adam.py [--repeats 30] [--threads 1]
"""
import argparse
import os
import sys

import numpy
import torch

sys.path.insert(0, os.path.dirname(__file__))
import minigan  # noqa: E402
from minigan import optim  # noqa: E402
from timing import compare, limit_threads  # noqa: E402

# Parameter shapes, as torch lays them out (Linear weight (out, in), conv weight (out, in, kh, kw),
# ConvTranspose2d weight (in, out, kh, kw)).
MLP_GAN = [  # the seeds' MNIST MLP GAN: G 96-1024-1024-784, D 784-256-256-1: 2.2 M parameters
    (1024, 96), (1024,), (1024, 1024), (1024,), (784, 1024), (784,),
    (256, 784), (256,), (256, 256), (256,), (1, 256), (1,)]
DCGAN_GENERATOR = [  # the 64×64 DCGAN generator (nz=100, ngf=64) with BatchNorm: 3.6 M parameters
    (100, 512, 4, 4), (512,), (512,), (512, 256, 4, 4), (256,), (256,),
    (256, 128, 4, 4), (128,), (128,), (128, 64, 4, 4), (64,), (64,), (64, 3, 4, 4)]


def benchmark(name, shapes, repeats, options):
    rng = numpy.random.default_rng(0)
    values = [rng.standard_normal(shape).astype(numpy.float32) for shape in shapes]
    grads = [rng.standard_normal(shape).astype(numpy.float32) for shape in shapes]
    ours = [minigan.tensor(value, requires_grad=True) for value in values]
    theirs = [torch.tensor(value, requires_grad=True) for value in values]
    for param, grad in zip(ours, grads):
        param.grad = minigan.tensor(grad)
    for param, grad in zip(theirs, grads):
        param.grad = torch.tensor(grad)
    count = sum(value.size for value in values)

    theirs_fused = [torch.tensor(value, requires_grad=True) for value in values]
    for param, grad in zip(theirs_fused, grads):
        param.grad = torch.tensor(grad)
    our_time, torch_time, fused_time = compare(
        optim.Adam(ours, **options).step, torch.optim.Adam(theirs, **options).step,
        torch.optim.Adam(theirs_fused, fused=True, **options).step, repeats=repeats, warmup=5)
    print(f"{name:<18} {count / 1e6:5.2f} M  minigan {our_time * 1e3:7.2f} ms   torch {torch_time * 1e3:7.2f} ms"
          f"   ratio {our_time / torch_time:5.2f}x   (torch fused {fused_time * 1e3:6.2f} ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--threads", type=int, default=1, help="threads for torch (and numpy's BLAS)")
    args = parser.parse_args()
    limit_threads(args.threads)
    print(f"Adam step, float32, torch {torch.__version__} with {torch.get_num_threads()} thread(s), "
          f"numpy {numpy.__version__}, median of {args.repeats}")
    for options in ({}, {"weight_decay": 1e-4, "amsgrad": True}):
        print(f"options: {options or 'defaults'}")
        for name, shapes in (("MLP GAN (G + D)", MLP_GAN), ("DCGAN generator", DCGAN_GENERATOR)):
            benchmark(name, shapes, args.repeats, options)


if __name__ == "__main__":
    main()
