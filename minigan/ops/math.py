"""Elementwise arithmetic and matmul, each forward beside its backward."""
from minigan.autograd import Function
from minigan.backend import check_same_device, default_dtype, get_array_module
from minigan.ops.broadcast import sum_to
from minigan.ops.shape import cast
from minigan.tensor import Tensor


def _float_dtype(value):
    """The float dtype a Python float or a float tensor brings to an op, else None."""
    if isinstance(value, float):
        return default_dtype()
    if isinstance(value, Tensor) and value.dtype.kind == "f":
        return value.dtype
    return None


def _is_integer_tensor(x):
    return isinstance(x, Tensor) and x.data.dtype.kind in "biu"


def _integers_as_floats(a, b, quotient):
    """torch's type promotion where numpy's differs: an integer tensor meeting a float takes that
    float's dtype, and an integer quotient the default dtype (numpy would give float64 for both)."""
    dtype = _float_dtype(a)
    if dtype is None:
        dtype = _float_dtype(b)
    if dtype is None and quotient:
        dtype = default_dtype()
    if dtype is None:
        return a, b
    return tuple(Tensor(x.data.astype(dtype)) if _is_integer_tensor(x) else x for x in (a, b))


class BinaryFunction(Function):
    """An op of two inputs that broadcast against each other as numpy broadcasts."""

    quotient = False  # True for Div: dividing integers gives floats

    def __call__(self, a, b):
        if _is_integer_tensor(a) or _is_integer_tensor(b):
            a, b = _integers_as_floats(a, b, self.quotient)
        try:
            return super().__call__(a, b)
        except ValueError:
            a_shape, b_shape = tuple(getattr(a, "shape", ())), tuple(getattr(b, "shape", ()))
            message = self.shape_error(get_array_module(getattr(a, "data", a)), a_shape, b_shape)
            if message is None:
                raise
            raise ValueError(message) from None

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
    def forward(self, a, b):
        return a + b

    def backward(self, grad_output):
        return self.reduce_grads(grad_output, grad_output)


class Sub(BinaryFunction):
    def forward(self, a, b):
        return a - b

    def backward(self, grad_output):
        return self.reduce_grads(grad_output, -grad_output if self.needs_input_grad[1] else None)


class Mul(BinaryFunction):
    def forward(self, a, b):
        return a * b

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return self.reduce_grads(grad_output * b if need_a else None, grad_output * a if need_b else None)


class Div(BinaryFunction):
    quotient = True

    def forward(self, a, b):
        return a / b

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        # d/db (a / b) = -a / b²
        return self.reduce_grads(grad_output / b if need_a else None,
                                 -grad_output * a / (b * b) if need_b else None)


class Pow(BinaryFunction):
    def forward(self, a, b):
        return a ** b

    def backward(self, grad_output):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        # d/da a^b = b a^(b-1);  d/db a^b = a^b log a (taken as 0 where a = 0, as torch does)
        grad_a = grad_output * b * a ** (b - 1) if need_a else None
        grad_b = grad_output * a ** b * log(where(a.data == 0, 1.0, a)) if need_b else None
        return self.reduce_grads(grad_a, grad_b)


class Maximum(BinaryFunction):
    def forward(self, a, b):
        return get_array_module(a).maximum(a, b)

    def backward(self, grad_output):
        a, b = (x.data for x in self.inputs)
        # the larger input takes the gradient; a tie splits it in half, as torch does
        a_share = (a > b) + 0.5 * (a == b)
        return self.reduce_grads(grad_output * a_share.astype(grad_output.dtype),
                                 grad_output * (1 - a_share).astype(grad_output.dtype))


class Minimum(BinaryFunction):
    def forward(self, a, b):
        return get_array_module(a).minimum(a, b)

    def backward(self, grad_output):
        a, b = (x.data for x in self.inputs)
        a_share = (a < b) + 0.5 * (a == b)
        return self.reduce_grads(grad_output * a_share.astype(grad_output.dtype),
                                 grad_output * (1 - a_share).astype(grad_output.dtype))


class Where(BinaryFunction):
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

    def forward(self, a, b):
        return get_array_module(a).matmul(a, b)

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
    def forward(self, x):
        return -x

    def backward(self, grad_output):
        return -grad_output


class Exp(Function):
    saves_output = True

    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, grad_output):
        return grad_output * self.output()


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, grad_output):
        return grad_output / self.inputs[0]


class Sqrt(Function):
    saves_output = True

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, grad_output):
        return grad_output / (2 * self.output())


class Abs(Function):
    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, grad_output):
        return grad_output * get_array_module(grad_output.data).sign(self.inputs[0].data)


class Clamp(Function):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        xp = get_array_module(x)
        if self.low is not None:
            x = xp.maximum(x, self.low)
        return x if self.high is None else xp.minimum(x, self.high)

    def backward(self, grad_output):
        x = self.inputs[0].data
        above_low = True if self.low is None else x >= self.low
        below_high = True if self.high is None else x <= self.high
        # the gradient passes where x is inside [low, high], bounds included, as in torch
        return grad_output * (above_low & below_high).astype(grad_output.dtype)


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


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def rsqrt(x):
    return 1 / sqrt(x)


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
    """Elementwise `a` where `condition` holds, else `b`; the gradient flows to the chosen one."""
    if isinstance(condition, Tensor):
        condition = condition.data
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("where: at least one of the two value arguments must be a Tensor")
    check_same_device("where", [(a if isinstance(a, Tensor) else b).data, condition])
    return Where(condition)(a, b)


def matmul(a, b):
    """torch.matmul: vectors are promoted to matrices for the product, then the axis is dropped."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape != b.shape:  # (a * b) would broadcast a length-1 vector instead of refusing
            raise ValueError(f"matmul: the dot product of vectors needs equal lengths, got shapes {a.shape} and "
                             f"{b.shape}")
        return (a * b).sum()
    if a.ndim == 1:
        return MatMul()(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul()(a, b.unsqueeze(-1)).squeeze(-1)
    return MatMul()(a, b)
