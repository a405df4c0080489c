"""Convolution layers: Conv2d and ConvTranspose2d, with torch's arguments, weight layouts and init."""
from minigan.creation import zeros
from minigan.errors import ShapeError
from minigan.nn import init
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.conv import conv2d, conv_transpose2d
from minigan.ops.shape import pad


def _pair(value, name, layer):
    """An int or a pair of ints as a pair: kernel_size=4 means (4, 4)."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise TypeError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    return pair


class _ConvNd(Module):
    """What both convolutions share: arguments, parameters, initialisation, input checks, repr.

    The weight is (out, in, kh, kw) for a convolution and (in, out, kh, kw) for a transposed one,
    as torch lays them out, so torch state_dicts load unchanged.
    """

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                 dilation, padding_mode, device, dtype):
        super().__init__()
        layer = type(self).__name__
        if not isinstance(groups, int) or groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{layer}: groups={groups!r} must be a positive int dividing in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{layer}: padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', "
                             f"got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {layer}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", layer)
        self.stride = _pair(stride, "stride", layer)
        self.dilation = _pair(dilation, "dilation", layer)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding", layer)
        self.output_padding = _pair(output_padding, "output_padding", layer)
        self.groups, self.padding_mode = groups, padding_mode
        channels = ((in_channels, out_channels // groups) if self.transposed
                    else (out_channels, in_channels // groups))
        self.weight = Parameter(zeros(*channels, *self.kernel_size, dtype=dtype, device=device))
        self.register_parameter("bias", Parameter(zeros(out_channels, dtype=dtype, device=device)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init._reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        if input.ndim not in (3, 4) or input.shape[-3] != self.in_channels:
            hint = ""
            if input.ndim == 2:
                hint = "; to feed flat vectors, reshape them to images first, e.g. nn.Unflatten(1, (C, H, W))"
            raise ShapeError(f"{self!r}: expected an input of shape (N, {self.in_channels}, H, W) with "
                             f"in_channels={self.in_channels}, got shape {tuple(input.shape)}{hint}")
        if input.ndim == 3:  # one unbatched image (C, H, W)
            return self._convolve(input.unsqueeze(0)).squeeze(0)
        return self._convolve(input)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvNd):
    """Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode='zeros'): weight (out_channels, in_channels / groups, kh, kw),
    initialised as torch does; padding an int, a pair, 'valid' or 'same'; padding_mode 'zeros',
    'reflect', 'replicate' or 'circular'."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, 0, groups, bias, dilation,
                         padding_mode, device, dtype)

    def _convolve(self, input):
        if self.padding_mode == "zeros":
            return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return conv2d(pad(input, self._padding_sides(), self.padding_mode), self.weight, self.bias, self.stride, 0,
                      self.dilation, self.groups)

    def _padding_sides(self):
        """(left, right, top, bottom) for F.pad: the padding, or for 'same' its uneven split."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return (totals[1] // 2, totals[1] - totals[1] // 2, totals[0] // 2, totals[0] - totals[0] // 2)
        return (self.padding[1], self.padding[1], self.padding[0], self.padding[0])


class ConvTranspose2d(_ConvNd):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1): weight (in_channels, out_channels / groups,
    kh, kw), as torch's."""

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)

    def _convolve(self, input):
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                self.groups, self.dilation)
