"""Every op against torch in float64: forward, first-order and second-order gradients, one line each.

Each line names an op, the function to run and its inputs. `op(...)` runs the same lambda on
minigan and on torch tensors (operators and methods share their names); `lib_op(...)` passes the
library itself first, so `lambda lib, a, b: lib.maximum(a, b)` calls `minigan.maximum` on one
side and `torch.maximum` on the other. `assert_matches_torch` does the comparing (tests/parity.py).
"""
import numpy
import pytest
from parity import assert_close, assert_matches_torch, on_cuda, torch

import minigan

rng = numpy.random.default_rng(2)


# -- inputs -----------------------------------------------------------------------------------
def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    """Values in [0.5, 2): inside the domain of log, sqrt and fractional powers."""
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    """Values with |x| in [0.5, 2): clear of the kink of abs and of division by zero."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def mask(*shape):
    return rng.random(shape) > 0.5


def values(*numbers):
    return numpy.array(numbers, dtype=numpy.float64)


# -- the table --------------------------------------------------------------------------------
def op(name, fn, *arrays):
    """`fn(*tensors)` on both libraries."""
    return pytest.param(fn, fn, arrays, id=name)


def lib_op(name, fn, *arrays):
    """`fn(lib, *tensors)` with lib = minigan on one side, torch on the other."""
    return pytest.param(lambda *t: fn(minigan, *t), lambda *t: fn(torch, *t), arrays, id=name)


ties = values(1.0, -2.0, 3.0, 0.5, -1.0, 2.0)
ties_other = values(1.0, 2.0, -3.0, 0.5, 4.0, 2.0)  # equal to `ties` at elements 0, 3 and 5

ARITHMETIC = [
    op("add", lambda a, b: a + b, randn(3, 4), randn(3, 4)),
    op("add broadcast (3,1)+(1,4)", lambda a, b: a + b, randn(3, 1), randn(1, 4)),
    op("add broadcast (2,3,4)+(4,)", lambda a, b: a + b, randn(2, 3, 4), randn(4)),
    op("add broadcast ()+(3,4)", lambda a, b: a + b, randn(), randn(3, 4)),
    op("add tensor+float", lambda a: a + 2.5, randn(3, 4)),
    op("add float+tensor", lambda a: 2.5 + a, randn(3, 4)),
    op("add tensor+int", lambda a: a + 2, randn(3, 4)),
    op("sub", lambda a, b: a - b, randn(3, 4), randn(3, 4)),
    op("sub broadcast (4,)-(3,1)", lambda a, b: a - b, randn(4), randn(3, 1)),
    op("sub tensor-float", lambda a: a - 1.5, randn(3, 4)),
    op("sub float-tensor", lambda a: 1.5 - a, randn(3, 4)),
    op("mul", lambda a, b: a * b, randn(3, 4), randn(3, 4)),
    op("mul broadcast (2,1,4)*(3,1)", lambda a, b: a * b, randn(2, 1, 4), randn(3, 1)),
    op("mul tensor*float", lambda a: a * 3.0, randn(3, 4)),
    op("mul float*tensor", lambda a: -3.0 * a, randn(3, 4)),
    op("mul self", lambda a: a * a, randn(3, 4)),
    op("div", lambda a, b: a / b, randn(3, 4), away_from_zero(3, 4)),
    op("div broadcast (3,4)/(4,)", lambda a, b: a / b, randn(3, 4), away_from_zero(4)),
    op("div tensor/float", lambda a: a / 2.0, randn(3, 4)),
    op("div float/tensor", lambda b: 2.0 / b, away_from_zero(3, 4)),
    op("pow tensor**2", lambda a: a ** 2, randn(3, 4)),
    op("pow tensor**3.0", lambda a: a ** 3.0, randn(3, 4)),
    op("pow tensor**0.5", lambda a: a ** 0.5, positive(3, 4)),
    op("pow tensor**-1.5", lambda a: a ** -1.5, positive(3, 4)),
    op("pow float**tensor", lambda b: 2.0 ** b, randn(3, 4)),
    op("pow tensor**tensor", lambda a, b: a ** b, positive(3, 4), randn(3, 4)),
    op("pow tensor**tensor broadcast", lambda a, b: a ** b, positive(3, 1), randn(4)),
    op("neg", lambda a: -a, randn(3, 4)),
    op("exp", lambda a: a.exp(), randn(3, 4)),
    op("log", lambda a: a.log(), positive(3, 4)),
    op("sqrt", lambda a: a.sqrt(), positive(3, 4)),
    op("abs", lambda a: a.abs(), away_from_zero(3, 4)),
    op("tanh", lambda a: a.tanh(), randn(3, 4)),
    op("sigmoid", lambda a: a.sigmoid(), randn(3, 4)),
    op("sigmoid large |x|", lambda a: a.sigmoid(), values(-50.0, -30.0, -1.0, 0.0, 1.0, 30.0, 50.0)),
    op("relu", lambda a: a.relu(), randn(3, 4)),
    op("clamp min max", lambda a: a.clamp(-0.5, 0.5), randn(3, 4)),
    op("clamp at the bounds", lambda a: a.clamp(-0.5, 0.5), values(-0.5, 0.5, -1.0, 0.2, 1.0)),
    op("clamp only min", lambda a: a.clamp(min=-0.3), randn(3, 4)),
    op("clamp only max", lambda a: a.clamp(max=0.3), randn(3, 4)),
    lib_op("maximum", lambda lib, a, b: lib.maximum(a, b), randn(3, 4), randn(3, 4)),
    lib_op("maximum ties", lambda lib, a, b: lib.maximum(a, b), ties, ties_other),
    lib_op("maximum broadcast", lambda lib, a, b: lib.maximum(a, b), randn(3, 1), randn(4)),
    lib_op("minimum", lambda lib, a, b: lib.minimum(a, b), randn(3, 4), randn(3, 4)),
    lib_op("minimum ties", lambda lib, a, b: lib.minimum(a, b), ties, ties_other),
    lib_op("minimum broadcast", lambda lib, a, b: lib.minimum(a, b), randn(4), randn(3, 1)),
    lib_op("where", lambda lib, c, a, b: lib.where(c, a, b), mask(3, 4), randn(3, 4), randn(3, 4)),
    lib_op("where broadcast", lambda lib, c, a, b: lib.where(c, a, b), mask(3, 4), randn(4), randn(3, 1)),
    lib_op("where tensor, float", lambda lib, c, a: lib.where(c, a, 0.5), mask(3, 4), randn(3, 4)),
    lib_op("where float, tensor", lambda lib, c, b: lib.where(c, -0.5, b), mask(3, 4), randn(3, 4)),
]

MATMUL = [
    op("matmul 2-D", lambda a, b: a @ b, randn(3, 4), randn(4, 5)),
    op("matmul batch", lambda a, b: a @ b, randn(2, 3, 4), randn(2, 4, 5)),
    op("matmul batch broadcast", lambda a, b: a @ b, randn(2, 1, 3, 4), randn(5, 4, 2)),
    op("matmul batch times 2-D", lambda a, b: a @ b, randn(2, 3, 4), randn(4, 5)),
    op("matmul 2-D times batch", lambda a, b: a @ b, randn(3, 4), randn(2, 4, 5)),
    op("matmul 1-D 1-D", lambda a, b: a @ b, randn(4), randn(4)),
    op("matmul 1-D 2-D", lambda a, b: a @ b, randn(4), randn(4, 5)),
    op("matmul 2-D 1-D", lambda a, b: a @ b, randn(3, 4), randn(4)),
    op("matmul 1-D batch", lambda a, b: a @ b, randn(4), randn(2, 4, 5)),
    op("matmul batch 1-D", lambda a, b: a @ b, randn(2, 3, 4), randn(4)),
    lib_op("matmul function", lambda lib, a, b: lib.matmul(a, b), randn(3, 4), randn(4, 2)),
    op("matmul method", lambda a, b: a.matmul(b), randn(3, 4), randn(4, 2)),
]

REDUCTIONS = [
    op("sum", lambda a: a.sum(), randn(2, 3, 4)),
    op("sum dim 0", lambda a: a.sum(0), randn(2, 3, 4)),
    op("sum dim -1", lambda a: a.sum(dim=-1), randn(2, 3, 4)),
    op("sum dim (0,2)", lambda a: a.sum((0, 2)), randn(2, 3, 4)),
    op("sum dim (-1,0) keepdim", lambda a: a.sum((-1, 0), keepdim=True), randn(2, 3, 4)),
    op("sum dim 1 keepdim", lambda a: a.sum(1, keepdim=True), randn(2, 3, 4)),
    op("sum dim () means every dim", lambda a: a.sum(()), randn(2, 3)),
    op("mean dim [] means every dim", lambda a: a.mean([]), randn(2, 3)),
    op("sum 0-d over dim -1", lambda a: a.sum(-1), randn()),
    lib_op("sum function", lambda lib, a: lib.sum(a, 1), randn(2, 3, 4)),
    op("mean", lambda a: a.mean(), randn(2, 3, 4)),
    op("mean dim 1", lambda a: a.mean(1), randn(2, 3, 4)),
    op("mean dim -2 keepdim", lambda a: a.mean(-2, keepdim=True), randn(2, 3, 4)),
    op("mean dim (0,2)", lambda a: a.mean((0, 2)), randn(2, 3, 4)),
    op("var", lambda a: a.var(), randn(2, 3, 4)),
    op("var dim 1", lambda a: a.var(1), randn(2, 3, 4)),
    op("var dim -1 keepdim", lambda a: a.var(-1, keepdim=True), randn(2, 3, 4)),
    op("var dim (0,2)", lambda a: a.var((0, 2)), randn(2, 3, 4)),
    op("var unbiased=False", lambda a: a.var(1, unbiased=False), randn(2, 3, 4)),
    op("var correction=0", lambda a: a.var(dim=(0, 1), correction=0), randn(2, 3, 4)),
    op("var correction=2", lambda a: a.var(dim=2, correction=2), randn(2, 3, 4)),
    op("norm", lambda a: a.norm(), randn(2, 3, 4)),
    op("norm dim 1", lambda a: a.norm(dim=1), randn(2, 3, 4)),
    op("norm p=2 dim -1 keepdim", lambda a: a.norm(p=2, dim=-1, keepdim=True), randn(2, 3, 4)),
    op("norm dim (0,2)", lambda a: a.norm(dim=(0, 2)), randn(2, 3, 4)),
    op("norm p=1", lambda a: a.norm(p=1, dim=1), away_from_zero(3, 4)),
    op("norm p=3", lambda a: a.norm(p=3, dim=0), away_from_zero(3, 4)),
]

SHAPE = [
    op("reshape", lambda a: a.reshape(2, 6), randn(3, 4)),
    op("reshape tuple with -1", lambda a: a.reshape((-1, 3)), randn(3, 4)),
    op("reshape to scalar", lambda a: a.reshape(()), randn(1, 1)),
    op("view", lambda a: a.view(4, 3), randn(3, 4)),
    op("view -1", lambda a: a.view(-1), randn(3, 4)),
    op("flatten", lambda a: a.flatten(), randn(2, 3, 4, 5)),
    op("flatten start 1", lambda a: a.flatten(1), randn(2, 3, 4, 5)),
    op("flatten 1 to 2", lambda a: a.flatten(1, 2), randn(2, 3, 4, 5)),
    op("flatten 0 to -2", lambda a: a.flatten(start_dim=0, end_dim=-2), randn(2, 3, 4, 5)),
    lib_op("flatten function", lambda lib, a: lib.flatten(a, 1), randn(2, 3, 4)),
    op("transpose", lambda a: a.transpose(0, 1), randn(3, 4)),
    op("transpose negative dims", lambda a: a.transpose(-1, -3), randn(2, 3, 4)),
    op("mT", lambda a: a.mT, randn(2, 3, 4)),
    op("T of a matrix", lambda a: a.T, randn(3, 4)),
    op("t", lambda a: a.t(), randn(3, 4)),
    op("transpose a dim with itself", lambda a: a.transpose(1, -1), randn(2, 3)),
    op("transpose 0-d", lambda a: a.transpose(0, -1), randn()),
    op("permute", lambda a: a.permute(2, 0, 1), randn(2, 3, 4)),
    op("permute tuple negative", lambda a: a.permute((-1, 1, 0)), randn(2, 3, 4)),
    op("squeeze", lambda a: a.squeeze(), randn(3, 1, 4, 1)),
    op("squeeze dim 1", lambda a: a.squeeze(1), randn(3, 1, 4, 1)),
    op("squeeze dim -1", lambda a: a.squeeze(-1), randn(3, 1, 4, 1)),
    op("squeeze dims (1,3)", lambda a: a.squeeze((1, 3)), randn(3, 1, 4, 1)),
    op("squeeze a dim that is not 1", lambda a: a.squeeze(0), randn(3, 1, 4, 1)),
    op("squeeze 0-d dim -1", lambda a: a.squeeze(-1), randn()),
    op("unsqueeze 0", lambda a: a.unsqueeze(0), randn(3, 4)),
    op("unsqueeze 1", lambda a: a.unsqueeze(1), randn(3, 4)),
    op("unsqueeze -1", lambda a: a.unsqueeze(-1), randn(3, 4)),
    op("expand", lambda a: a.expand(3, 4), randn(3, 1)),
    op("expand new dims", lambda a: a.expand(2, 3, 4), randn(3, 1)),
    op("expand -1", lambda a: a.expand((-1, 4)), randn(3, 1)),
    lib_op("cat dim 0", lambda lib, a, b: lib.cat([a, b]), randn(2, 3), randn(4, 3)),
    lib_op("cat dim 1", lambda lib, a, b, c: lib.cat([a, b, c], dim=1), randn(2, 1), randn(2, 3), randn(2, 2)),
    lib_op("cat dim -1", lambda lib, a, b: lib.cat((a, b), -1), randn(2, 3, 1), randn(2, 3, 2)),
    lib_op("cat same tensor twice", lambda lib, a: lib.cat([a, a * 2]), randn(2, 3)),
    lib_op("stack dim 0", lambda lib, a, b: lib.stack([a, b]), randn(2, 3), randn(2, 3)),
    lib_op("stack dim 1", lambda lib, a, b, c: lib.stack([a, b, c], dim=1), randn(2, 3), randn(2, 3), randn(2, 3)),
    lib_op("stack dim -1", lambda lib, a, b: lib.stack((a, b), -1), randn(2, 3), randn(2, 3)),
    lib_op("pad last dim", lambda lib, a: lib.nn.functional.pad(a, (1, 2)), randn(2, 3)),
    lib_op("pad two dims with value", lambda lib, a: lib.nn.functional.pad(a, (1, 1, 2, 0), value=0.5), randn(2, 3, 3)),
    lib_op("pad 4-D", lambda lib, a: lib.nn.functional.pad(a, (0, 1, 1, 0), "constant", -1.0), randn(2, 2, 3, 3)),
]

INDEXING = [
    op("getitem int", lambda a: a[1], randn(3, 4)),
    op("getitem negative int", lambda a: a[-1], randn(3, 4)),
    op("getitem two ints", lambda a: a[1, -2], randn(3, 4)),
    op("getitem slice", lambda a: a[1:3], randn(4, 3)),
    op("getitem step", lambda a: a[::2, 1:], randn(5, 3)),
    op("getitem column", lambda a: a[:, 1], randn(3, 4)),
    op("getitem int slice int", lambda a: a[1, :, 2], randn(2, 3, 4)),
    op("getitem ellipsis", lambda a: a[..., 1], randn(2, 3, 4)),
    op("getitem None", lambda a: a[None], randn(3, 4)),
    op("getitem slice None", lambda a: a[:, None, 1:], randn(3, 4)),
    op("getitem list", lambda a: a[[0, 2]], randn(3, 4)),
    op("getitem list repeated", lambda a: a[[0, 2, 0, 0]], randn(3, 4)),
    op("getitem two lists repeated", lambda a: a[[0, 2, 0], [1, 1, 1]], randn(3, 4)),
    op("getitem slice then list", lambda a: a[1:, [3, 0, 3]], randn(3, 4)),
    op("getitem int tensor", lambda a, i: a[i], randn(5, 2), numpy.array([[4, 0], [4, 1]])),
    op("getitem bool mask", lambda a, m: a[m], randn(3, 4), mask(3, 4)),
    op("getitem bool mask of rows", lambda a, m: a[m], randn(4, 3), numpy.array([True, False, True, True])),
]

ACTIVATIONS = [
    lib_op("F.relu", lambda lib, a: lib.nn.functional.relu(a), randn(3, 4)),
    lib_op("F.leaky_relu", lambda lib, a: lib.nn.functional.leaky_relu(a), randn(3, 4)),
    lib_op("F.leaky_relu 0.2", lambda lib, a: lib.nn.functional.leaky_relu(a, 0.2), randn(3, 4)),
    lib_op("F.leaky_relu keyword", lambda lib, a: lib.nn.functional.leaky_relu(a, negative_slope=0.3), randn(3, 4)),
    lib_op("F.sigmoid", lambda lib, a: lib.nn.functional.sigmoid(a), randn(3, 4)),
    lib_op("F.tanh", lambda lib, a: lib.nn.functional.tanh(a), randn(3, 4)),
    lib_op("F.softplus", lambda lib, a: lib.nn.functional.softplus(a), randn(3, 4)),
    lib_op("F.softplus beta 2", lambda lib, a: lib.nn.functional.softplus(a, beta=2.0), randn(3, 4)),
    lib_op("F.softplus above threshold", lambda lib, a: lib.nn.functional.softplus(a),
           values(-30.0, -1.0, 19.5, 20.5, 30.0)),
    lib_op("F.softplus beta and threshold", lambda lib, a: lib.nn.functional.softplus(a, beta=2.0, threshold=3.0),
           values(-2.0, 0.5, 1.4, 1.6, 4.0)),
    lib_op("F.logsigmoid", lambda lib, a: lib.nn.functional.logsigmoid(a), randn(3, 4)),
    lib_op("F.logsigmoid large |x|", lambda lib, a: lib.nn.functional.logsigmoid(a),
           values(-100.0, -40.0, -1.0, 0.0, 1.0, 40.0, 100.0)),
    lib_op("tanh function", lambda lib, a: lib.tanh(a), randn(3, 4)),
    lib_op("sigmoid function", lambda lib, a: lib.sigmoid(a), randn(3, 4)),
    lib_op("exp function", lambda lib, a: lib.exp(a), randn(3, 4)),
    lib_op("clamp function", lambda lib, a: lib.clamp(a, -0.5, 0.5), randn(3, 4)),
]

COMPOSITIONS = [
    op("tanh of matmul", lambda a, b: (a @ b).tanh(), randn(3, 4), randn(4, 2)),
    op("mlp layer", lambda x, w, b: (x @ w.t() + b).sigmoid().sum(1), randn(5, 3), randn(4, 3), randn(4)),
    op("normalise rows", lambda x: (x - x.mean(1, keepdim=True)) / (x.var(1, keepdim=True) + 1e-5).sqrt(),
       randn(3, 5)),
    op("gradient penalty shape", lambda x: ((x.norm(dim=1) - 1) ** 2).mean(), randn(4, 3)),
    op("exp of x log x", lambda x: (x.log() * x).exp().sum(0), positive(3, 4)),
]


@pytest.fixture(autouse=True)
def floating_point_errors_raise():
    """No op may overflow, divide by zero or make a NaN on the way, even in a branch it discards."""
    with numpy.errstate(over="raise", divide="raise", invalid="raise"):
        yield


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("ours, theirs, arrays",
                         ARITHMETIC + MATMUL + REDUCTIONS + SHAPE + INDEXING + ACTIVATIONS + COMPOSITIONS)
def test_op_matches_torch(ours, theirs, arrays, device, standin_cuda):
    """On 'cpu', and on 'cuda' (the stand-in device, moved there and back differentiably)."""
    assert_matches_torch(ours if device == "cpu" else on_cuda(ours), arrays, torch_fn=theirs)


def test_pow_with_a_zero_base_matches_torch_to_first_order():
    """d/db a^b at a = 0 is 0, as in torch; torch's second derivative there is NaN (0 · log 0), ours
    stays finite, so only forward and first order are compared."""
    base, exponent = values(0.0, 0.5, 2.0, 0.0), values(2.0, 1.5, -0.5, 3.0)
    assert_matches_torch(lambda a, b: a ** b, [base, exponent], second_order=False)


def test_softplus_exactly_at_the_threshold_matches_torch_to_first_order():
    """At beta·x == threshold exactly, torch's backward takes the smooth branch (sigmoid) but its
    double backward the linear one (0); ours differentiates the smooth branch consistently."""
    def softplus(lib, x):
        return lib.nn.functional.softplus(x, beta=2.0, threshold=40.0)

    assert_matches_torch(lambda x: softplus(minigan, x), [values(20.0, 1.5)],
                         torch_fn=lambda x: softplus(torch, x), second_order=False)


@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_of_a_zero_row_has_finite_gradients_of_both_orders(keepdim):
    """‖x‖ has no derivative at x = 0: torch and minigan both take 0 there at first order; at second
    order torch gives NaN for the zero row, minigan 0, and both agree on every other row."""
    x = numpy.concatenate([randn(1, 4), numpy.zeros((1, 4)), randn(2, 4)])
    weights = randn(4, 4)
    assert_matches_torch(lambda a: a.norm(dim=1, keepdim=keepdim), [x], second_order=False)

    def second_derivative(lib, grad):
        x_tensor = lib.tensor(x, requires_grad=True)
        (first,) = grad(x_tensor.norm(dim=1, keepdim=keepdim).sum(), x_tensor, create_graph=True)
        penalty = (first * first * lib.tensor(weights)).sum()
        (second,) = grad(penalty, x_tensor)
        return first.detach().numpy(), second.numpy()

    ours_first, ours_second = second_derivative(minigan, minigan.grad)
    theirs_first, theirs_second = second_derivative(torch, torch.autograd.grad)
    assert numpy.all(ours_first[1] == 0) and numpy.all(ours_second[1] == 0)
    assert numpy.all(numpy.isnan(theirs_second[1]))  # if torch changes this, compare the whole array
    rows = [0, 2, 3]
    assert_close(ours_second[rows], theirs_second[rows], what="second-order gradient of the non-zero rows")
