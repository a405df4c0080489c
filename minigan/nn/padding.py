"""Padding layers: ZeroPad2d, ConstantPad2d, ReflectionPad2d and ReplicationPad2d, each F.pad of
the last two dims with a mode; `padding` is an int (all four sides) or (left, right, top, bottom)."""
from minigan.nn.module import Module
from minigan.ops.shape import pad


def _four_sides(padding):
    sides = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * 4
    if len(sides) != 4:
        raise ValueError(f"padding must be an int or (left, right, top, bottom), got {padding!r}")
    return sides


class _Pad2d(Module):
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _four_sides(padding)

    def forward(self, input):
        return pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad2d(_Pad2d):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad2d(_Pad2d):
    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    mode = "replicate"
