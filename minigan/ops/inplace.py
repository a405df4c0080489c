"""In-place ops, as torch allows them: x.add_(y), x += y, x.clamp_(a, b), x.fill_(v), x[index] = v.

An in-place op writes its result into x's own storage, so every tensor that shares it (views,
`.data`, `detach()`) sees the change, and x's version counter goes up: a backward that saved x's
old values then refuses to run (Function.check_saved_versions) instead of using the new ones.
Whether it may run, and what it does to the graph:

- **Nothing to record** (grad mode is off, or neither x nor an operand requires grad): the values
  are written, nothing else. Optimizers, initialisation (`w.data.normal_(0, 0.02)`) and weight
  clipping (`p.data.clamp_(-c, c)`) change parameters this way.
- **Recorded** (grad mode is on, and x or an operand requires grad): the op runs out of place
  on x's old value, its result is written into x's storage, and x takes the result's place in the
  graph, so `x.grad_fn` is now that op — torch's `ReLU(inplace=True)`, `out += residual`. Where
  the op's derivative reads x's old value (mul_, clamp_), a copy of it is kept, as torch keeps one.
- **Refused**, with torch's error: x is a leaf that requires grad (an optimizer's parameter would
  lose its gradient), or a view of one. Refused with minigan's: x is a view made in the graph, or
  has such views alive; torch rewrites their history, minigan does not; use the out-of-place op.
"""
from minigan import random
from minigan.backend import as_array, get_array_module
from minigan.errors import DTypeError, ShapeError
from minigan.ops.activation import LeakyReLU, ReLU, Sigmoid, Tanh, leaky_relu
from minigan.ops.math import add, clamp, div, exp, lerp, mul, pow, sub, where
from minigan.ops.shape import cast, index_put
from minigan.tensor import Tensor, has_views_in_graph, is_grad_enabled, no_grad, rebase


def _requires_grad(value):
    return isinstance(value, Tensor) and value.requires_grad


def _check_allowed(x, name, recording):
    if not is_grad_enabled():
        return
    if x.is_leaf and x.requires_grad:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation. "
            "Change a parameter inside `with minigan.no_grad():` or through `.data`, or use the "
            "out-of-place op")
    base = x._base
    if base is not None and base.is_leaf and base.requires_grad:
        raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation")
    if recording and (base is not None or has_views_in_graph(x)):
        what = "a view (made by reshape, slicing, ...)" if base is not None else "a tensor with views"
        raise RuntimeError(
            f"{name}: in-place op on {what} in the graph of a tensor of shape {x.shape}: torch rewrites "
            "the views' history, minigan does not. Use the out-of-place op (e.g. x = x + y), or "
            "clone() first")


def _write(x, result, name):
    """x's storage takes result's values (cast to x's dtype, as torch casts)."""
    if result.shape != x.shape:
        raise ShapeError(f"{name}: the result's shape {result.shape} (after broadcasting) does not match "
                         f"the shape {x.shape} of the tensor written in place")
    xp = get_array_module(x.array)
    if result.dtype != x.dtype and not xp.can_cast(result.dtype, x.dtype, "same_kind"):
        raise DTypeError(f"{name}: the result's dtype {result.dtype} can't be cast to the dtype {x.dtype} of "
                         "the tensor written in place; use the out-of-place op")
    if x.array.size > 1 and 0 in x.array.strides:
        raise RuntimeError(f"{name}: more than one element of the tensor written in place (shape {x.shape}, "
                           "made by expand) refers to one memory location; clone() it first")
    x.array[...] = result.array


def _old_value(x, copy):
    """x as it was before the op, as a node of the graph: x's history, and x's storage unless the
    op's derivative reads the old values (then a copy of them)."""
    old = Tensor(x.array.copy() if copy else x.array)
    if not copy:
        old._version_counter = x._version_counter
    old.grad_fn, old.requires_grad = x.grad_fn, x.requires_grad
    return old


def apply_inplace(x, name, op, *operands, reads_input=False, writes_x=False):
    """x ← op(x, *operands), in x's storage (see the module's docstring). `reads_input`: the op's
    derivative reads x's old values, which must then be kept; `writes_x`: the op writes its
    result into x's storage itself (see activation_), so nothing is left to copy."""
    recording = is_grad_enabled() and (x.requires_grad or any(map(_requires_grad, operands)))
    _check_allowed(x, name, recording)
    if recording:
        result = cast(op(_old_value(x, reads_input), *operands), x.dtype)
    else:
        with no_grad():
            result = op(x, *operands)
    if not writes_x:
        _write(x, result, name)
    x._version_counter.bump()
    if recording:
        rebase(x, result)
    return x


def _replaced(old, new):
    """`new`, broadcast to old's shape, in old's place: what fill_, copy_ and normal_ compute. In
    the graph the gradient reaching old is zero, as in torch."""
    return where(get_array_module(old.array).asarray(True), new, old)


def _samples(x, draw, generator):
    """draw(generator, shape) as a tensor of x's dtype on x's device: `generator` is a minigan
    Generator of x's device, by default the default stream, seeded by manual_seed."""
    return Tensor(as_array(draw(random.generator(x.device, generator), x.shape), dtype=x.dtype, device=x.device))


# -- the in-place methods -----------------------------------------------------------------------
def add_(x, other, alpha=1):
    return apply_inplace(x, "add_", lambda a, b: add(a, b if alpha == 1 else b * alpha), other)


def sub_(x, other, alpha=1):
    return apply_inplace(x, "sub_", lambda a, b: sub(a, b if alpha == 1 else b * alpha), other)


def mul_(x, other):
    return apply_inplace(x, "mul_", mul, other, reads_input=_requires_grad(other))


def div_(x, other):
    return apply_inplace(x, "div_", div, other, reads_input=_requires_grad(other))


def pow_(x, exponent):
    return apply_inplace(x, "pow_", pow, exponent, reads_input=True)


def clamp_(x, min=None, max=None):
    return apply_inplace(x, "clamp_", lambda a: clamp(a, min, max), reads_input=True)


def lerp_(x, end, weight):
    """x ← x + weight·(end - x): an exponential moving average's update, ema.lerp_(p, 1 - decay)."""
    return apply_inplace(x, "lerp_", lambda a, e: lerp(a, e, weight), end, reads_input=_requires_grad(weight))


def masked_fill_(x, mask, value):
    mask = mask.array if isinstance(mask, Tensor) else mask
    return apply_inplace(x, "masked_fill_", lambda a, v: where(mask, v, a), value)


def fill_(x, value):
    return apply_inplace(x, "fill_", _replaced, value)


def zero_(x):
    return apply_inplace(x, "zero_", _replaced, 0)


def copy_(x, source, non_blocking=False):
    """x's values ← source's, broadcast to x's shape, converted to x's dtype and device."""
    source = source if isinstance(source, Tensor) else Tensor(as_array(source))
    return apply_inplace(x, "copy_", lambda a, s: _replaced(a, cast(s.to(a.device), a.dtype)), source)


def normal_(x, mean=0.0, std=1.0, generator=None):
    # mean + std·z, as numpy's normal() computes it (CuPy's Generator has no normal())
    return apply_inplace(x, "normal_", lambda a: _replaced(a, _samples(
        a, lambda rng, shape: mean + std * rng.standard_normal(shape), generator)))


def uniform_(x, a=0.0, b=1.0, generator=None):
    return apply_inplace(x, "uniform_", lambda t: _replaced(t, _samples(
        t, lambda rng, shape: rng.uniform(a, b, shape), generator)))


def activation_(x, name, activation):
    """An Activation Function (ReLU(), LeakyReLU(0.2), ...) applied in place: its forward writes
    into x's storage directly, with no copy, which is safe as its derivative reads only its output."""
    flags = x.array.flags
    if x.array.dtype.kind != "f" or not flags.c_contiguous or not getattr(flags, "writeable", True):
        return apply_inplace(x, name, activation)  # computed apart, then copied in
    activation.out = x.array
    return apply_inplace(x, name, activation, writes_x=True)


def setitem(x, index, value):
    """x[index] = value."""
    return apply_inplace(x, "setitem", lambda a, v: index_put(a, index, v), value)


def leaky_relu_(x, negative_slope=0.01):
    if negative_slope < 0:  # then not an Activation (see ops.activation.leaky_relu)
        return apply_inplace(x, "leaky_relu_", leaky_relu, negative_slope)
    return activation_(x, "leaky_relu_", LeakyReLU(negative_slope))


METHODS = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_, "clamp_": clamp_, "clip_": clamp_,
    "lerp_": lerp_, "masked_fill_": masked_fill_, "fill_": fill_, "zero_": zero_, "copy_": copy_,
    "normal_": normal_, "uniform_": uniform_,
    "exp_": lambda x: apply_inplace(x, "exp_", exp),
    "relu_": lambda x: activation_(x, "relu_", ReLU()),
    "sigmoid_": lambda x: activation_(x, "sigmoid_", Sigmoid()),
    "tanh_": lambda x: activation_(x, "tanh_", Tanh()),
    "leaky_relu_": lambda x, negative_slope=0.01: leaky_relu_(x, negative_slope),
    "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_,
    "__setitem__": setitem,
}
