"""gradcheck and gradgradcheck: they pass on every op family and catch backwards that are wrong."""
import numpy
import pytest

import minigan
from minigan import Function, GradcheckError, gradcheck, gradgradcheck

rng = numpy.random.default_rng(4)


def randn(*shape):
    return minigan.tensor(rng.standard_normal(shape), requires_grad=True)


def positive(*shape):
    return minigan.tensor(rng.uniform(0.5, 2.0, shape), requires_grad=True)


def away_from_zero(*shape):
    return minigan.tensor(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape), requires_grad=True)


F = minigan.nn.functional

OP_FAMILIES = [
    pytest.param(lambda a, b: a + b * 2 - 1.5, (randn(2, 3), randn(3)), id="add sub broadcast"),
    pytest.param(lambda a, b: a * b / (b * b + 1), (randn(2, 3), randn(2, 1)), id="mul div"),
    pytest.param(lambda a, b: a ** b + 2.0 ** b + a ** 3, (positive(2, 3), randn(2, 3)), id="pow"),
    pytest.param(lambda a, b: a @ b, (randn(2, 2, 3), randn(3, 2)), id="matmul batch"),
    pytest.param(lambda a: a.exp() + a.log() + a.sqrt() + (-a).abs(), (positive(2, 3),), id="exp log sqrt abs neg"),
    pytest.param(lambda a: a.tanh() * a.sigmoid(), (randn(2, 3),), id="tanh sigmoid"),
    pytest.param(lambda a: a.relu() + a.clamp(-0.4, 0.4) + F.leaky_relu(a, 0.2), (away_from_zero(2, 3),),
                 id="relu clamp leaky_relu"),
    pytest.param(lambda a: F.softplus(a, beta=2.0) + F.logsigmoid(a), (randn(2, 3),), id="softplus logsigmoid"),
    pytest.param(lambda a, b: minigan.maximum(a, b) * minigan.minimum(a, b), (randn(2, 3), randn(3)),
                 id="maximum minimum"),
    pytest.param(lambda a, b: minigan.where(a.detach() > 0, a * b, b), (randn(2, 3), randn(2, 3)), id="where"),
    pytest.param(lambda a: (a.sum(0), a.mean((0, 2), keepdim=True), a.var(-1)), (randn(2, 3, 2),),
                 id="sum mean var"),
    pytest.param(lambda a: a.norm(dim=1) + a.norm(), (randn(2, 3),), id="norm"),
    pytest.param(lambda a: a.reshape(3, 2).permute(1, 0).unsqueeze(0).expand(2, 2, 3).flatten(1) ** 2,
                 (randn(2, 3),), id="reshape permute unsqueeze expand flatten"),
    pytest.param(lambda a, b: minigan.cat([a[1:], b[[0, 0]]], 0) * minigan.stack([a[0], b[1]]).sum(0),
                 (randn(3, 2), randn(2, 2)), id="getitem cat stack"),
    pytest.param(lambda a: F.pad(a, (1, 2, 0, 1), value=0.5) ** 2, (randn(2, 3),), id="pad"),
]


@pytest.mark.parametrize("fn, inputs", OP_FAMILIES)
def test_gradcheck_passes_on_op_family(fn, inputs):
    assert gradcheck(fn, inputs) is True


@pytest.mark.parametrize("fn, inputs", OP_FAMILIES)
def test_gradgradcheck_passes_on_op_family(fn, inputs):
    assert gradgradcheck(fn, inputs) is True


@pytest.mark.parametrize("fn, inputs", OP_FAMILIES[:4])
def test_random_directions_pass_on_op_family(fn, inputs):
    assert gradcheck(fn, inputs, random_directions=3)
    assert gradgradcheck(fn, inputs, random_directions=3)


# -- deliberately wrong backwards -------------------------------------------------------------
class CubeWithWrongDerivative(Function):
    """x³ with backward 2x² instead of 3x²."""

    def forward(self, x):
        return x ** 3

    def backward(self, grad_output):
        x = self.inputs[0]
        return grad_output * 2 * x * x


class ScaleWithWrongSecondInput(Function):
    """a · b whose gradient for b forgets a."""

    def forward(self, a, b):
        return a * b

    def backward(self, grad_output):
        a, b = self.inputs
        return grad_output * b, grad_output


class CubeWithDetachedIncomingGradient(Function):
    """x³ with the right value of 3x²·v, but v cut from the graph: not differentiable in v."""

    def forward(self, x):
        return x ** 3

    def backward(self, grad_output):
        x = self.inputs[0]
        return grad_output.detach() * 3 * x * x


class CubeReadingACachedArray(Function):
    """x³ whose backward reads x as a raw array: right first, but a constant to second order."""

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, grad_output):
        return grad_output * minigan.tensor(3 * self.x * self.x)


def test_gradcheck_names_the_input_with_a_wrong_derivative():
    x = randn(2, 3)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\).*element"):
        gradcheck(lambda t: CubeWithWrongDerivative()(t), (x,))


def test_gradcheck_names_the_second_input_when_only_it_is_wrong():
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(3,\)\)"):
        gradcheck(lambda a, b: ScaleWithWrongSecondInput()(a, b), (away_from_zero(3), randn(3)))


def test_gradcheck_in_random_directions_catches_a_wrong_derivative():
    with pytest.raises(GradcheckError, match=r"input 0.*random direction"):
        gradcheck(lambda t: CubeWithWrongDerivative()(t), (randn(4, 5),), random_directions=2)


def test_gradgradcheck_catches_a_backward_not_differentiable_in_its_incoming_gradient():
    fn, x = (lambda t: CubeWithDetachedIncomingGradient()(t)), randn(2, 3)
    assert gradcheck(fn, (x,))  # the first derivative is right...
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\)"):  # ...but not in v, input 1
        gradgradcheck(fn, (x,))


def test_gradgradcheck_catches_a_backward_that_reads_a_cached_raw_array():
    fn, x = (lambda t: CubeReadingACachedArray()(t)), randn(2, 3)
    assert gradcheck(fn, (x,))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\)"):
        gradgradcheck(fn, (x,))


def test_gradgradcheck_in_random_directions_catches_a_cached_raw_array():
    with pytest.raises(GradcheckError, match="random direction"):
        gradgradcheck(lambda t: CubeReadingACachedArray()(t), (randn(3, 4),), random_directions=2)


# -- how the checks treat their arguments ----------------------------------------------------
def test_gradcheck_leaves_the_callers_tensors_alone_and_works_in_float64():
    x = minigan.tensor(rng.standard_normal((2, 3)).astype(numpy.float32), requires_grad=True)
    before = x.array.copy()
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t.tanh()

    assert gradcheck(fn, (x,))
    numpy.testing.assert_array_equal(x.array, before)
    assert x.dtype == numpy.float32 and x.grad is None
    assert set(seen) == {numpy.dtype(numpy.float64)}


def test_gradcheck_skips_inputs_that_need_no_grad_and_passes_non_tensors_through():
    x, constant = randn(3), minigan.tensor(rng.standard_normal(3))
    assert gradcheck(lambda a, c, k: a ** k * c, (x, constant, 3))
    assert gradgradcheck(lambda a, c, k: a ** k * c, (x, constant, 3))


def test_gradcheck_handles_several_outputs():
    assert gradcheck(lambda a, b: (a * b, a.exp(), b.sum()), (randn(3), randn(3)))
