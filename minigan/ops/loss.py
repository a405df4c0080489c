"""Losses: binary cross-entropy on probabilities and on logits, cross-entropy and negative log
likelihood over classes, mean squared and absolute error, as torch; and one_hot.

Each loss is computed per element, multiplied by the optional `weight`, then reduced ('mean',
'sum' or 'none'). The two cross-entropies are Functions whose derivative formulas are torch's own,
so first *and* second derivatives agree with torch to the last bits, including torch's clamps;
their first derivative is computed with the loss, in one pass (one kernel on a GPU), and handed
to the forward of their `...Grad` Function.
"""
import contextlib

import numpy

from minigan.backend import get_array_module, is_device_array
from minigan.cuda import kernels
from minigan.errors import ShapeError, ValueRangeError
from minigan.ops.activation import log_softmax, logsigmoid, select, sigmoid
from minigan.ops.broadcast import broadcast_to
from minigan.ops.math import clamp, log, where
from minigan.tensor import Function, Tensor

# torch keeps BCE's derivatives finite at p = 0 and 1 with a small epsilon: its first derivative
# clamps p (1 - p) at the C float 1e-12 (this number, as a double), its second derivatives use
# the double 1e-12.
_EPSILON = 9.999999960041972e-13
_SECOND_ORDER_EPS = 1e-12


# --------------------------------------------------------------------------------------------
# What both cross-entropies share: the loss and its derivative in one pass, the reduction inside
# --------------------------------------------------------------------------------------------
class ElementwiseLoss(Function):
    """A loss whose forward computes each element's loss and its derivative d loss / d input in
    one pass over the arrays (one kernel on a GPU) and reduces the loss ('mean', 'sum', 'none'),
    so a training step's loss costs that pass and one sum.

    The derivative is handed as a value to the forward of the loss's `...Grad` Function, which
    multiplies it by the incoming gradient; that Function's backward is Tensor ops, so second
    derivatives (a gradient penalty through the loss) are exact.
    """

    def __init__(self, reduction):
        self.reduction = reduction

    def reduce(self, loss, derivative):
        self.derivative = derivative
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()

    def divisor(self):
        """torch divides the gradient of a mean by the element count, after everything else."""
        return self.inputs[0].array.size if self.reduction == "mean" else 1

    def forward_divisor(self, input):
        return input.size if self.reduction == "mean" else 1

    def release(self):
        super().release()
        self.derivative = None


# --------------------------------------------------------------------------------------------
# Binary cross-entropy on probabilities p, targets y:  -[y log p + (1 - y) log(1 - p)]
# --------------------------------------------------------------------------------------------
class BinaryCrossEntropy(ElementwiseLoss):
    """Each log is clamped at -100, as torch does, so p = 0 or 1 stays finite."""

    def forward(self, p, y):
        return self.reduce(*bce_arrays(p, y, None, self.forward_divisor(p)))

    def backward(self, grad_output):
        p, y = self.inputs
        need_p, need_y = self.needs_input_grad
        grad_output = broadcast_to(grad_output, p.shape)
        grad_p = BinaryCrossEntropyGrad(self.divisor(), self.derivative)(grad_output, p, y) if need_p else None
        # d/dy = log(1 - p) - log(p) = -logit(p), unclamped, as torch
        grad_y = -(grad_output / self.divisor()) * log(p / (1 - p)) if need_y else None
        return grad_p, grad_y


class BinaryCrossEntropyGrad(Function):
    """d BCE / dp = g (p - y) / max(p (1 - p), eps) / n: torch's first derivative, finite at p = 0
    and 1, n the divisor of a mean. `derivative` is (p - y) / max(p (1 - p), eps) / n as the
    loss's forward computed it (None: computed again). Its backward gives torch's second
    derivatives (which add eps to p and 1 - p instead of clamping), so a gradient penalty through
    BCE matches torch."""

    def __init__(self, divisor=1, derivative=None):
        self.divisor, self.derivative = divisor, derivative

    def forward(self, grad_output, p, y):
        if self.derivative is not None:
            return grad_output * self.derivative
        return bce_arrays(p, y, grad_output, self.divisor)[1]

    def backward(self, grad_grad):
        grad_output, p, y = self.inputs
        need_grad_output, need_p, need_y = self.needs_input_grad
        grad_output = grad_output / self.divisor
        p_eps, one_minus_p_eps = p + _SECOND_ORDER_EPS, 1 - p + _SECOND_ORDER_EPS
        grad_grad_output = ((p - y) / (p_eps * one_minus_p_eps) * grad_grad / self.divisor
                            if need_grad_output else None)
        # d/dp (p - y) / (p (1 - p)) = (p² - 2 p y + y) / (p (1 - p))²
        grad_p = ((p * p - 2 * p * y + y) / (p_eps * p_eps * (one_minus_p_eps * one_minus_p_eps))
                  * (grad_grad * grad_output)) if need_p else None
        # d/dy (p - y) / (p (1 - p)) = -1 / (p (1 - p))
        grad_y = -grad_grad * grad_output / clamp((1 - p) * p, min=_SECOND_ORDER_EPS) if need_y else None
        return grad_grad_output, grad_p, grad_y


def bce_arrays(p, y, grad_output, divisor):
    """(loss, gradient) per element of BCE on arrays: the loss, and grad_output (None: 1) times
    d loss / dp, divided by `divisor`, with torch's clamps; one kernel on a GPU."""
    return kernels.run(kernels.bce, _bce_arrays, p, y, grad_output, divisor)


def _bce_arrays(p, y, grad_output, divisor):
    xp = get_array_module(p)
    # log 0 = -inf, clamped to -100 below; numpy would warn of it (CuPy has no errstate: it never warns)
    with numpy.errstate(divide="ignore") if xp is numpy else contextlib.nullcontext():
        log_p = xp.maximum(xp.log(p), -100)
        log_1_minus_p = xp.maximum(xp.log1p(-p), -100)
    loss = (y - 1) * log_1_minus_p - y * log_p
    difference = p - y
    if grad_output is not None:
        difference = grad_output * difference
    grad = difference / xp.maximum((1 - p) * p, _EPSILON)
    return loss, grad if divisor == 1 else grad / divisor


# --------------------------------------------------------------------------------------------
# Binary cross-entropy on logits x:  -[pos_weight y log σ(x) + (1 - y) log(1 - σ(x))]
# --------------------------------------------------------------------------------------------
class BinaryCrossEntropyWithLogits(ElementwiseLoss):
    """(1 - y) x - (1 + (pos_weight - 1) y) log σ(x), which is the cross-entropy above rewritten
    with log(1 - σ(x)) = log σ(x) - x: finite for any x. Inputs are (x, y) or (x, y, pos_weight)."""

    def forward(self, x, y, pos_weight=None):
        return self.reduce(*bce_with_logits_arrays(x, y, pos_weight, None, self.forward_divisor(x)))

    def backward(self, grad_output):
        x, y = self.inputs[:2]
        need_x, need_y = self.needs_input_grad[:2]
        pos_weight = self.inputs[2] if len(self.inputs) > 2 else None
        grad_output = broadcast_to(grad_output, x.shape)
        grad_x = (BinaryCrossEntropyWithLogitsGrad(self.divisor(), self.derivative)(grad_output, *self.inputs)
                  if need_x else None)
        if not any(self.needs_input_grad[1:]):
            return (grad_x,) + (None,) * (len(self.inputs) - 1)
        grad_output = grad_output / self.divisor()
        if pos_weight is None:  # d/dy = -x
            return grad_x, -x * grad_output if need_y else None
        # d/dy = log σ(-x) - pos_weight log σ(x)
        return grad_x, grad_output * (logsigmoid(-x) - pos_weight * logsigmoid(x)) if need_y else None, None


class BinaryCrossEntropyWithLogitsGrad(Function):
    """d loss / dx = g ((pos_weight y + 1 - y) σ(x) - pos_weight y) / n (= g (σ(x) - y) / n without
    pos_weight), inputs (g, x, y) or (g, x, y, pos_weight); `derivative` is that without g, as the
    loss's forward computed it (None: computed again). Its backward differentiates the formula,
    written with Tensor ops."""

    def __init__(self, divisor=1, derivative=None):
        self.divisor, self.derivative = divisor, derivative

    def forward(self, grad_output, x, y, pos_weight=None):
        if self.derivative is not None:
            return grad_output * self.derivative
        return bce_with_logits_arrays(x, y, pos_weight, grad_output, self.divisor)[1]

    def backward(self, grad_grad):
        grad_output, x, y = self.inputs[:3]
        pos_weight = self.inputs[3] if len(self.inputs) > 3 else 1.0
        need_grad_output, need_x, need_y = self.needs_input_grad[:3]
        sigmoid_x, scaled = sigmoid(x), grad_grad / self.divisor
        weight = pos_weight * y + 1 - y
        derivative = weight * sigmoid_x - pos_weight * y
        # d/dg: the derivative itself;  d/dx: weight σ(x) (1 - σ(x));  d/dy: (pos_weight - 1) σ(x) - pos_weight
        return (scaled * derivative if need_grad_output else None,
                scaled * grad_output * weight * (sigmoid_x * (1 - sigmoid_x)) if need_x else None,
                scaled * grad_output * ((pos_weight - 1) * sigmoid_x - pos_weight) if need_y else None,
                ) + (None,) * (len(self.inputs) - 3)


def bce_with_logits_arrays(x, y, pos_weight, grad_output, divisor):
    """(loss, gradient) per element of BCE on logits on arrays: the loss, and grad_output (None: 1)
    times d loss / dx, divided by `divisor`; one kernel on a GPU."""
    return kernels.run(kernels.bce_with_logits, _bce_with_logits_arrays, x, y, pos_weight, grad_output, divisor)


def _bce_with_logits_arrays(x, y, pos_weight, grad_output, divisor):
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))  # e^-|x|, shared by log σ(x) and σ(x)
    log_sigmoid = xp.minimum(x, 0) - xp.log1p(e)
    sigmoid_x = select(x >= 0, 1, e) / (1 + e)
    if pos_weight is None:
        loss = (1 - y) * x - log_sigmoid
        grad = sigmoid_x - y
    else:
        weighted_target = pos_weight * y
        loss = (1 - y) * x - ((pos_weight - 1) * y + 1) * log_sigmoid
        grad = (weighted_target + 1 - y) * sigmoid_x - weighted_target
    if grad_output is not None:
        grad = grad_output * grad
    return loss, grad if divisor == 1 else grad / divisor


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


def _elementwise_loss(function, inputs, weight, reduction):
    """The loss `function` of `inputs`, reduced inside the Function when nothing weights it."""
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
def legacy_reduction(size_average, reduce, reduction):
    """torch's deprecated size_average/reduce flags, when given, decide the reduction as in torch."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.binary_cross_entropy: `input` holds probabilities in [0, 1].

    Each log is clamped at -100, as torch does, so p = 0 or 1 gives a finite loss; p itself is
    not clipped. Values outside [0, 1] (in input or target) raise a ValueError.
    """
    op = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_loss_arguments(op, input, target, reduction, weight)
    _check_probabilities(op, "input", input,
                         hint="; pass probabilities (e.g. a sigmoid's output), or pass logits to "
                              "binary_cross_entropy_with_logits")
    _check_probabilities(op, "target", target)
    return _elementwise_loss(BinaryCrossEntropy, (input, target), weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits: BCE of sigmoid(input), computed from
    the logits directly so it stays finite for logits of any size. `pos_weight` multiplies the
    loss of the positive class and broadcasts against the input (one value per class)."""
    op = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_loss_arguments(op, input, target, reduction, weight)
    _check_broadcasts_to(op, "pos_weight", pos_weight, input.shape)
    if pos_weight is not None and pos_weight.requires_grad:
        raise RuntimeError(f"{op}: not differentiable with respect to pos_weight (as in torch); pass "
                           "pos_weight.detach()")
    inputs = (input, target) if pos_weight is None else (input, target, pos_weight)
    return _elementwise_loss(BinaryCrossEntropyWithLogits, inputs, weight, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """torch.nn.functional.mse_loss: (input - target)² per element, times `weight` where given,
    reduced.

    Unlike torch, which only warns and then broadcasts when the shapes differ (almost always a
    bug, e.g. (N, 1) against (N,) giving an (N, N) loss), a shape mismatch raises a ValueError.
    """
    op = "mse_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_loss_arguments(op, input, target, reduction, weight)
    difference = input - target
    return _weighted_and_reduced(difference * difference, weight, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """torch.nn.functional.l1_loss: |input - target| per element, times `weight` where given,
    reduced (a shape mismatch is refused, as in mse_loss)."""
    op = "l1_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_loss_arguments(op, input, target, reduction, weight)
    return _weighted_and_reduced((input - target).abs(), weight, reduction)


def _class_indices(op, input, target, ignore_index):
    """Checks class-index targets against input (N, C, d1, ...) or (C,): returns the indices with
    ignored ones replaced by 0, and the mask of those kept. Values are checked on the host only:
    on a GPU reading them back would stall the step."""
    batched = input.ndim >= 2
    expected = (input.shape[:1] + input.shape[2:]) if batched else ()
    if input.ndim == 0 or target.shape != expected:
        raise ShapeError(f"{op}: expected input (N, C, d1, ...) with class-index target (N, d1, ...), or input (C,) "
                         f"with a 0-d target; got shapes {tuple(input.shape)} and {tuple(target.shape)}")
    indices = target.array
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {indices.dtype}")
    kept = indices != ignore_index
    classes = input.shape[1] if batched else input.shape[0]
    # checked on every device, at the cost of one sync on a GPU: CuPy would wrap a bad index around
    # silently, where torch stops (on CUDA with a device-side assertion)
    if bool((kept & ((indices < 0) | (indices >= classes))).any()):
        counted = indices[kept]
        raise IndexError(f"{op}: class indices must lie in [0, {classes}) (or be ignore_index={ignore_index}), "
                         f"got values from {int(counted.min())} to {int(counted.max())}")
    return get_array_module(indices).where(kept, indices, 0), kept


def _per_class(weight, input):
    """The class weights shaped to broadcast along input's class dim (dim 1, or 0 unbatched)."""
    return weight.reshape((-1,) + (1,) * (input.ndim - 2)) if input.ndim >= 2 else weight


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """torch.nn.functional.nll_loss: -weight[t]·input[n, t] for t = target[n] (input holds
    log-probabilities, (N, C, d1, ...)); a mean divides by the total weight of the targets kept,
    so rows equal to ignore_index count for nothing."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    return _nll_loss("nll_loss", input, target, weight, ignore_index, reduction)


def _nll_loss(op, input, target, weight, ignore_index, reduction):
    indices, kept = _class_indices(op, input, target, ignore_index)
    if weight is not None and weight.shape != (input.shape[1 if input.ndim >= 2 else 0],):
        raise ShapeError(f"{op}: weight must hold one value per class, got shape {tuple(weight.shape)} for input of "
                         f"shape {tuple(input.shape)}")
    class_dim = 1 if input.ndim >= 2 else 0
    picked = input.gather(class_dim, Tensor(get_array_module(indices).expand_dims(indices, class_dim)))
    picked = picked.squeeze(class_dim)
    target_weight = Tensor(kept.astype(input.dtype))
    if weight is not None:
        target_weight = target_weight * weight.detach()[Tensor(indices)]
    losses = -picked * target_weight
    if reduction == "mean":
        return losses.sum() / target_weight.sum()
    return _weighted_and_reduced(losses, None, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """torch.nn.functional.cross_entropy: nll_loss of log_softmax(input) over the class dim, for
    logits (N, C, d1, ...) and class indices (N, d1, ...), or for class probabilities of input's
    shape. With label_smoothing ε the target mixes with the uniform distribution: for indices the
    loss is (1 - ε)·nll + ε/C·Σ_c -weight_c·log p_c, reduced as torch reduces it."""
    op = "cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 1 if input.ndim >= 2 else 0
    log_probabilities = log_softmax(input, class_dim)
    classes = input.shape[class_dim] if input.ndim else 0
    if target.dtype.kind == "f":  # class probabilities
        if target.shape != input.shape:
            raise ShapeError(f"{op}: a float target holds class probabilities and needs the input's shape "
                             f"{tuple(input.shape)}, got {tuple(target.shape)}; class indices must be integers")
        if ignore_index != -100:
            raise ValueError(f"{op}: ignore_index is only for class-index targets")
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        weighted = log_probabilities if weight is None else log_probabilities * _per_class(weight, input)
        losses = -(weighted * target).sum(class_dim)
        if reduction == "mean":
            return losses.sum() / (losses.numel() if input.ndim >= 2 else 1)
        return _weighted_and_reduced(losses, None, reduction)
    nll = _nll_loss(op, log_probabilities, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    indices, kept = _class_indices(op, input, target, ignore_index)
    weighted = log_probabilities if weight is None else log_probabilities * _per_class(weight, input)
    smooth = where(kept, -weighted.sum(class_dim), 0.0)
    if reduction == "mean":
        total = kept.sum() if weight is None else weight.detach()[Tensor(indices[kept])].sum()
        smooth = smooth.sum() / total
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / classes)


def one_hot(tensor, num_classes=-1):
    """torch.nn.functional.one_hot: int64 (*, num_classes) with a 1 at each index; num_classes -1
    means one more than the largest index."""
    indices = tensor.array
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (int64) tensor of class indices, got dtype {indices.dtype}")
    xp = get_array_module(indices)
    if indices.size and int(indices.min()) < 0:
        raise RuntimeError("one_hot: Class values must be non-negative.")
    if num_classes == -1:
        if not indices.size:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(indices.max()) + 1
    elif indices.size and int(indices.max()) >= num_classes:
        raise RuntimeError("one_hot: Class values must be smaller than num_classes.")
    return Tensor((indices[..., None] == xp.arange(num_classes)).astype(xp.int64))
