"""torch.nn.functional's names for minigan's ops: activations, padding (layers and losses join here)."""
from minigan.ops.activation import leaky_relu, logsigmoid, relu, sigmoid, softplus, tanh
from minigan.ops.shape import pad

__all__ = ["leaky_relu", "logsigmoid", "pad", "relu", "sigmoid", "softplus", "tanh"]
