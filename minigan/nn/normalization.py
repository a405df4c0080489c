"""Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm2d, LayerNorm and GroupNorm, as torch's.

BatchNorm normalises each channel with the statistics of the batch while training and with its
running statistics (buffers, saved in state_dict) in evaluation; InstanceNorm normalises each
sample's channel on its own; LayerNorm normalises over the trailing `normalized_shape` dims;
GroupNorm normalises each sample's groups of channels.
"""
from minigan.creation import ones, tensor, zeros
from minigan.errors import ShapeError
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.norm import batch_norm, group_norm, instance_norm, layer_norm


class _NormBase(Module):
    """What BatchNorm and InstanceNorm share: weight/bias (when affine), running statistics (when
    tracked: running_mean, running_var, num_batches_tracked), input checks and repr."""

    input_layouts = ()  # the accepted input layouts, e.g. ("N", "C", "H", "W")

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, device, dtype, bias):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        factory = dict(dtype=dtype, device=device)
        self.register_parameter("weight", Parameter(ones(num_features, **factory)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_features, **factory)) if affine and bias else None)
        tracked = track_running_stats
        self.register_buffer("running_mean", zeros(num_features, **factory) if tracked else None)
        self.register_buffer("running_var", ones(num_features, **factory) if tracked else None)
        self.register_buffer("num_batches_tracked", tensor(0, device=device) if tracked else None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            if self.bias is not None:
                self.bias.array[...] = 0

    def _check_input(self, input, channels_must_match=True):
        layout = next((layout for layout in self.input_layouts if len(layout) == input.ndim), None)
        if layout is None:
            expected = " or ".join("(" + ", ".join(layout) + ")" for layout in self.input_layouts)
            raise ShapeError(f"{self!r}: expected an input of shape {expected}, got shape {tuple(input.shape)}")
        channel_axis = layout.index("C")
        if channels_must_match and input.shape[channel_axis] != self.num_features:
            raise ShapeError(f"{self!r}: expected {self.num_features} channels (num_features) in dim "
                             f"{channel_axis} of the input, got shape {tuple(input.shape)}")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias)

    def forward(self, input):
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # momentum=None: a cumulative average of all batches seen
                momentum = 1.0 / float(self.num_batches_tracked.item())
        # batch statistics while training, and in evaluation when there are no running ones
        use_batch_stats = self.training or self.running_mean is None
        # running statistics are updated only when tracked, and read only in evaluation
        pass_running = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if pass_running else None,
                          self.running_var if pass_running else None, self.weight, self.bias,
                          use_batch_stats, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """BatchNorm1d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    over (N, C) or (N, C, L). The MLP GAN writes BatchNorm1d(out_features, 0.8): eps = 0.8."""

    input_layouts = (("N", "C"), ("N", "C", "L"))


class BatchNorm2d(_BatchNorm):
    """BatchNorm2d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    over images (N, C, H, W)."""

    input_layouts = (("N", "C", "H", "W"),)


class InstanceNorm2d(_NormBase):
    """InstanceNorm2d(num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False):
    each sample's channel normalised by its own mean and variance (WGAN-GP's critic uses affine=True)."""

    input_layouts = (("N", "C", "H", "W"), ("C", "H", "W"))

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias)

    def forward(self, input):
        # without weights or running statistics, num_features is unused, as torch lets it be
        self._check_input(input, channels_must_match=self.affine or self.track_running_stats)
        if input.ndim == 3:  # one unbatched image (C, H, W)
            return self.forward(input.unsqueeze(0)).squeeze(0)
        return instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                             self.training or not self.track_running_stats,
                             0.0 if self.momentum is None else self.momentum, self.eps)


class LayerNorm(Module):
    """LayerNorm(normalized_shape, eps=1e-05, elementwise_affine=True, bias=True): normalise over
    the trailing dims `normalized_shape`; weight and bias have that shape."""

    def __init__(self, normalized_shape, eps=1e-05, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        factory = dict(dtype=dtype, device=device)
        self.register_parameter("weight", Parameter(ones(shape, **factory)) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(zeros(shape, **factory)) if elementwise_affine and bias else None)

    def forward(self, input):
        count = len(self.normalized_shape)
        if input.ndim < count or input.shape[input.ndim - count:] != self.normalized_shape:
            raise ShapeError(f"{self!r}: expected an input whose last {count} dims are {self.normalized_shape}, "
                             f"i.e. of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got shape {tuple(input.shape)}")
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """GroupNorm(num_groups, num_channels, eps=1e-05, affine=True, *, bias=True): the channels of
    each sample in num_groups groups, each normalised over its channels and positions; weight and
    bias (C,)."""

    def __init__(self, num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        factory = dict(dtype=dtype, device=device)
        self.register_parameter("weight", Parameter(ones(num_channels, **factory)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_channels, **factory)) if affine and bias else None)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(f"{self!r}: expected an input (N, {self.num_channels}, *), got shape "
                             f"{tuple(input.shape)}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
