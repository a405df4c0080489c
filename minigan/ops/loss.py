"""Losses: binary cross-entropy on probabilities and on logits, cross-entropy over classes and
mean squared error, as torch.

Each loss is computed per element, multiplied by the optional `weight`, then reduced ('mean',
'sum' or 'none'). The two cross-entropies are Functions whose backward formulas are torch's own,
so first *and* second derivatives agree with torch to the last bits, including torch's clamps.
"""
from minigan.backend import get_array_module, is_device_array
from minigan.cuda.kernels import bce, bce_with_logits
from minigan.errors import ShapeError, ValueRangeError
from minigan.ops.activation import log_softmax, logsigmoid, sigmoid
from minigan.ops.broadcast import broadcast_to, sum_to
from minigan.ops.math import clamp, log
from minigan.tensor import Function, Tensor, is_grad_enabled

# torch keeps BCE's derivatives finite at p = 0 and 1 with a small epsilon: its first derivative
# clamps p (1 - p) at the C float 1e-12 (in the kernel), its second derivatives use the double 1e-12.
_SECOND_ORDER_EPS = 1e-12


# --------------------------------------------------------------------------------------------
# What both cross-entropies share: one kernel for the loss and its gradient, the reduction inside
# --------------------------------------------------------------------------------------------
class KernelLoss(Function):
    """A loss whose kernel (minigan/cuda/kernels/loss.py) computes each element's loss and its
    derivative d loss / d input in one pass; the reduction ('mean', 'sum', 'none') is part of the
    Function, so a training step's loss costs that kernel and one sum.

    The derivative saved by the forward is a constant to the graph, so `backward` uses it only when
    nothing records the backward; with create_graph (a gradient penalty) and for the gradients of
    the other inputs, `differentiable_backward` builds them from Tensor ops.
    """

    def __init__(self, reduction):
        self.reduction = reduction

    def reduce(self, loss, input_grad):
        self.input_grad = input_grad
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()

    def grad_divisor(self, input):
        """torch divides the gradient of a mean by the element count, after everything else."""
        return input.size if self.reduction == "mean" else 1

    def backward(self, grad_output):
        if is_grad_enabled() or any(self.needs_input_grad[1:]):
            if self.reduction == "mean":
                grad_output = grad_output / self.inputs[0].array.size
            return self.differentiable_backward(broadcast_to(grad_output, self.inputs[0].shape))
        return (grad_output * Tensor(self.input_grad),) + (None,) * (len(self.inputs) - 1)

    def differentiable_backward(self, grad_output):
        """The gradients of all inputs from the unreduced loss's `grad_output`, as Tensor ops."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Binary cross-entropy on probabilities p, targets y:  -[y log p + (1 - y) log(1 - p)]
# --------------------------------------------------------------------------------------------
class BinaryCrossEntropy(KernelLoss):
    """Each log is clamped at -100, as torch does, so p = 0 or 1 stays finite."""

    def forward(self, p, y):
        return self.reduce(*bce(p, y, grad_divisor=self.grad_divisor(p)))

    def differentiable_backward(self, grad_output):
        p, y = self.inputs
        need_p, need_y = self.needs_input_grad
        grad_p = BinaryCrossEntropyGrad()(grad_output, p, y) if need_p else None
        # d/dy = log(1 - p) - log(p) = -logit(p), unclamped, as torch
        grad_y = -grad_output * log(p / (1 - p)) if need_y else None
        return grad_p, grad_y


class BinaryCrossEntropyGrad(Function):
    """d BCE / dp = g (p - y) / max(p (1 - p), eps): torch's first derivative, finite at p = 0 and 1.
    Its backward gives torch's second derivatives (which add eps to p and 1 - p instead of
    clamping), so a gradient penalty through BCE matches torch."""

    def forward(self, grad_output, p, y):
        return bce(p, y, grad_output)[1]

    def backward(self, grad_grad):
        grad_output, p, y = self.inputs
        need_grad_output, need_p, need_y = self.needs_input_grad
        p_eps, one_minus_p_eps = p + _SECOND_ORDER_EPS, 1 - p + _SECOND_ORDER_EPS
        grad_grad_output = (p - y) / (p_eps * one_minus_p_eps) * grad_grad if need_grad_output else None
        # d/dp (p - y) / (p (1 - p)) = (p² - 2 p y + y) / (p (1 - p))²
        grad_p = ((p * p - 2 * p * y + y) / (p_eps * p_eps * (one_minus_p_eps * one_minus_p_eps))
                  * (grad_grad * grad_output)) if need_p else None
        # d/dy (p - y) / (p (1 - p)) = -1 / (p (1 - p))
        grad_y = -grad_grad * grad_output / clamp((1 - p) * p, min=_SECOND_ORDER_EPS) if need_y else None
        return grad_grad_output, grad_p, grad_y


# --------------------------------------------------------------------------------------------
# Binary cross-entropy on logits x:  -[pos_weight y log σ(x) + (1 - y) log(1 - σ(x))]
# --------------------------------------------------------------------------------------------
class BinaryCrossEntropyWithLogits(KernelLoss):
    """(1 - y) x - (1 + (pos_weight - 1) y) log σ(x), which is the cross-entropy above rewritten
    with log(1 - σ(x)) = log σ(x) - x: finite for any x. Inputs are (x, y) or (x, y, pos_weight)."""

    def forward(self, x, y, pos_weight=None):
        return self.reduce(*bce_with_logits(x, y, pos_weight, grad_divisor=self.grad_divisor(x)))

    def differentiable_backward(self, grad_output):
        x, y = self.inputs[:2]
        need_x, need_y = self.needs_input_grad[:2]
        if len(self.inputs) == 2:
            # d/dx = σ(x) - y;  d/dy = -x
            return (grad_output * (sigmoid(x) - y) if need_x else None,
                    -x * grad_output if need_y else None)
        pos_weight = self.inputs[2]
        weighted_target = pos_weight * y
        # d/dx = (pos_weight y + 1 - y) σ(x) - pos_weight y
        grad_x = grad_output * ((weighted_target + 1 - y) * sigmoid(x) - weighted_target) if need_x else None
        # d/dy = log σ(-x) - pos_weight log σ(x)
        grad_y = grad_output * (logsigmoid(-x) - pos_weight * logsigmoid(x)) if need_y else None
        # d/d pos_weight = -y log σ(x), summed over the dims along which pos_weight was broadcast
        grad_pos_weight = (sum_to(-grad_output * y * logsigmoid(x), pos_weight.shape)
                           if self.needs_input_grad[2] else None)
        return grad_x, grad_y, grad_pos_weight


# --------------------------------------------------------------------------------------------
# Checks, weighting and reduction, shared by the losses
# --------------------------------------------------------------------------------------------
_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_same_shape(op, input, target):
    if input.shape != target.shape:
        raise ShapeError(
            f"{op}: target shape {tuple(target.shape)} differs from input shape {tuple(input.shape)}; "
            "they must be equal (reshape one of them)")


def _check_broadcasts_to(op, name, tensor, shape):
    """`tensor` (weight, pos_weight) must broadcast to the input's shape without enlarging it."""
    if tensor is None:
        return
    try:
        fits = get_array_module(tensor.array).broadcast_shapes(tensor.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{op}: {name} of shape {tuple(tensor.shape)} does not broadcast to the "
                         f"input shape {tuple(shape)}")


def _check_probabilities(op, name, tensor, hint=""):
    """BCE's log p and log(1 - p) only mean something for 0 <= p <= 1. Checked on the host only:
    on a GPU, reading the answer back would stall every training step until the GPU catches up."""
    data = tensor.array
    xp = get_array_module(data)
    if is_device_array(data) or bool(((data >= 0) & (data <= 1)).all()):
        return
    found = "NaN" if bool(xp.isnan(data).any()) else f"values in [{float(data.min()):g}, {float(data.max()):g}]"
    raise ValueRangeError(f"{op}: every element of {name} must lie in [0, 1], but {name} holds {found}{hint}")


def _weighted_and_reduced(loss, weight, reduction):
    if weight is not None:
        loss = loss * weight
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _kernel_loss(function, inputs, weight, reduction):
    """The loss `function` of `inputs`, reduced inside its kernel Function when nothing weights it."""
    if weight is None:
        return function(reduction)(*inputs)
    return _weighted_and_reduced(function("none")(*inputs), weight, reduction)


def _check_loss_arguments(op, input, target, reduction, weight):
    _check_reduction(op, reduction)
    _check_same_shape(op, input, target)
    _check_broadcasts_to(op, "weight", weight, input.shape)


# --------------------------------------------------------------------------------------------
# The losses
# --------------------------------------------------------------------------------------------
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """torch.nn.functional.binary_cross_entropy: `input` holds probabilities in [0, 1].

    Each log is clamped at -100, as torch does, so p = 0 or 1 gives a finite loss; p itself is
    not clipped. Values outside [0, 1] (in input or target) raise a ValueError.
    """
    op = "binary_cross_entropy"
    _check_loss_arguments(op, input, target, reduction, weight)
    _check_probabilities(op, "input", input,
                         hint="; pass probabilities (e.g. a sigmoid's output), or pass logits to "
                              "binary_cross_entropy_with_logits")
    _check_probabilities(op, "target", target)
    return _kernel_loss(BinaryCrossEntropy, (input, target), weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits: BCE of sigmoid(input), computed from
    the logits directly so it stays finite for logits of any size. `pos_weight` multiplies the
    loss of the positive class and broadcasts against the input (one value per class)."""
    op = "binary_cross_entropy_with_logits"
    _check_loss_arguments(op, input, target, reduction, weight)
    _check_broadcasts_to(op, "pos_weight", pos_weight, input.shape)
    inputs = (input, target) if pos_weight is None else (input, target, pos_weight)
    return _kernel_loss(BinaryCrossEntropyWithLogits, inputs, weight, reduction)


def mse_loss(input, target, reduction="mean"):
    """torch.nn.functional.mse_loss: (input - target)² per element, reduced.

    Unlike torch, which only warns and then broadcasts when the shapes differ (almost always a
    bug, e.g. (N, 1) against (N,) giving an (N, N) loss), a shape mismatch raises a ValueError.
    """
    op = "mse_loss"
    _check_loss_arguments(op, input, target, reduction, None)
    difference = input - target
    return _weighted_and_reduced(difference * difference, None, reduction)


def cross_entropy(input, target, reduction="mean"):
    """torch.nn.functional.cross_entropy with class indices: -log softmax(input)[n, target[n]].

    `input` holds logits of shape (N, C); `target` integer class indices of shape (N,), each in
    [0, C) (checked on the host; on a GPU reading them back would stall the step).
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if input.ndim != 2 or target.shape != input.shape[:1]:
        raise ShapeError(f"{op}: expected logits of shape (N, C) and class indices of shape (N,), got "
                         f"shapes {tuple(input.shape)} and {tuple(target.shape)}")
    indices = target.array
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {indices.dtype}")
    classes = input.shape[1]
    if not is_device_array(indices) and indices.size and not (0 <= indices.min() and indices.max() < classes):
        raise IndexError(f"{op}: class indices must lie in [0, {classes}), got values from {int(indices.min())} "
                         f"to {int(indices.max())}")
    rows = get_array_module(indices).arange(input.shape[0])
    return _weighted_and_reduced(-log_softmax(input, 1)[rows, indices], None, reduction)
