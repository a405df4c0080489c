"""Elementwise arithmetic and matmul, each forward beside its backward."""
from minigan.autograd import Function
from minigan.backend import get_array_module
from minigan.ops.broadcast import sum_to
from minigan.tensor import Tensor


class BinaryFunction(Function):
    """An op of two inputs that broadcast against each other as numpy broadcasts."""

    def __call__(self, a, b):
        try:
            return super().__call__(a, b)
        except ValueError:
            a_shape, b_shape = getattr(a, "shape", ()), getattr(b, "shape", ())
            try:
                get_array_module(getattr(a, "data", a)).broadcast_shapes(a_shape, b_shape)
            except ValueError:
                raise ValueError(
                    f"{self.name}: cannot broadcast shapes {tuple(a_shape)} and {tuple(b_shape)}; "
                    "trailing dimensions must be equal or 1") from None
            raise

    def reduce_grads(self, grad_a, grad_b):
        """Sum each gradient back to the shape of its input, skipping inputs that need none."""
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (sum_to(grad_a, a.shape) if need_a else None,
                sum_to(grad_b, b.shape) if need_b else None)


class Add(BinaryFunction):
    def forward(self, a, b):
        return a + b

    def backward(self, grad_output):
        return self.reduce_grads(grad_output, grad_output)


class Sub(BinaryFunction):
    def forward(self, a, b):
        return a - b

    def backward(self, grad_output):
        return self.reduce_grads(grad_output, -grad_output)


class Mul(BinaryFunction):
    def forward(self, a, b):
        return a * b

    def backward(self, grad_output):
        a, b = self.inputs
        return self.reduce_grads(grad_output * b, grad_output * a)


class Div(BinaryFunction):
    def forward(self, a, b):
        return a / b

    def backward(self, grad_output):
        a, b = self.inputs
        # d/db (a / b) = -a / b²
        return self.reduce_grads(grad_output / b, -grad_output * a / (b * b))


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

    def backward(self, grad_output):
        return self.reduce_grads(where(self.condition, grad_output, 0.0),
                                 where(self.condition, 0.0, grad_output))


class MatMul(BinaryFunction):
    """Matrix product of the last two axes, the leading (batch) axes broadcast."""

    def forward(self, a, b):
        try:
            return get_array_module(a).matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: the last dimension "
                f"of the first ({a.shape[-1]}) must equal the second-to-last of the second "
                f"({b.shape[-2]})") from None

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
    return Where(condition)(a, b)


def matmul(a, b):
    """torch.matmul: vectors are promoted to matrices for the product, then the axis is dropped."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return MatMul()(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul()(a, b.unsqueeze(-1)).squeeze(-1)
    return MatMul()(a, b)
