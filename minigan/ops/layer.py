"""The ops behind three layers: linear, dropout and embedding."""
from minigan import backend, random
from minigan.backend import get_array_module
from minigan.errors import DTypeError, ShapeError
from minigan.ops.activation import BiasActivation
from minigan.ops.math import matmul, where
from minigan.ops.shape import getitem
from minigan.tensor import Function, Tensor, other_factors


class LinearMap(Function):
    """x Wᵀ for W of shape (out_features, in_features). As torch's linear, it makes W's gradient
    as gᵀ x, in W's own layout: the gradient of a transposed view would need a copy to store."""

    def forward(self, x, weight):
        return get_array_module(x).matmul(x, weight.T)

    def saved_positions(self):
        return other_factors(self.needs_input_grad)

    def backward(self, grad_output):
        x, weight = self.inputs
        need_x, need_weight = self.needs_input_grad
        return (matmul(grad_output, weight) if need_x else None,
                matmul(grad_output.mT, x) if need_weight else None)


def linear(input, weight, bias=None):
    """torch.nn.functional.linear: y = x Wᵀ + b, W of shape (out_features, in_features) as torch
    lays it out, over any leading dims."""
    if input.dtype != weight.dtype:
        raise DTypeError(f"linear: input has dtype {input.dtype} but weight has dtype {weight.dtype}; "
                         "convert one of them, e.g. model.double() or x.float()")
    if input.ndim != 2:
        # one matrix product over all leading dims: its weight gradient is then a single GEMM
        leading = input.shape[:-1]
        return linear(input.reshape(-1, input.shape[-1]), weight, bias).reshape(*leading, weight.shape[0])
    output = LinearMap()(input, weight)
    return output if bias is None else output + bias


def linear_activation(input, weight, bias, activation):
    """activation(x Wᵀ + b) with the bias added in the activation's kernel (BiasActivation): a
    fused Linear layer (nn.utils.fuse) costs one GEMM and one kernel. `activation` is an
    Activation Function, e.g. ReLU() or LeakyReLU(0.2)."""
    if input.ndim != 2:
        leading = input.shape[:-1]
        output = linear_activation(input.reshape(-1, input.shape[-1]), weight, bias, activation)
        return output.reshape(*leading, weight.shape[0])
    output = linear(input, weight)
    return activation(output) if bias is None else BiasActivation(activation)(output, bias)


def _dropped(op, input, p, training, inplace, mask_shape):
    """Inverted dropout with a mask of `mask_shape` (broadcast over the input): each mask entry
    zeroes its elements with probability p, and the rest are scaled by 1 / (1 - p), so that the
    expected value is unchanged and evaluation needs no rescaling. `inplace` is refused: the mask
    multiplies a copy."""
    if inplace:
        raise NotImplementedError(f"{op}: inplace=True is not supported; use inplace=False (the same values)")
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: probability p must be between 0 and 1, got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    keep = random.generator(input.device).random(mask_shape) >= p
    # the mask is a constant of the graph: dropout's derivative is the same mask
    return input * Tensor(keep.astype(input.dtype) / (1 - p))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p."""
    return _dropped("dropout", input, p, training, inplace, input.shape)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero each whole channel (N, C, H, W) -> one draw per (n, c), with probability p."""
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    return _dropped("dropout2d", input, p, training, inplace, input.shape[:-2] + (1, 1))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` picked by the integer tensor `input`; output shape input.shape + (dim,).

    The gradient of a row sums over every place it was picked; the row `padding_idx` gets none.
    max_norm, scale_grad_by_freq and sparse gradients are not supported (refused).
    """
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    indices = input.array if isinstance(input, Tensor) else backend.as_array(input, device=weight.device)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got dtype {indices.dtype}")
    rows = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        raise IndexError(f"embedding: indices must lie in [0, {rows}) for a table of {rows} rows, "
                         f"got values from {int(indices.min())} to {int(indices.max())}")
    picked = getitem(weight, indices)
    if padding_idx is None:
        return picked
    # same values; the gradient reaches only the rows that are not padding
    is_padding = (indices == padding_idx % rows)[..., None]
    return where(is_padding, picked.detach(), picked)
