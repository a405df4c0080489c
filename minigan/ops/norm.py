"""Normalisation: batch_norm, instance_norm and layer_norm, one shared core, exact to second order.

All three compute  y = (x - mean) / sqrt(var + eps) * weight + bias  and differ only in which
axes the statistics are taken over and how the statistics and the affine parameters are shaped:

    batch_norm     (N, C, *)   over N and *        one mean per channel        weight (C,)
    instance_norm  (N, C, *)   over *              one mean per sample+channel weight (C,)
    layer_norm     (*, S)      over the trailing S one mean per leading index  weight S

The core is composed from differentiable ops (mean, subtraction, rsqrt, multiplication), so the
backward of every piece is again made of ops and the second derivative needed by a gradient
penalty is exact. batch_norm and instance_norm with the batch's own statistics run as one
Function instead, `BatchStatisticsNorm`: two kernels forward, a few array passes backward, and
the composition again wherever a backward must itself be differentiable. The statistics are the
biased ones (divide by n), as torch normalises with.
Running statistics (batch_norm, instance_norm) are updated in place on their `.array`, outside the
graph, with the *unbiased* batch variance (divide by n - 1), as torch does.
"""
from minigan.autograd import grad
from minigan.backend import get_array_module
from minigan.cuda.kernels import norm_statistics, normalize
from minigan.errors import ShapeError
from minigan.ops.math import rsqrt
from minigan.ops.shape import clone
from minigan.tensor import Function, Tensor, is_grad_enabled


# --------------------------------------------------------------------------------------------
# The shared core
# --------------------------------------------------------------------------------------------
def _normalize(input, reduced_axes, eps, statistics=None):
    """(input - mean) / sqrt(var + eps), and the (mean, var) it used.

    mean and var are the biased statistics of `input` over `reduced_axes` (kept as axes of size
    1 so they broadcast back), unless `statistics` gives them, e.g. the running statistics.
    """
    if statistics is None:
        mean = input.mean(reduced_axes, keepdim=True)
        centered = input - mean
        variance = (centered * centered).mean(reduced_axes, keepdim=True)
    else:
        mean, variance = statistics
        centered = input - mean
    return centered * rsqrt(variance + eps), (mean, variance)


class BatchStatisticsNorm(Function):
    """(x - mean) / sqrt(var + eps) · weight + bias, mean and var those of x over N and the spatial
    axes per channel (batch_norm) or over the spatial axes per sample and channel (per_sample:
    instance_norm). Inputs (x), (x, weight) or (x, weight, bias), weight and bias of shape (C,).

    Forward: the statistics kernel and the normalisation kernel (minigan/cuda/kernels/norm.py).
    Backward, when nothing records it: the textbook formula from the saved statistics,
        dx = rstd · (g·w - mean(g·w) - x̂ · mean(g·w · x̂)),  dw = Σ g · x̂,  db = Σ g.
    When it is recorded (create_graph: a gradient penalty through the norm), the saved statistics
    would be constants to the next derivative, so the backward differentiates the composition of
    `_normalize` and `_affine` instead, rebuilt on the inputs.
    """

    def __init__(self, per_sample, eps):
        self.per_sample, self.eps = per_sample, eps

    def forward(self, x, weight=None, bias=None):
        self.mean, self.variance = norm_statistics(x, self.per_sample)
        return normalize(x, self.mean, self.variance, weight, bias, self.eps)

    def reduced_axes(self, ndim):
        return tuple(range(2, ndim)) if self.per_sample else (0,) + tuple(range(2, ndim))

    def backward(self, grad_output):
        if is_grad_enabled():
            return self.differentiable_backward(grad_output)
        x, weight = self.inputs[0].array, self.inputs[1].array if len(self.inputs) > 1 else None
        g, xp = grad_output.array, get_array_module(grad_output.array)
        axes, channel_shape = self.reduced_axes(x.ndim), (1, x.shape[1]) + (1,) * (x.ndim - 2)
        parameter_axes = (0,) + tuple(range(2, x.ndim))
        rstd = 1 / xp.sqrt(self.variance + self.eps)
        normalized = (x - self.mean) * rstd
        scaled = g if weight is None else g * weight.reshape(channel_shape)
        grad_x = rstd * (scaled - scaled.mean(axis=axes, keepdims=True)
                         - normalized * (scaled * normalized).mean(axis=axes, keepdims=True))
        grads = [Tensor(grad_x)]
        if len(self.inputs) > 1:
            grads.append(Tensor((g * normalized).sum(axis=parameter_axes)) if self.needs_input_grad[1] else None)
        if len(self.inputs) > 2:
            grads.append(Tensor(g.sum(axis=parameter_axes)) if self.needs_input_grad[2] else None)
        return tuple(grads)

    def differentiable_backward(self, grad_output):
        # stand-ins joined to the inputs by a copy, so that the gradients come back as expressions
        # of the inputs' graphs without this grad() walking down those graphs
        inputs = [clone(tensor) for tensor in self.inputs]
        x, weight, bias = inputs + [None] * (3 - len(inputs))
        normalized, _ = _normalize(x, self.reduced_axes(x.ndim), self.eps)
        channel_shape = (x.shape[1],) + (1,) * (x.ndim - 2)
        output = _affine(normalized, weight, bias, channel_shape)
        wanted = [tensor for tensor, needed in zip(inputs, self.needs_input_grad) if needed]
        grads = iter(grad(output, wanted, grad_output, create_graph=True, allow_unused=True))
        return tuple(next(grads) if needed else None for needed in self.needs_input_grad)


def _affine(normalized, weight, bias, shape):
    """normalized * weight + bias, with weight and bias viewed as `shape` to broadcast."""
    if weight is not None:
        normalized = normalized * weight.reshape(shape)
    if bias is not None:
        normalized = normalized + bias.reshape(shape)
    return normalized


def _update_running_stats(op, running_mean, running_var, mean, variance, count, momentum):
    """running = (1 - momentum) running + momentum batch, in place and outside the graph.

    `mean` and `variance` are arrays of shape (B, C, 1, ...): one row for batch_norm, one per
    sample for instance_norm, whose per-sample statistics torch averages over the batch.
    `variance` is biased (over `count` values); the running variance takes the unbiased one.
    """
    if momentum is None:
        raise ValueError(
            f"{op}: momentum=None (a cumulative average) needs the number of batches seen, which "
            "the module keeps: pass momentum=1/num_batches_tracked instead")
    channels = mean.shape[1]
    batch_mean = mean.reshape(mean.shape[0], channels).mean(axis=0)
    batch_var = variance.reshape(variance.shape[0], channels).mean(axis=0) * (count / (count - 1))
    running_mean.array[...] = (1 - momentum) * running_mean.array + momentum * batch_mean
    running_var.array[...] = (1 - momentum) * running_var.array + momentum * batch_var


# --------------------------------------------------------------------------------------------
# Checks: bad input gets an error that names the op and the shapes
# --------------------------------------------------------------------------------------------
def _check_channel_input(op, input, min_ndim, layout):
    if input.ndim < min_ndim:
        raise ShapeError(f"{op}: expected an input of shape {layout}, got shape {input.shape}")


def _check_per_channel(op, input, **tensors):
    """Each given tensor (weight, running_mean, ...) must hold one value per channel: shape (C,)."""
    channels = input.shape[1]
    for name, tensor in tensors.items():
        if tensor is not None and tensor.shape != (channels,):
            raise ShapeError(
                f"{op}: {name} has shape {tensor.shape}, but the input of shape {input.shape} has "
                f"{channels} channels (dim 1), so {name} must have shape ({channels},)")


def _check_running_pair(op, running_mean, running_var):
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")


def _count(shape, axes):
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


def _check_several_values(op, input, reduced_axes, what):
    """Batch statistics over a single value are meaningless (and its unbiased variance is 0/0)."""
    if _count(input.shape, reduced_axes) <= 1:
        raise ValueError(f"{op}: expected more than 1 {what} when training, got input size {input.shape}")


# --------------------------------------------------------------------------------------------
# The three norms
# --------------------------------------------------------------------------------------------
def _per_channel_norm(op, input, reduced_axes, running_mean, running_var, weight, bias, use_batch_stats,
                      momentum, eps, one_value):
    """batch_norm and instance_norm: normalise over `reduced_axes` with the statistics of the batch
    (updating the running statistics when given) or with the running statistics; then the
    per-channel affine map. `one_value` names what a single reduced value is, for the error."""
    _check_running_pair(op, running_mean, running_var)
    _check_per_channel(op, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    channel_shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    if use_batch_stats:
        _check_several_values(op, input, reduced_axes, one_value)
        function = BatchStatisticsNorm(per_sample=0 not in reduced_axes, eps=eps)
        if weight is None and bias is not None:  # the Function takes a bias only after a weight
            output = _affine(function(input), None, bias, channel_shape)
        else:
            output = function(input, *[tensor for tensor in (weight, bias) if tensor is not None])
        if running_mean is not None:
            _update_running_stats(op, running_mean, running_var, function.mean, function.variance,
                                  _count(input.shape, reduced_axes), momentum)
        return output
    if running_mean is None:
        raise ValueError(f"{op}: normalising with running statistics needs running_mean and running_var")
    running = (running_mean.reshape(channel_shape), running_var.reshape(channel_shape))
    normalized, _ = _normalize(input, reduced_axes, eps, statistics=running)
    return _affine(normalized, weight, bias, channel_shape)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """torch.nn.functional.batch_norm for input (N, C), (N, C, L) or (N, C, H, W).

    Training (or no running statistics) normalises each channel with the statistics of the
    batch, and updates running_mean/running_var in place when given; evaluation uses them.
    """
    _check_channel_input("batch_norm", input, 2, "(N, C), (N, C, L) or (N, C, H, W)")
    return _per_channel_norm("batch_norm", input, (0,) + tuple(range(2, input.ndim)), running_mean, running_var,
                             weight, bias, training or running_mean is None, momentum, eps, "value per channel")


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    """torch.nn.functional.instance_norm for input (N, C, L) or (N, C, H, W).

    With `use_input_stats` each sample's channel is normalised by its own statistics (and the
    running statistics, when given, move towards their average over the batch); otherwise the
    running statistics are used.
    """
    _check_channel_input("instance_norm", input, 3, "(N, C, L) or (N, C, H, W)")
    return _per_channel_norm("instance_norm", input, tuple(range(2, input.ndim)), running_mean, running_var,
                             weight, bias, use_input_stats, momentum, eps, "spatial element")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """torch.nn.functional.layer_norm: normalise over the trailing dims `normalized_shape`."""
    op = "layer_norm"
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(normalized_shape)
    if count == 0 or input.shape[-count:] != normalized_shape:
        raise ShapeError(
            f"{op}: normalized_shape={normalized_shape} must be the trailing dims of the input, "
            f"i.e. an input of shape (*, {', '.join(map(str, normalized_shape))}), got shape {input.shape}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.shape != normalized_shape:
            raise ShapeError(f"{op}: {name} has shape {tensor.shape}, expected normalized_shape {normalized_shape}")
    normalized, _ = _normalize(input, tuple(range(input.ndim - count, input.ndim)), eps)
    return _affine(normalized, weight, bias, normalized_shape)
