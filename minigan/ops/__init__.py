"""The ops, by family, and the Tensor operators and methods that call them.

Tensor (in minigan/tensor.py) sits below the ops, so it cannot import them; instead this module
attaches them: after `import minigan`, `a + b` calls `ops.math.add(a, b)`, `x.sum(1)` calls
`ops.reduce.sum(x, 1)`, and so on. Every name below is an ordinary function you can also call.
"""
import operator

import numpy

from minigan import backend
from minigan.backend import get_array_module
from minigan.creation import NEW_METHODS, LegacyTensorType, bernoulli, legacy_type_named, legacy_type_of, multinomial
from minigan.errors import ShapeError
from minigan.ops import activation, inplace, math, reduce, shape
from minigan.ops.activation import leaky_relu, log_softmax, logsigmoid, relu, sigmoid, softmax, softplus, tanh
from minigan.ops.math import (abs, add, allclose, bmm, clamp, div, dot, equal, exp, isfinite, isnan, lerp, log,
                              masked_fill, matmul, maximum, minimum, mm, mul, neg, outer, pow, rsqrt, sign, sqrt,
                              square, sub, where)
from minigan.ops.reduce import (all, amax, amin, any, argmax, argmin, cumsum, logsumexp, max, mean, min, norm, sort,
                                std, sum, topk, var)
from minigan.ops.shape import (cast, cat, chunk, clone, expand, flatten, flip, gather, getitem, index_select,
                               meshgrid, narrow, pad, permute, repeat, repeat_interleave, reshape, roll, scatter,
                               split, squeeze, stack, tile, to_device, transpose, unsqueeze)
from minigan.tensor import Tensor


def _reflected(op):
    return lambda self, other: op(other, self)


def _comparison(compare, name):
    """An elementwise comparison: a bool tensor outside the graph (it has no gradient). Like
    torch, `t == None` is False and a comparison with something that is not a number is left to
    Python (identity)."""
    def comparison(self, other):
        if other is None or isinstance(other, (str, bytes, tuple, dict, set)):
            return NotImplemented
        if isinstance(other, Tensor):
            backend.check_same_device(f"comparison {name}", [self.array, other.array])
            other = other.array
        elif isinstance(other, list):
            other = get_array_module(self.array).asarray(other)
        try:
            return Tensor(compare(self.array, other))
        except ValueError:
            raise ShapeError(f"comparison {name}: cannot broadcast shapes {self.shape} and {tuple(getattr(other, 'shape', ()))}") \
                from None
    comparison.__name__ = name
    return comparison


def _to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
    """x.to(dtype), x.to(device), x.to(device, dtype) or x.to(other) (other's device and dtype):
    the same tensor when nothing changes (unless copy=True). Both steps are ops, so gradients flow
    back to the original device and dtype."""
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (str, int)) and not isinstance(arg, bool):
            device = arg
        else:
            dtype = arg
    moved = self if device is None else to_device(self, device)
    converted = moved if dtype is None else cast(moved, get_array_module(moved.array).dtype(dtype))
    return clone(converted) if copy and converted is self else converted


def _type(self, dtype=None, non_blocking=False):
    """x.type(): torch's type name ('torch.FloatTensor'); x.type(FloatTensor), x.type('torch.cuda.
    FloatTensor') or x.type(minigan.float64): x converted to that type."""
    if dtype is None:
        return legacy_type_of(self).type_name
    if isinstance(dtype, str):
        dtype = legacy_type_named(dtype)
    if isinstance(dtype, LegacyTensorType):
        return _to(self, dtype.device, dtype.dtype)
    return _to(self, dtype=dtype)


def _cast_to(dtype):
    return lambda self: cast(self, numpy.dtype(dtype))


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__lt__": _comparison(operator.lt, "lt"), "__le__": _comparison(operator.le, "le"),
    "__gt__": _comparison(operator.gt, "gt"), "__ge__": _comparison(operator.ge, "ge"),
    "__eq__": _comparison(operator.eq, "eq"), "__ne__": _comparison(operator.ne, "ne"),
}

def _split(self, split_size, dim=0):
    return split(self, split_size, dim)


_METHODS = {
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "neg": neg,
    "exp": exp, "log": log, "sqrt": sqrt, "rsqrt": rsqrt, "abs": abs, "sign": sign, "clamp": clamp, "clip": clamp,
    "maximum": maximum, "minimum": minimum, "square": square, "lerp": lerp, "masked_fill": masked_fill,
    "erf": math.erf, "expm1": math.expm1, "mm": mm, "bmm": bmm, "dot": dot, "outer": outer, "isnan": isnan, "isfinite": isfinite,
    "allclose": allclose, "equal": equal,
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "log_softmax": log_softmax,
    "sum": sum, "mean": mean, "var": var, "std": std, "norm": norm, "amax": amax, "amin": amin, "argmax": argmax,
    "argmin": argmin, "max": max, "min": min, "any": any, "all": all, "logsumexp": logsumexp, "cumsum": cumsum,
    "sort": sort, "topk": topk,
    "reshape": reshape, "view": reshape, "flatten": flatten, "permute": permute,
    "transpose": transpose, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand,
    "chunk": chunk, "split": _split, "repeat": repeat, "tile": tile, "repeat_interleave": repeat_interleave,
    "flip": flip, "roll": roll, "gather": gather, "scatter": scatter, "index_select": index_select, "narrow": narrow,
    "view_as": lambda self, other: reshape(self, other.shape), "expand_as": lambda self, other: expand(self, other.shape),
    "type_as": lambda self, other: _to(self, other),
    "where": lambda self, condition, other: where(condition, self, other),
    "bernoulli": bernoulli, "multinomial": multinomial,
    "clone": clone, "to": _to, "type": _type,
    "cuda": lambda self, device=None, non_blocking=False: to_device(self, "cuda" if device is None else device),
    "cpu": lambda self: to_device(self, "cpu"),
    "float": _cast_to(numpy.float32), "double": _cast_to(numpy.float64), "half": _cast_to(numpy.float16),
    "long": _cast_to(numpy.int64), "int": _cast_to(numpy.int32), "bool": _cast_to(numpy.bool_),
    "byte": _cast_to(numpy.uint8),
    "is_floating_point": lambda self: self.dtype.kind == "f",
    "t": lambda self: transpose(self, 0, 1) if self.ndim == 2 else self,
    "contiguous": lambda self: self,
    "eq": _OPERATORS["__eq__"], "ne": _OPERATORS["__ne__"], "lt": _OPERATORS["__lt__"],
    "le": _OPERATORS["__le__"], "gt": _OPERATORS["__gt__"], "ge": _OPERATORS["__ge__"],
}

for _name, _op in {**_OPERATORS, **_METHODS, **inplace.METHODS, **NEW_METHODS}.items():
    setattr(Tensor, _name, _op)
Tensor.mT = property(lambda self: transpose(self, -2, -1))
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))


def _function_form(name):
    """torch.eq(a, b) is a.eq(b): the function form of a method."""
    def function(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    function.__name__ = name
    return function


eq, ne, lt, le, gt, ge, detach, is_floating_point, t = map(
    _function_form, ["eq", "ne", "lt", "le", "gt", "ge", "detach", "is_floating_point", "t"])
