"""minigan's custom CUDA kernels, each with a plain-array twin that runs wherever CuPy does not.

    bias_activation, activation_grad   activation.py   bias + activation after a GEMM; its backward
    bce_with_logits, bce               loss.py         binary cross-entropy: loss and gradient at once
    im2col, col2im                     conv.py         convolution as a GEMM; col2im as a gather
    norm_statistics, normalize         norm.py         BatchNorm / InstanceNorm
    adam_step                          adam.py         Adam over a flat buffer, in place

Each function runs its compiled kernel on CuPy arrays and its twin on numpy or stand-in arrays
(core.py says how). `KERNELS` lists every kernel, for the test that compiles each with NVRTC.
"""
from minigan.cuda.kernels.activation import ACTIVATIONS, activation_grad, bias_activation
from minigan.cuda.kernels.adam import adam_step
from minigan.cuda.kernels.conv import col2im, im2col
from minigan.cuda.kernels.core import BLOCK, COMPILE_OPTIONS, KERNELS, Kernel, KernelFunction
from minigan.cuda.kernels.loss import bce, bce_with_logits
from minigan.cuda.kernels.norm import norm_statistics, normalize

__all__ = ["ACTIVATIONS", "BLOCK", "COMPILE_OPTIONS", "KERNELS", "Kernel", "KernelFunction", "activation_grad",
           "adam_step", "bce", "bce_with_logits", "bias_activation", "col2im", "im2col", "norm_statistics",
           "normalize"]
