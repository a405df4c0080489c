"""Elementwise arithmetic and matmul, each forward beside its backward, with torch's type promotion."""
import builtins
import math
import numbers

import numpy

from minigan.backend import as_array, check_same_device, default_dtype, get_array_module
from minigan.errors import DTypeError, ShapeError
from minigan.ops.broadcast import sum_to
from minigan.ops.shape import cast
from minigan.tensor import Function, Tensor, other_factors


# --------------------------------------------------------------------------------------------
# Type promotion, as torch does it
# --------------------------------------------------------------------------------------------
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integers < floats


def promote_types(a, b):
    """torch.promote_types: the higher category wins, so an integer meeting a float takes the
    float's dtype (numpy widens int64 and float32 to float64); within a category, numpy's rule."""
    a, b = numpy.dtype(a), numpy.dtype(b)
    if _CATEGORY[a.kind] != _CATEGORY[b.kind]:
        return a if _CATEGORY[a.kind] > _CATEGORY[b.kind] else b
    return numpy.promote_types(a, b)


def _combine(higher, lower):
    """Operands of a lower priority change the dtype only by raising its category."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """torch.result_type: the dtype an op on these operands computes in. Tensors with dims decide
    first, then 0-d tensors, then Python numbers (bool, int64 and the default float dtype), a
    lower group only raising the category: float32 + float64 0-d gives float32, int64 + 2.5
    gives float32 (numpy: float64 for both)."""
    groups = [None, None, None]  # Python numbers, 0-d tensors, tensors with dims
    for value in operands:
        if hasattr(value, "dtype") and not isinstance(value, numpy.generic):  # a Tensor or an array
            dtype, group = value.dtype, 2 if value.ndim else 1
        elif isinstance(value, (bool, numpy.bool_)):
            dtype, group = numpy.dtype(numpy.bool_), 0
        elif isinstance(value, numbers.Integral):
            dtype, group = numpy.dtype(numpy.int64), 0
        elif isinstance(value, numbers.Real):
            dtype, group = default_dtype(), 0
        else:
            raise TypeError(f"unsupported operand of type {type(value).__name__}: expected a Tensor or a number")
        groups[group] = dtype if groups[group] is None else promote_types(groups[group], dtype)
    return _combine(groups[2], _combine(groups[1], groups[0]))


def _operand(value, dtype, xp):
    """`value` as a Tensor of `dtype`: a tensor through a cast (an op: its gradient is cast back),
    a number or an array as a constant."""
    if isinstance(value, Tensor):
        return cast(value, dtype)
    if hasattr(value, "shape") and not isinstance(value, numpy.generic):
        return Tensor(as_array(value).astype(dtype, copy=False))
    return Tensor(xp.asarray(value, dtype=dtype))


class BinaryFunction(Function):
    """An op of two inputs that broadcast against each other as numpy broadcasts; both are first
    brought to the dtype torch computes in (see result_type)."""

    quotient = False  # True for Div: dividing integers gives floats

    def __call__(self, a, b):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype):
            dtype = result_type(a, b)
            if self.quotient and dtype.kind != "f":
                dtype = default_dtype()
            xp = get_array_module((a if isinstance(a, Tensor) else b).array)
            a, b = _operand(a, dtype, xp), _operand(b, dtype, xp)
        elif self.quotient and a.dtype.kind != "f":
            a, b = cast(a, default_dtype()), cast(b, default_dtype())
        try:
            return super().__call__(a, b)
        except ValueError:
            message = self.shape_error(get_array_module(a.array), a.shape, b.shape)
            if message is None:
                raise
            raise ShapeError(message) from None

    def shape_error(self, xp, a_shape, b_shape):
        """Why inputs of these shapes cannot meet in this op, or None if their shapes are fine."""
        try:
            xp.broadcast_shapes(a_shape, b_shape)
        except ValueError:
            return (f"{self.name}: cannot broadcast shapes {a_shape} and {b_shape}; "
                    "trailing dimensions must be equal or 1")
        return None

    def reduce_grads(self, grad_a, grad_b):
        """Sum each gradient back to the shape of its input, and cast it to the input's dtype (a
        float32 input that met a float64 one still gets a float32 gradient, as in torch)."""
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (cast(sum_to(grad_a, a.shape), a.dtype) if need_a else None,
                cast(sum_to(grad_b, b.shape), b.dtype) if need_b else None)


class Add(BinaryFunction):
    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, grad_output):
        return self.reduce_grads(grad_output, grad_output)


class Sub(BinaryFunction):
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, grad_output):
        return self.reduce_grads(grad_output, -grad_output if self.needs_input_grad[1] else None)


class Mul(BinaryFunction):
    def forward(self, a, b):
        return a * b

    def saved_positions(self):
        return other_factors(self.needs_input_grad)

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return self.reduce_grads(grad_output * b if need_a else None, grad_output * a if need_b else None)


class Div(BinaryFunction):
    quotient = True

    def forward(self, a, b):
        return a / b

    def saved_positions(self):
        need_a, need_b = self.needs_input_grad
        return (0, 1) if need_b else (1,)  # d/da reads b; d/db reads a and b

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        # d/db (a / b) = -a / b²
        return self.reduce_grads(grad_output / b if need_a else None,
                                 -grad_output * a / (b * b) if need_b else None)


class Pow(BinaryFunction):
    saves_output = True

    def forward(self, a, b):
        return a ** b

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            # d/da a^b = b a^(b-1), taken as 0 where b = 0 (torch's rule: not 0 · 0^-1 = NaN at a = 0)
            zero_exponent = b.array == 0
            power = a ** where(zero_exponent, 1.0, b - 1)  # never 0^-1 in the branch thrown away
            grad_a = where(zero_exponent, 0.0, grad_output * (b * power))
        if need_b:
            # d/db a^b = a^b log a, taken as 0 where a = 0 and b >= 0 (for b < 0: inf · -inf = -inf)
            no_log = (a.array == 0) & (b.array >= 0)
            grad_b = grad_output * where(no_log, 0.0, self.output() * log(where(no_log, 1.0, a)))
        return self.reduce_grads(grad_a, grad_b)


class Maximum(BinaryFunction):
    def forward(self, a, b):
        return get_array_module(a).maximum(a, b)

    def backward(self, grad_output):
        a, b = (x.array for x in self.inputs)
        # the larger input takes the gradient; a tie splits it in half, as torch does
        shared = where(a == b, grad_output / 2, grad_output)
        return self.reduce_grads(where(a < b, 0.0, shared), where(a > b, 0.0, shared))


class Minimum(BinaryFunction):
    def forward(self, a, b):
        return get_array_module(a).minimum(a, b)

    def backward(self, grad_output):
        a, b = (x.array for x in self.inputs)
        shared = where(a == b, grad_output / 2, grad_output)
        return self.reduce_grads(where(a > b, 0.0, shared), where(a < b, 0.0, shared))


class Where(BinaryFunction):
    saves_inputs = False

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return get_array_module(a).where(self.condition, a, b)

    def shape_error(self, xp, a_shape, b_shape):
        condition_shape = tuple(getattr(self.condition, "shape", ()))
        try:
            xp.broadcast_shapes(condition_shape, a_shape, b_shape)
        except ValueError:
            return (f"{self.name}: cannot broadcast the condition's shape {condition_shape} and the "
                    f"shapes {a_shape} and {b_shape} of the values")
        return None

    def backward(self, grad_output):
        return self.reduce_grads(where(self.condition, grad_output, 0.0),
                                 where(self.condition, 0.0, grad_output))


class MatMul(BinaryFunction):
    """Matrix product of the last two axes, the leading (batch) axes broadcast."""

    def __call__(self, a, b):
        if a.dtype != b.dtype:  # torch does not promote in a matrix product
            raise DTypeError(f"matmul: expected both operands to have the same dtype, got {a.dtype} and {b.dtype}; "
                             "convert one of them, e.g. x.float()")
        return super().__call__(a, b)

    def forward(self, a, b):
        return get_array_module(a).matmul(a, b)

    def saved_positions(self):
        return other_factors(self.needs_input_grad)

    def shape_error(self, xp, a_shape, b_shape):
        if a_shape[-1] != b_shape[-2]:
            return (f"matmul: shapes {a_shape} and {b_shape} cannot be multiplied: the last dimension "
                    f"of the first ({a_shape[-1]}) must equal the second-to-last of the second "
                    f"({b_shape[-2]})")
        try:
            xp.broadcast_shapes(a_shape[:-2], b_shape[:-2])
        except ValueError:
            return f"matmul: the batch dimensions of shapes {a_shape} and {b_shape} cannot broadcast"
        return None

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return self.reduce_grads(matmul(grad_output, b.mT) if need_a else None,
                                 matmul(a.mT, grad_output) if need_b else None)


class Neg(Function):
    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, grad_output):
        return -grad_output


class Exp(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, grad_output):
        return grad_output * self.output()


class Expm1(Function):
    """e^x - 1, exact for small x (where exp(x) - 1 would cancel): ELU's negative side."""
    computes_in_float = True

    def forward(self, x):
        return get_array_module(x).expm1(x)

    def backward(self, grad_output):
        return grad_output * exp(self.inputs[0])


def _erf_array(x):
    """erf on an array, to about 1e-15: its Taylor series below |x| = 2 (every term is known, the
    loop runs over terms, not elements), else 1 - erfc(|x|) from erfc's continued fraction
    x + (1/2)/(x + 1/(x + (3/2)/(x + ...))), evaluated from its 80th level up."""
    xp = get_array_module(x)
    wide = x.astype(xp.float64)
    magnitude = xp.abs(wide)
    small = xp.minimum(magnitude, 2.0)
    term, total, square = small.copy(), small.copy(), small * small
    for n in range(1, 60):
        term = term * (-square) / n
        total = total + term / (2 * n + 1)
    series = total * (2 / math.sqrt(math.pi))
    large = xp.maximum(magnitude, 2.0)
    fraction = large.copy()
    for n in range(80, 0, -1):
        fraction = large + (n / 2) / fraction
    tail = 1 - xp.exp(-large * large) / (math.sqrt(math.pi) * fraction)
    return (xp.sign(wide) * xp.where(magnitude < 2.0, series, tail)).astype(x.dtype)


class Erf(Function):
    computes_in_float = True

    def forward(self, x):
        return _erf_array(x)

    def backward(self, grad_output):
        x = self.inputs[0]
        return grad_output * (2 / math.sqrt(math.pi)) * exp(-(x * x))  # d/dx erf(x) = 2/√π e^(-x²)


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, grad_output):
        return grad_output / self.inputs[0]


class Sqrt(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, grad_output):
        return grad_output / (2 * self.output())


class Sign(Function):
    """-1, 0 or 1. Its derivative is zero wherever it exists (torch takes 0 at x = 0 too)."""

    saves_inputs = False

    def forward(self, x):
        return get_array_module(x).sign(x)

    def backward(self, grad_output):
        return Tensor(get_array_module(grad_output.array).zeros_like(grad_output.array))


class Abs(Function):
    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, grad_output):
        # d|x|/dx = sign(x), an op of x: so this gradient is in x's graph as torch's is (its own
        # derivative being zero)
        return grad_output * sign(self.inputs[0])


class Clamp(Function):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        xp = get_array_module(x)
        if self.low is not None:
            x = xp.maximum(x, self.low)
        return x if self.high is None else xp.minimum(x, self.high)

    def backward(self, grad_output):
        x = self.inputs[0].array
        above_low = True if self.low is None else x >= self.low
        below_high = True if self.high is None else x <= self.high
        # the gradient passes where x is inside [low, high], bounds included, as in torch
        return where(get_array_module(x).asarray(above_low & below_high), grad_output, 0.0)


def add(a, b):
    return Add()(a, b)


def sub(a, b):
    return Sub()(a, b)


def mul(a, b):
    return Mul()(a, b)


def div(a, b):
    return Div()(a, b)


def pow(a, b):
    return Pow()(a, b)


def neg(x):
    return Neg()(x)


def floating(x):
    """x itself if it is a float tensor; an integer or bool tensor as the default float dtype, as
    torch gives exp, log, sqrt, tanh... of integers (numpy would give float64)."""
    return x if x.dtype.kind == "f" else cast(x, default_dtype())


def exp(x):
    return Exp()(floating(x))


def expm1(x):
    return Expm1()(x)


def erf(x):
    return Erf()(x)


def log(x):
    return Log()(floating(x))


def sqrt(x):
    return Sqrt()(floating(x))


def rsqrt(x):
    return 1 / sqrt(x)


def sign(x):
    return Sign()(x)


def abs(x):
    return Abs()(x)


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    return Clamp(min, max)(x)


def maximum(a, b):
    return Maximum()(a, b)


def minimum(a, b):
    return Minimum()(a, b)


def where(condition, a, b):
    """Elementwise `a` where `condition` (a bool tensor) holds, else `b`; the gradient flows to the
    chosen one. `a` and `b` may be tensors or numbers: `where(x > 0, 4, 2)` is an int64 tensor."""
    if isinstance(condition, Tensor):
        condition = condition.array
    if getattr(condition, "dtype", None) != numpy.bool_:
        raise DTypeError(f"where: the condition must be a bool tensor, got "
                         f"{getattr(condition, 'dtype', type(condition).__name__)}; compare first, e.g. x > 0")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(get_array_module(condition).asarray(a, dtype=result_type(a, b)))
    check_same_device("where", [(a if isinstance(a, Tensor) else b).array, condition])
    return Where(condition)(a, b)


def masked_fill(x, mask, value):
    """x with `value` (a number, or a 0-d tensor: then differentiable) where the bool `mask`,
    broadcasting to x, is True; the result keeps x's dtype."""
    if not isinstance(value, Tensor):
        value = Tensor(get_array_module(x.array).asarray(value, dtype=x.dtype))
    return where(mask, value, x)


def matmul(a, b):
    """torch.matmul: vectors are promoted to matrices for the product, then the axis is dropped."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both arguments need at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape != b.shape:  # (a * b) would broadcast a length-1 vector instead of refusing
            raise ShapeError(f"matmul: the dot product of vectors needs equal lengths, got shapes {a.shape} and "
                             f"{b.shape}")
        return (a * b).sum()
    if a.ndim == 1:
        return MatMul()(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul()(a, b.unsqueeze(-1)).squeeze(-1)
    return MatMul()(a, b)


def _check_ndim(op, expected, **tensors):
    for name, t in tensors.items():
        if t.ndim != expected:
            raise ShapeError(f"{op}: {name} must be {expected}-D, got shape {t.shape}")


def mm(input, mat2):
    _check_ndim("mm", 2, input=input, mat2=mat2)
    return matmul(input, mat2)


def bmm(input, mat2):
    _check_ndim("bmm", 3, input=input, mat2=mat2)
    return matmul(input, mat2)


def dot(input, tensor):
    _check_ndim("dot", 1, input=input, tensor=tensor)
    return matmul(input, tensor)


def outer(input, vec2):
    _check_ndim("outer", 1, input=input, vec2=vec2)
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def square(x):
    return x * x


def lerp(input, end, weight):
    """input + weight·(end - input), computed from the nearer end as torch does (for |weight| < 0.5
    from input, else end - (end - input)·(1 - weight)), so the results agree to the last bit."""
    difference = end - input
    if not isinstance(weight, Tensor):
        return input + weight * difference if builtins.abs(weight) < 0.5 else end - difference * (1 - weight)
    return where(weight.abs() < 0.5, input + weight * difference, end - difference * (1 - weight))


def isnan(x):
    return Tensor(get_array_module(x.array).isnan(x.array))


def isfinite(x):
    return Tensor(get_array_module(x.array).isfinite(x.array))


def _einsum_subscripts(equation, count):
    """The input subscripts and the output subscript of an einsum equation ('ij,jk->ik'; without
    '->', the letters that appear once, in alphabetical order, as in torch)."""
    equation = equation.replace(" ", "")
    if "." in equation:
        raise NotImplementedError(f"einsum: ellipsis ('...') is not supported, got {equation!r}")
    inputs, arrow, output = equation.partition("->")
    inputs = inputs.split(",")
    if len(inputs) != count:
        raise ValueError(f"einsum: {equation!r} names {len(inputs)} operands, got {count}")
    if not arrow:
        letters = "".join(inputs)
        output = "".join(sorted(letter for letter in set(letters) if letters.count(letter) == 1))
    for subscript in inputs:
        if len(set(subscript)) != len(subscript):
            raise NotImplementedError(f"einsum: a letter repeated within one operand (a diagonal, {subscript!r}) is "
                                      "not supported")
    return inputs, output


class Einsum(Function):
    """Σ over the letters not in the output of the product of the operands. The gradient of each
    operand is again an einsum, of the incoming gradient with the other operands, broadcast over
    the letters only that operand had (its sums)."""

    def __init__(self, inputs, output):
        self.inputs_subscripts, self.output_subscript = inputs, output

    def forward(self, *operands):
        return get_array_module(operands[0]).einsum(f"{','.join(self.inputs_subscripts)}->{self.output_subscript}",
                                                    *operands)

    def backward(self, grad_output):
        grads = []
        for i, subscript in enumerate(self.inputs_subscripts):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, t) for j, (s, t) in enumerate(zip(self.inputs_subscripts, self.inputs)) if j != i]
            available = set(self.output_subscript).union(*(s for s, _ in others))
            kept = "".join(letter for letter in subscript if letter in available)
            grad = Einsum([self.output_subscript] + [s for s, _ in others], kept)(grad_output, *(t for _, t in others))
            if kept != subscript:  # letters summed over in this operand alone: each element got the sum
                grad = grad.reshape(tuple(self.inputs[i].shape[k] if letter in available else 1
                                          for k, letter in enumerate(subscript))).expand(self.inputs[i].shape)
            grads.append(grad)
        return tuple(grads)


def einsum(equation, *operands):
    """torch.einsum('ij,jk->ik', a, b) (operands also as one list); no ellipsis, no diagonals."""
    operands = tuple(operands[0]) if len(operands) == 1 and isinstance(operands[0], (tuple, list)) else operands
    inputs, output = _einsum_subscripts(equation, len(operands))
    for subscript, operand in zip(inputs, operands):
        if len(subscript) != operand.ndim:
            raise ShapeError(f"einsum: subscript {subscript!r} has {len(subscript)} letters for an operand of shape "
                             f"{operand.shape}")
    dtype = result_type(*operands)
    return Einsum(inputs, output)(*(cast(operand, dtype) for operand in operands))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether |input - other| <= atol + rtol·|other| everywhere (broadcasting): a Python bool."""
    check_same_device("allclose", [input.array, other.array])
    return bool(get_array_module(input.array).allclose(input.array, other.array, rtol, atol, equal_nan))


def equal(input, other):
    """Whether both have the same shape and the same values: a Python bool."""
    check_same_device("equal", [input.array, other.array])
    return input.shape == other.shape and bool((input.array == other.array).all())
