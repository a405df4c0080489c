"""Normalisation: batch_norm, instance_norm, layer_norm and group_norm, one shared core, exact to
second order.

All four compute  y = (x - mean) / sqrt(var + eps) * weight + bias  and differ only in which
axes the statistics are taken over and how the statistics and the affine parameters are shaped:

    batch_norm     (N, C, *)   over N and *        one mean per channel        weight (C,)
    instance_norm  (N, C, *)   over *              one mean per sample+channel weight (C,)
    layer_norm     (*, S)      over the trailing S one mean per leading index  weight S
    group_norm     (N, C, *)   over C/G channels + * one mean per sample+group weight (C,)

The core is composed from differentiable ops (mean, subtraction, rsqrt, multiplication), so the
backward of every piece is again made of ops and the second derivative needed by a gradient
penalty is exact. batch_norm and instance_norm with the batch's own statistics run as one
Function instead, `BatchStatisticsNorm`: two array passes forward (two kernels on a GPU), and a
first derivative in the one pattern, the forward of `NormGrad` on the saved statistics, whose own
backward differentiates the composition. The statistics are the biased ones (divide by n), as
torch normalises with.
Running statistics (batch_norm, instance_norm) are updated in place on their `.array`, outside the
graph, with the *unbiased* batch variance (divide by n - 1), as torch does.
"""
import numbers

from minigan.backend import get_array_module
from minigan.cuda import kernels
from minigan.errors import ShapeError
from minigan.ops.math import rsqrt
from minigan.tensor import Function


# --------------------------------------------------------------------------------------------
# The shared core
# --------------------------------------------------------------------------------------------
def _normalize(input, reduced_axes, eps, statistics=None):
    """(input - mean) / sqrt(var + eps), and the (mean, var) it used.

    mean and var are the biased statistics of `input` over `reduced_axes` (kept as axes of size
    1 so they broadcast back), unless `statistics` gives them, e.g. the running statistics.
    """
    if statistics is None:
        mean, centered, variance = _moments(input, reduced_axes)
    else:
        mean, variance = statistics
        centered = input - mean
    return centered * rsqrt(variance + eps), (mean, variance)


def _moments(input, reduced_axes):
    """The mean over `reduced_axes` (kept as axes of size 1), input − mean and the biased variance."""
    mean = input.mean(reduced_axes, keepdim=True)
    centered = input - mean
    return mean, centered, (centered * centered).mean(reduced_axes, keepdim=True)


class BatchStatisticsNorm(Function):
    """(x - mean) / sqrt(var + eps) · weight + bias, mean and var those of x over N and the spatial
    axes per channel (batch_norm) or over the spatial axes per sample and channel (per_sample:
    instance_norm). Inputs (x), (x, weight) or (x, weight, bias), weight and bias of shape (C,).

    Forward: the statistics, then the normalisation, one kernel each on a GPU. Its derivatives,
        dx = NormGrad(g·w, x),  dw = Σ g · x̂,  db = Σ g,   x̂ = (x - mean) / sqrt(var + eps),
    take the statistics the forward computed as values (x̂ is `Standardized`, whose own
    derivative is NormGrad again), so none of them computes the statistics a second time.
    """

    def __init__(self, per_sample, eps):
        self.per_sample, self.eps = per_sample, eps

    def forward(self, x, weight=None, bias=None):
        self.mean, self.variance = norm_statistics(x, self.per_sample)
        return normalize(x, self.mean, self.variance, weight, bias, self.eps)

    def backward(self, grad_output):
        x, weight = self.inputs[0], self.inputs[1] if len(self.inputs) > 1 else None
        channel_shape = (x.shape[1],) + (1,) * (x.ndim - 2)
        parameter_axes = (0,) + tuple(range(2, x.ndim))
        normalized = Standardized(self)(x)
        scaled = grad_output if weight is None else grad_output * weight.reshape(channel_shape)
        grads = [NormGrad(self, normalized.array)(scaled, x) if self.needs_input_grad[0] else None]
        if len(self.inputs) > 1:
            grads.append((grad_output * normalized).sum(parameter_axes) if self.needs_input_grad[1] else None)
        if len(self.inputs) > 2:
            grads.append(grad_output.sum(parameter_axes) if self.needs_input_grad[2] else None)
        return tuple(grads)


def _reduced_axes(per_sample, ndim):
    return tuple(range(2, ndim)) if per_sample else (0,) + tuple(range(2, ndim))


class Standardized(Function):
    """x̂ = (x - mean) / sqrt(var + eps), with the statistics `norm` (a BatchStatisticsNorm)
    computed from x in its forward: the normalised x a weight's gradient needs. Its derivative
    treats them as what they are, functions of x: NormGrad."""

    def __init__(self, norm):
        self.norm = norm

    def forward(self, x):
        return normalize(x, self.norm.mean, self.norm.variance, None, None, self.norm.eps)

    def backward(self, grad_output):
        return NormGrad(self.norm)(grad_output, self.inputs[0])


class NormGrad(Function):
    """dx = rstd · (g - mean(g) - x̂ · mean(g · x̂)), the means over the normalised axes: the
    derivative of x̂ = (x - mean) · rstd in x, the statistics being those of x, applied to g. The
    statistics come from the forward of `norm` (a BatchStatisticsNorm), as values, and so does x̂
    where the caller has it (`normalized`).

    Its backward (what a gradient penalty differentiates) is in closed form, written with Tensor
    ops so that it differentiates again."""

    def __init__(self, norm, normalized=None):
        self.norm, self.normalized = norm, normalized

    def forward(self, grad_output, x):
        xp = get_array_module(x)
        axes = _reduced_axes(self.norm.per_sample, x.ndim)
        rstd = 1 / xp.sqrt(self.norm.variance + self.norm.eps)
        normalized = (x - self.norm.mean) * rstd if self.normalized is None else self.normalized
        return rstd * (grad_output - grad_output.mean(axis=axes, keepdims=True)
                       - normalized * (grad_output * normalized).mean(axis=axes, keepdims=True))

    def backward(self, grad_grad):
        # With gg = grad_grad and r = rstd, the derivative of Σ gg · dx
        #   in g: the map g ↦ dx is symmetric, so it is that map applied to gg, NormGrad(gg, x);
        #   in x: −r² · (x̂ · (mean(gg·g) − mean(g)·mean(gg) − 3·mean(g·x̂)·mean(gg·x̂))
        #                + mean(gg·x̂) · (g − mean(g)) + mean(g·x̂) · (gg − mean(gg))),
        # x̂ (by Standardized) and r² (= 1 / (var + eps), var as ops of x) being functions of x.
        grad_output, x = self.inputs
        grads = [NormGrad(self.norm)(grad_grad, x) if self.needs_input_grad[0] else None, None]
        if self.needs_input_grad[1]:
            axes = _reduced_axes(self.norm.per_sample, x.ndim)

            def mean(t):
                return t.mean(axes, keepdim=True)

            _, _, variance = _moments(x, axes)
            normalized = Standardized(self.norm)(x)
            g_mean, gg_mean = mean(grad_output), mean(grad_grad)
            g_projection, gg_projection = mean(grad_output * normalized), mean(grad_grad * normalized)
            coupling = mean(grad_grad * grad_output) - g_mean * gg_mean - 3 * g_projection * gg_projection
            grads[1] = -(normalized * coupling + gg_projection * (grad_output - g_mean)
                         + g_projection * (grad_grad - gg_mean)) / (variance + self.norm.eps)
        return tuple(grads)


def norm_statistics(x, per_sample):
    """(mean, biased variance) of x (N, C, *) per channel, shaped (1, C, 1, ...); with per_sample,
    per sample and channel, shaped (N, C, 1, ...): one kernel on a GPU."""
    return kernels.run(kernels.norm_statistics, _norm_statistics, x, per_sample)


def _norm_statistics(x, per_sample):
    # two passes, the mean and then the squared deviations from it: no cancellation, as E[x²] - E[x]² has
    axes = _reduced_axes(per_sample, x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    return mean, (centered * centered).mean(axis=axes, keepdims=True)


def normalize(x, mean, variance, weight, bias, eps):
    """(x - mean) / sqrt(variance + eps) · weight + bias as a new array, for x (N, C, *), the
    statistics one per channel or per sample and channel (as norm_statistics gives them, or
    running statistics of shape (C,)); weight and bias (each optional) of shape (C,)."""
    return kernels.run(kernels.normalize, _normalize_arrays, x, mean, variance, weight, bias, eps)


def _normalize_arrays(x, mean, variance, weight, bias, eps):
    # as torch's CPU kernel: y = x·α + β, α = weight / sqrt(var + eps) and β = bias − mean·α per
    # statistics group, so two passes over x instead of four
    xp = get_array_module(x)
    channels, spatial_ones = x.shape[1], (1,) * (x.ndim - 2)
    # C statistics (one per channel) or N·C (per sample and channel), whatever their shape
    stat_shape = (mean.size // channels, channels) + spatial_ones
    channel_shape = (channels,) + spatial_ones
    scale = 1 / xp.sqrt(variance.reshape(stat_shape) + eps)
    if weight is not None:
        scale = scale * weight.reshape(channel_shape)
    shift = -mean.reshape(stat_shape) * scale
    if bias is not None:
        shift = shift + bias.reshape(channel_shape)
    y = x * scale
    y += shift
    return y


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


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """torch.nn.functional.group_norm: each sample's channels in `num_groups` groups, each group
    normalised over its channels and positions; then the per-channel affine map."""
    if input.ndim < 2 or not isinstance(num_groups, numbers.Integral) or input.shape[1] % num_groups:
        raise ShapeError(f"group_norm: expected an input (N, C, *) with C divisible by num_groups={num_groups}, "
                         f"got shape {tuple(input.shape)}")
    batch, channels = input.shape[:2]
    grouped = input.reshape(batch, num_groups, -1)
    normalized, _ = _normalize(grouped, (2,), eps)
    return _affine(normalized.reshape(input.shape), weight, bias, (channels,) + (1,) * (input.ndim - 2))
