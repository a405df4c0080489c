"""minigan's custom CUDA kernels: their sources and launchers. Each is the GPU version of what an
op computes with array calls on the CPU, and the op keeps that plain code beside it:

    bias_activation, activation_grad   activation.py   ops/activation.py: ReLU, ..., TanhGrad, BiasActivation
    bce_with_logits, bce               loss.py         ops/loss.py: the loss and its gradient at once
    im2col, col2im                     conv.py         ops/conv.py: convolution as a GEMM; col2im as a gather
    norm_statistics, normalize         norm.py         ops/norm.py: BatchNorm / InstanceNorm
    adam_step                          adam.py         optim/adam.py: Adam over a flat buffer, in place
    philox_uniform, philox_normal      random.py       random.py: rand and randn's Philox draws

`run(launcher, plain, *arrays)` (core.py) runs the kernel on CuPy arrays and the plain code on any
other. `KERNELS` lists every kernel, for the test that compiles each with NVRTC.
"""
from minigan.cuda.kernels.activation import ACTIVATIONS, activation_grad, bias_activation
from minigan.cuda.kernels.adam import adam_step
from minigan.cuda.kernels.conv import col2im, im2col
from minigan.cuda.kernels.core import BLOCK, COMPILE_OPTIONS, KERNELS, Kernel, run
from minigan.cuda.kernels.loss import bce, bce_with_logits
from minigan.cuda.kernels.norm import norm_statistics, normalize
from minigan.cuda.kernels.random import philox_normal, philox_uniform

__all__ = ["ACTIVATIONS", "BLOCK", "COMPILE_OPTIONS", "KERNELS", "Kernel", "activation_grad", "adam_step", "bce",
           "bce_with_logits", "bias_activation", "col2im", "im2col", "norm_statistics", "normalize", "philox_normal",
           "philox_uniform", "run"]
