"""torch.nn.functional's names for minigan's ops: layers, activations, normalisation and losses."""
from minigan.ops import activation
from minigan.ops import inplace as inplace_ops
from minigan.ops.activation import elu, gelu, hardtanh, log_softmax, logsigmoid, sigmoid, silu, softmax, softplus, tanh
from minigan.ops.conv import conv2d, conv_transpose2d
from minigan.ops.image import adaptive_avg_pool2d, avg_pool2d, interpolate, max_pool2d
from minigan.ops.layer import dropout, dropout2d, embedding, linear
from minigan.ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
                              nll_loss, one_hot)
from minigan.ops.norm import batch_norm, group_norm, instance_norm, layer_norm
from minigan.ops.reduce import normalize
from minigan.ops.shape import pad


def relu(input, inplace=False):
    return inplace_ops.activation_(input, "relu_", activation.ReLU()) if inplace else activation.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return inplace_ops.leaky_relu_(input, negative_slope)
    return activation.leaky_relu(input, negative_slope)


__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "conv2d", "conv_transpose2d", "cross_entropy", "dropout", "dropout2d", "elu", "embedding", "gelu",
           "group_norm", "hardtanh", "instance_norm", "interpolate", "l1_loss", "layer_norm", "leaky_relu", "linear",
           "log_softmax", "logsigmoid", "max_pool2d", "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "relu",
           "sigmoid", "silu", "softmax", "softplus", "tanh"]
