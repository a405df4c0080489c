"""Every Function minigan has, found by walking Function's subclasses, runs its forward and its
backward against torch to second order, on the CPU and on the stand-in GPU.

This is the check of the one pattern: a fast first derivative is the forward of a `...Grad`
Function whose backward is made of Tensor ops. A backward that read raw arrays of something
differentiable would make the second derivative wrong, and its case here would fail; a Function
with no case here fails the coverage test.
"""
import numpy
import pytest
from parity import assert_matches_torch, on_cuda, torch

import minigan
import minigan.distributed
import minigan.nn.hooks
from minigan import autograd
from minigan.ops import activation, layer
from minigan.tensor import Function

rng = numpy.random.default_rng(7)
TF = torch.nn.functional


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def probabilities(*shape):
    return rng.uniform(0.05, 0.95, shape)


def away_from_zero(*shape):
    return positive(*shape) * rng.choice([-1.0, 1.0], shape)


def case(ours, arrays, theirs=None, **options):
    """`ours(lib, *tensors)` on minigan against `theirs` (default: the same with torch)."""
    theirs = theirs or ours
    return (lambda *t: ours(minigan, *t)), (lambda *t: theirs(torch, *t)), arrays, options


def _set_row(lib, x, v):
    y = x * 1.0
    y[1] = v
    return y


def _hooked_linear(lib, x, w, b):
    layer_ = lib.nn.Linear(3, 2).double().to(x.device)
    with lib.no_grad():
        layer_.weight.copy_(w), layer_.bias.copy_(b)
    layer_.register_full_backward_hook(lambda module, grad_input, grad_output: None)
    return layer_(x) * x.sum()


# Function class -> a computation that records it and runs its backward (its own backward runs at
# second order for the ...Grad Functions, which appear in a first-order backward)
CASES = {
    minigan.ops.math.Add: case(lambda lib, a, b: a + b, [randn(3, 4), randn(4)]),
    minigan.ops.math.Sub: case(lambda lib, a, b: a - b, [randn(3, 4), randn(3, 1)]),
    minigan.ops.math.Mul: case(lambda lib, a, b: a * b * a, [randn(3, 4), randn(4)]),
    minigan.ops.math.Div: case(lambda lib, a, b: a / b, [randn(3, 4), away_from_zero(3, 4)]),
    minigan.ops.math.Pow: case(lambda lib, a, b: a ** b, [positive(3, 4), randn(3, 4)]),
    minigan.ops.math.Maximum: case(lambda lib, a, b: lib.maximum(a, b) * a, [randn(5), randn(5)]),
    minigan.ops.math.Minimum: case(lambda lib, a, b: lib.minimum(a, b) * a, [randn(5), randn(5)]),
    minigan.ops.math.Where: case(lambda lib, a, b: lib.where(a > 0, a * b, b * b), [randn(6), randn(6)]),
    minigan.ops.math.Einsum: case(lambda lib, a, b: lib.einsum("bij,jk->bik", a, b) ** 2 + lib.einsum("bij->bi", a)[..., None],
                                  [randn(2, 3, 4), randn(4, 5)]),
    minigan.ops.reduce.CumSum: case(lambda lib, a: lib.cumsum(a * a, 1) * a, [randn(3, 4)]),
    minigan.ops.math.MatMul: case(lambda lib, a, b: (a @ b) * (a @ b), [randn(2, 3, 4), randn(4, 5)]),
    minigan.ops.math.Neg: case(lambda lib, a: -a * a, [randn(4)]),
    minigan.ops.math.Exp: case(lambda lib, a: a.exp(), [randn(4)]),
    minigan.ops.math.Log: case(lambda lib, a: a.log() * a, [positive(4)]),
    minigan.ops.math.Sqrt: case(lambda lib, a: a.sqrt(), [positive(4)]),
    minigan.ops.math.Abs: case(lambda lib, a: a.abs() * a, [away_from_zero(5)]),
    minigan.ops.math.Sign: case(lambda lib, a: a.sign() * a * a, [away_from_zero(5)]),
    minigan.ops.math.Clamp: case(lambda lib, a: a.clamp(-0.5, 0.5) * a, [randn(8)]),
    minigan.ops.broadcast.Sum: case(lambda lib, a: (a * a).sum(1), [randn(3, 4)]),
    minigan.ops.broadcast.BroadcastTo: case(lambda lib, a: a.expand(3, 4) * a, [randn(1, 4)]),
    minigan.ops.broadcast.SumTo: case(lambda lib, a, b: (a * b) * (a * b), [randn(3, 4), randn(4)]),
    minigan.ops.reduce.Max: case(lambda lib, a: a.amax(1) * a.sum(1), [randn(3, 4)]),
    minigan.ops.reduce.Norm2: case(lambda lib, a: a.norm(dim=1), [randn(3, 4)]),
    minigan.ops.shape.Reshape: case(lambda lib, a: a.reshape(2, 6) * a.reshape(2, 6), [randn(3, 4)]),
    minigan.ops.shape.Permute: case(lambda lib, a: a.permute(1, 0) * a.t(), [randn(3, 4)]),
    minigan.ops.shape.Copy: case(lambda lib, a: a.clone() * a.float().double(), [randn(3)]),
    minigan.ops.shape.Cat: case(lambda lib, a, b: lib.cat([a, b * b], 1) ** 2, [randn(2, 3), randn(2, 2)]),
    minigan.ops.shape.Pad: case(lambda lib, a: lib.nn.functional.pad(a * a, (1, 2)), [randn(2, 3)]),
    minigan.ops.shape.GetItem: case(lambda lib, a: a[:, [0, 2, 0]] * a[:, 1:2], [randn(3, 4)]),
    minigan.ops.shape.ScatterAdd: case(lambda lib, a: a[[0, 0, 2]] ** 2, [randn(3, 4)]),
    minigan.ops.shape.IndexPut: case(lambda lib, a, v: _set_row(lib, a * a, v * v), [randn(3, 4), randn(4)]),
    minigan.ops.activation.ReLU: case(lambda lib, a: a.relu() * a, [away_from_zero(8)]),
    minigan.ops.activation.ReLUGrad: case(lambda lib, a: a.relu() * a, [away_from_zero(8)]),
    minigan.ops.activation.LeakyReLU: case(lambda lib, a: lib.nn.functional.leaky_relu(a, 0.2) * a,
                                           [away_from_zero(8)]),
    minigan.ops.activation.LeakyReLUGrad: case(lambda lib, a: lib.nn.functional.leaky_relu(a, 0.2) * a,
                                               [away_from_zero(8)]),
    minigan.ops.activation.Sigmoid: case(lambda lib, a: a.sigmoid(), [randn(8)]),
    minigan.ops.activation.SigmoidGrad: case(lambda lib, a: a.sigmoid(), [randn(8)]),
    minigan.ops.activation.Tanh: case(lambda lib, a: a.tanh(), [randn(8)]),
    minigan.ops.activation.TanhGrad: case(lambda lib, a: a.tanh(), [randn(8)]),
    minigan.ops.activation.Softplus: case(lambda lib, a: lib.nn.functional.softplus(a, beta=2.0), [randn(8)]),
    minigan.ops.activation.ELU: case(lambda lib, a: lib.nn.functional.elu(a, 0.5) * a, [randn(8)]),
    minigan.ops.math.Expm1: case(lambda lib, a: lib.expm1(a) * a, [randn(8)]),
    minigan.ops.math.Erf: case(lambda lib, a: lib.erf(a) * a, [randn(8)]),
    minigan.ops.activation.LogSigmoid: case(lambda lib, a: lib.nn.functional.logsigmoid(a), [randn(8)]),
    minigan.ops.activation.BiasActivation: case(
        lambda lib, x, w, b: layer.linear_activation(x, w, b, activation.LeakyReLU(0.2)), [randn(4, 3), randn(2, 3),
                                                                                           randn(2)],
        theirs=lambda lib, x, w, b: TF.leaky_relu(TF.linear(x, w, b), 0.2)),
    minigan.ops.layer.LinearMap: case(lambda lib, x, w: lib.nn.functional.linear(x, w) ** 2, [randn(4, 3), randn(2, 3)]),
    minigan.ops.conv.Conv2d: case(lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2, padding=1),
                                  [randn(2, 2, 5, 5), randn(3, 2, 3, 3)]),
    minigan.ops.conv.ConvTranspose2d: case(lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2,
                                                                                                  padding=1),
                                           [randn(2, 3, 3, 3), randn(3, 2, 4, 4)]),
    minigan.ops.conv.Conv2dGradWeight: case(lambda lib, x, w: lib.nn.functional.conv2d(x, w).tanh(),
                                            [randn(2, 2, 4, 4), randn(3, 2, 2, 2)]),
    minigan.ops.norm.BatchStatisticsNorm: case(
        lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True),
        [randn(4, 3, 2, 2), randn(3), randn(3)], torch_fused=True),
    minigan.ops.norm.Standardized: case(
        lambda lib, x, w: lib.nn.functional.batch_norm(x, None, None, w, None, training=True),
        [randn(4, 3, 2), randn(3)], torch_fused=True),
    minigan.ops.norm.NormGrad: case(
        lambda lib, x: lib.nn.functional.instance_norm(x).tanh(), [randn(2, 3, 5)]),
    minigan.ops.loss.BinaryCrossEntropy: case(lambda lib, p, y: lib.nn.functional.binary_cross_entropy(p, y),
                                              [probabilities(4, 3), probabilities(4, 3)]),
    minigan.ops.loss.BinaryCrossEntropyGrad: case(lambda lib, p, y: lib.nn.functional.binary_cross_entropy(p, y),
                                                  [probabilities(4, 3), probabilities(4, 3)]),
    minigan.ops.loss.BinaryCrossEntropyWithLogits: case(
        lambda lib, x, y, w: lib.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=w),
        [randn(4, 3), probabilities(4, 3), positive(3)], grad_mask=[True, True, False]),
    minigan.ops.loss.BinaryCrossEntropyWithLogitsGrad: case(
        lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="sum"),
        [randn(4, 3), probabilities(4, 3)]),
    minigan.nn.hooks.Identity: case(_hooked_linear, [randn(4, 3), randn(2, 3), randn(2)]),
}
ABSTRACT = {minigan.ops.math.BinaryFunction, activation.Activation, activation.ActivationGrad,
            minigan.ops.loss.ElementwiseLoss}
ELSEWHERE = {  # Function -> where its second-order parity is tested
    minigan.ops.shape.ToDevice: "test_ops.py's 'cuda' cases (every op there runs through ToDevice both ways)",
    minigan.distributed.AllReduceSum: "test_distributed.py (a gradient penalty through SyncBatchNorm on two ranks)",
}


def _all_functions(cls=Function):
    for subclass in cls.__subclasses__():
        if subclass.__module__.startswith("minigan."):
            yield subclass
        yield from _all_functions(subclass)


def test_every_function_has_a_second_order_case():
    missing = set(_all_functions()) - set(CASES) - ABSTRACT - set(ELSEWHERE)
    assert not missing, f"Functions with no second-order parity case: {sorted(f.__name__ for f in missing)}"


@pytest.fixture
def functions_run(monkeypatch):
    """The Function classes whose backward the engine ran."""
    ran, original = set(), autograd._backward_of

    def recording(fn, grad_output):
        ran.add(type(fn))
        return original(fn, grad_output)
    monkeypatch.setattr(autograd, "_backward_of", recording)
    return ran


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("function", CASES, ids=lambda function: function.__name__)
def test_the_function_runs_forward_and_backward_as_torch_to_second_order(function, device, functions_run,
                                                                         standin_cuda):
    ours, theirs, arrays, options = CASES[function]
    assert_matches_torch(ours if device == "cpu" else on_cuda(ours), arrays, torch_fn=theirs, **options)
    assert function in functions_run, f"the case did not run {function.__name__}'s backward"
