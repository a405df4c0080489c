"""The ops, by family, and the Tensor operators and methods that call them.

Tensor (in minigan/tensor.py) sits below the ops, so it cannot import them; instead this module
attaches them: after `import minigan`, `a + b` calls `ops.math.add(a, b)`, `x.sum(1)` calls
`ops.reduce.sum(x, 1)`, and so on. Every name below is an ordinary function you can also call.
"""
import operator

from minigan import backend
from minigan.backend import get_array_module
from minigan.ops import activation, math, reduce, shape
from minigan.ops.activation import leaky_relu, logsigmoid, relu, sigmoid, softplus, tanh
from minigan.ops.math import (abs, add, clamp, div, exp, log, matmul, maximum, minimum, mul, neg,
                              pow, rsqrt, sqrt, sub, where)
from minigan.ops.reduce import amax, argmax, mean, norm, sum, var
from minigan.ops.shape import (cast, cat, clone, expand, flatten, getitem, pad, permute, reshape,
                               squeeze, stack, to_device, transpose, unsqueeze)
from minigan.tensor import Tensor


def _reflected(op):
    return lambda self, other: op(other, self)


def _comparison(compare):
    """A comparison gives a bool tensor outside the graph: it has no gradient."""
    def comparison(self, other):
        if isinstance(other, Tensor):
            backend.check_same_device(f"comparison {compare.__name__}", [self.data, other.data])
            other = other.data
        return Tensor(compare(self.data, other))
    return comparison


def _to(self, *args, dtype=None, device=None):
    """x.to(dtype), x.to(device) or x.to(device, dtype): the same tensor when nothing changes.
    Both steps are ops, so gradients flow back to the original device and dtype."""
    for arg in args:
        if isinstance(arg, str):
            device = arg
        else:
            dtype = arg
    moved = self if device is None else to_device(self, device)
    return moved if dtype is None else cast(moved, get_array_module(moved.data).dtype(dtype))


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__getitem__": getitem,
    "__lt__": _comparison(operator.lt), "__le__": _comparison(operator.le),
    "__gt__": _comparison(operator.gt), "__ge__": _comparison(operator.ge),
}

_METHODS = {
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "neg": neg,
    "exp": exp, "log": log, "sqrt": sqrt, "rsqrt": rsqrt, "abs": abs, "clamp": clamp, "clip": clamp,
    "maximum": maximum, "minimum": minimum,
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
    "sum": sum, "mean": mean, "var": var, "norm": norm, "amax": amax, "argmax": argmax,
    "reshape": reshape, "view": reshape, "flatten": flatten, "permute": permute,
    "transpose": transpose, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand,
    "clone": clone, "to": _to,
    "cuda": lambda self: to_device(self, "cuda"), "cpu": lambda self: to_device(self, "cpu"),
    "float": lambda self: cast(self, get_array_module(self.data).float32),
    "double": lambda self: cast(self, get_array_module(self.data).float64),
    "t": lambda self: transpose(self, 0, 1) if self.ndim == 2 else self,
    "contiguous": lambda self: self,
    "eq": _comparison(operator.eq), "ne": _comparison(operator.ne),
}

for _name, _op in {**_OPERATORS, **_METHODS}.items():
    setattr(Tensor, _name, _op)
Tensor.mT = property(lambda self: transpose(self, -2, -1))
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))
