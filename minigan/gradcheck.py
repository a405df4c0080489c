"""Check any differentiable function's backward against central finite differences, in float64.

`gradcheck` compares first derivatives; `gradgradcheck` compares second derivatives by running
`gradcheck` on the function (inputs, v) -> vᵀ·J(inputs), with the incoming gradient v as an input
too, so a backward that is not linear in its incoming gradient is caught as well.
"""
import numpy

from minigan.autograd import grad
from minigan.tensor import Tensor, enable_grad, no_grad


class GradcheckError(AssertionError):
    """Backward and finite differences disagree."""


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _float64_copies(inputs):
    """Fresh float64 leaves with the inputs' values: the check never touches the caller's tensors."""
    copies = []
    for x in _as_tuple(inputs):
        if isinstance(x, Tensor):
            copy = Tensor(numpy.array(x.array, dtype=numpy.float64) if x.dtype.kind == "f" else x.array.copy())
            copies.append(copy.requires_grad_(x.requires_grad))
        else:
            copies.append(x)
    return copies


def _vector_jacobian_products(outputs, cotangents, wrt, create_graph):
    """vᵀ·∂outputs/∂x for each x in `wrt`; zeros where an x does not reach the outputs."""
    differentiable = [(o, v) for o, v in zip(outputs, cotangents) if o.requires_grad]
    if not differentiable:
        return [Tensor(numpy.zeros(x.shape)) for x in wrt]
    grads = grad([o for o, _ in differentiable], wrt, [v for _, v in differentiable],
                 retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [Tensor(numpy.zeros(x.shape)) if g is None else g for x, g in zip(wrt, grads)]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, random_directions=None, seed=0):
    """True if the backward of `fn` agrees with finite differences for every input that requires
    grad; otherwise raises GradcheckError naming the input and its worst element.

    The check projects the outputs on a random cotangent v, so one backward gives vᵀJ for every
    input. By default each input element is perturbed in turn; `random_directions=k` instead
    perturbs each input along k random directions, which keeps checks of large inputs fast.
    """
    inputs = _float64_copies(inputs)
    rng = numpy.random.default_rng(seed)
    with enable_grad():
        outputs = _as_tuple(fn(*inputs))
    cotangents = [Tensor(rng.standard_normal(o.shape)) for o in outputs]
    checked = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    analytic = _vector_jacobian_products(outputs, cotangents, [x for _, x in checked], create_graph=False)

    def projected_output():
        with no_grad():
            values = _as_tuple(fn(*inputs))
        return sum(float((o.array * v.array).sum()) for o, v in zip(values, cotangents))

    def directional_derivative(x, direction):
        original = x.array.copy()
        x.array = original + eps * direction
        plus = projected_output()
        x.array = original - eps * direction
        minus = projected_output()
        x.array = original
        return (plus - minus) / (2 * eps)

    for (index, x), gradient in zip(checked, analytic):
        if random_directions is None:
            directions = (numpy.eye(1, x.array.size, k).reshape(x.shape) for k in range(x.array.size))
            count = x.array.size
        else:
            directions = (rng.standard_normal(x.shape) for _ in range(random_directions))
            count = random_directions
        numerical, expected = numpy.empty(count), numpy.empty(count)
        for k, direction in enumerate(directions):
            numerical[k] = directional_derivative(x, direction)
            expected[k] = float((gradient.array * direction).sum())
        excess = numpy.abs(expected - numerical) - (atol + rtol * numpy.abs(numerical))
        worst = int(numpy.argmax(excess))
        if excess[worst] > 0:
            where = (f"element {numpy.unravel_index(worst, x.shape)}" if random_directions is None
                     else f"random direction {worst}")
            raise GradcheckError(
                f"gradcheck: input {index} (shape {x.shape}): backward and finite differences "
                f"disagree at {where}: backward gives {expected[worst]:.10g}, finite differences "
                f"{numerical[worst]:.10g} (difference {abs(expected[worst] - numerical[worst]):.3g}, "
                f"allowed {atol + rtol * abs(numerical[worst]):.3g})")
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, random_directions=None, seed=0):
    """True if the second derivatives of `fn` agree with finite differences of its first ones.

    Checks the function (inputs, v) -> vᵀ·∂fn/∂inputs, built with create_graph=True, where v (the
    incoming gradient) is an input as well. Inputs numbered past those of `fn` are the v's.
    """
    inputs = _float64_copies(inputs)
    rng = numpy.random.default_rng(seed + 1)
    with enable_grad():
        outputs = _as_tuple(fn(*inputs))
    cotangents = [Tensor(rng.standard_normal(o.shape)).requires_grad_() for o in outputs]
    count = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:count], args[count:]
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        with enable_grad():  # the first derivatives need a graph even when probed under no_grad
            return tuple(_vector_jacobian_products(_as_tuple(fn(*xs)), vs, wrt, create_graph=True))

    return gradcheck(first_derivatives, tuple(inputs) + tuple(cotangents), eps, atol, rtol,
                     random_directions, seed)
