"""binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, nll_loss, mse_loss and l1_loss
against torch (float64): values, first and second order, every reduction, weights, ignore_index,
label smoothing, extreme inputs, and the errors; one_hot."""
import numpy
import pytest
from parity import assert_matches_torch, on_cuda, torch

import minigan
from minigan.ops.activation import log_softmax, softmax
from minigan.ops.loss import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss

F = torch.nn.functional
rng = numpy.random.default_rng(1)  # not parity's seed 0: its cotangents must not equal our inputs
REDUCTIONS = ["mean", "sum", "none"]


def probabilities(*shape):
    return rng.uniform(0.05, 0.95, shape)


def randn(*shape):
    return rng.standard_normal(shape)


# --------------------------------------------------------------------------------------------
# Every loss, every reduction: input and target both differentiable
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction):
    assert_matches_torch(lambda p, y: binary_cross_entropy(p, y, reduction=reduction),
                         [probabilities(4, 3), rng.uniform(0, 1, (4, 3))],
                         torch_fn=lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_matches_torch(reduction):
    assert_matches_torch(lambda x, y: binary_cross_entropy_with_logits(x, y, reduction=reduction),
                         [3 * randn(4, 3), rng.uniform(0, 1, (4, 3))],
                         torch_fn=lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(reduction):
    assert_matches_torch(lambda a, b: mse_loss(a, b, reduction=reduction), [randn(4, 3), randn(4, 3)],
                         torch_fn=lambda a, b: F.mse_loss(a, b, reduction=reduction))


# --------------------------------------------------------------------------------------------
# weight and pos_weight (torch has no gradient for them, so they are constants here)
# --------------------------------------------------------------------------------------------
WEIGHT_SHAPES = {"per element": (4, 3), "per class": (3,), "per sample": (4, 1)}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES.values(), ids=WEIGHT_SHAPES.keys())
def test_binary_cross_entropy_weight_matches_torch(weight_shape, reduction):
    assert_matches_torch(lambda p, y, w: binary_cross_entropy(p, y, w, reduction=reduction),
                         [probabilities(4, 3), rng.uniform(0, 1, (4, 3)), rng.uniform(0, 2, weight_shape)],
                         torch_fn=lambda p, y, w: F.binary_cross_entropy(p, y, w, reduction=reduction),
                         grad_mask=[True, True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES.values(), ids=WEIGHT_SHAPES.keys())
def test_binary_cross_entropy_with_logits_weight_and_pos_weight_match_torch(weight_shape, reduction):
    assert_matches_torch(
        lambda x, y, w, pw: binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw),
        [3 * randn(4, 3), rng.uniform(0, 1, (4, 3)), rng.uniform(0, 2, weight_shape), rng.uniform(0.2, 3, 3)],
        torch_fn=lambda x, y, w, pw: F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw),
        grad_mask=[True, True, False, False])


# --------------------------------------------------------------------------------------------
# Extreme inputs
# --------------------------------------------------------------------------------------------
EXTREME_LOGITS = numpy.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0])


@pytest.mark.parametrize("with_pos_weight", [False, True], ids=["plain", "pos_weight"])
@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_binary_cross_entropy_with_logits_is_finite_and_exact_for_extreme_logits(reduction, with_pos_weight):
    logits = numpy.repeat(EXTREME_LOGITS[:, None], 3, axis=1)
    targets = numpy.tile([0.0, 1.0, 0.3], (len(EXTREME_LOGITS), 1))
    arrays = [logits, targets] + ([numpy.array([0.5, 2.0, 3.0])] if with_pos_weight else [])

    def ours(x, y, pos_weight=None):
        return binary_cross_entropy_with_logits(x, y, reduction=reduction, pos_weight=pos_weight)

    def theirs(x, y, pos_weight=None):
        return F.binary_cross_entropy_with_logits(x, y, reduction=reduction, pos_weight=pos_weight)

    assert numpy.all(numpy.isfinite(ours(*[minigan.tensor(a) for a in arrays]).array))
    assert_matches_torch(ours, arrays, torch_fn=theirs, grad_mask=[True] + [False] * (len(arrays) - 1))


def test_binary_cross_entropy_with_logits_target_gradient_for_extreme_logits():
    assert_matches_torch(lambda x, y: binary_cross_entropy_with_logits(x, y, reduction="sum"),
                         [EXTREME_LOGITS, rng.uniform(0, 1, len(EXTREME_LOGITS))],
                         torch_fn=lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_clamps_each_log_at_minus_100_as_torch(reduction):
    # p exactly 0 or 1: log 0 = -inf is clamped to -100, and the gradient's p (1 - p) to 1e-12
    p = numpy.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 1e-50])
    y = numpy.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.7, 1.0, 1.0])
    loss = binary_cross_entropy(minigan.tensor(p), minigan.tensor(y), reduction="none")
    numpy.testing.assert_allclose(loss.array, [0.0, 100.0, 100.0, 0.0, 30.0, 30.0, numpy.log(2), 100.0], rtol=1e-15)
    assert_matches_torch(lambda p, y: binary_cross_entropy(p, y, reduction=reduction), [p, y],
                         torch_fn=lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
                         grad_mask=[True, False])


def test_binary_cross_entropy_near_0_and_1_matches_torch_to_second_order():
    # torch's second derivative puts 1e-12 inside p (1 - p); these p are where that shows
    p = numpy.array([1e-6, 1e-3, 0.3, 1 - 1e-3, 1 - 1e-6])
    assert_matches_torch(lambda p, y: binary_cross_entropy(p, y, reduction="sum"), [p, rng.uniform(0, 1, 5)],
                         torch_fn=lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"))


# --------------------------------------------------------------------------------------------
# Finite differences (these also cover a gradient torch does not offer: weight's; pos_weight's,
# which torch refuses, minigan refuses too)
# --------------------------------------------------------------------------------------------
def leaf(array):
    return minigan.tensor(array, requires_grad=True)


POS_WEIGHT = minigan.tensor(rng.uniform(0.5, 2, 2))


@pytest.mark.parametrize("loss, inputs", [
    (lambda p, y, w: binary_cross_entropy(p, y, w), lambda: (probabilities(3, 2), rng.uniform(0, 1, (3, 2)),
                                                            rng.uniform(0.5, 2, 2))),
    (lambda x, y, w: binary_cross_entropy_with_logits(x, y, w, pos_weight=POS_WEIGHT),
     lambda: (2 * randn(3, 2), rng.uniform(0, 1, (3, 2)), rng.uniform(0.5, 2, 2))),
    (lambda a, b: mse_loss(a, b, reduction="sum"), lambda: (randn(3, 2), randn(3, 2))),
], ids=["binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss"])
def test_loss_gradients_pass_gradcheck_and_gradgradcheck(loss, inputs):
    tensors = [leaf(a) for a in inputs()]
    assert minigan.gradcheck(loss, tuple(tensors))
    assert minigan.gradgradcheck(loss, tuple(tensors))


def test_binary_cross_entropy_grad_passes_gradgradcheck_at_third_order():
    # its backward (torch's second derivatives) is differentiable in turn
    p, y = leaf(probabilities(4)), leaf(rng.uniform(0, 1, 4))
    first = lambda p, y: minigan.grad(binary_cross_entropy(p, y, reduction="sum"), [p, y], create_graph=True)
    assert minigan.gradgradcheck(first, (p, y))


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
def tensor(array):
    return minigan.tensor(numpy.asarray(array, dtype=numpy.float64))


def test_binary_cross_entropy_rejects_probabilities_outside_0_1_naming_the_range():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*input.*\[0, 1\].*\[-0\.5, 1\.25\]"):
        binary_cross_entropy(tensor([-0.5, 0.2, 1.25]), tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="binary_cross_entropy: .*input holds NaN"):
        binary_cross_entropy(tensor([numpy.nan, 0.2]), tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*target.*\[0, 2\]"):
        binary_cross_entropy(tensor([0.5, 0.2]), tensor([0.0, 2.0]))


@pytest.mark.parametrize("loss", [binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss],
                         ids=lambda f: f.__name__)
def test_losses_reject_shape_mismatch_naming_both_shapes(loss):
    # torch broadcasts (N, 1) against (N,) in mse_loss with only a warning; minigan raises
    with pytest.raises(ValueError, match=rf"{loss.__name__}: target shape \(3, 1\) differs from input shape \(3,\)"):
        loss(tensor([0.1, 0.2, 0.3]), tensor([[0.0], [1.0], [1.0]]))


@pytest.mark.parametrize("loss", [binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss],
                         ids=lambda f: f.__name__)
def test_losses_reject_unknown_reduction(loss):
    with pytest.raises(ValueError, match=rf"{loss.__name__}: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        loss(tensor([0.5]), tensor([1.0]), reduction="avg")


def test_weights_must_broadcast_to_the_input_shape():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(2,\) does not broadcast to the "
                                         r"input shape \(4, 3\)"):
        binary_cross_entropy(tensor(probabilities(4, 3)), tensor(probabilities(4, 3)), tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape \(2, 4, 3\)"):
        binary_cross_entropy_with_logits(tensor(randn(4, 3)), tensor(probabilities(4, 3)),
                                         pos_weight=tensor(numpy.ones((2, 4, 3))))


# --------------------------------------------------------------------------------------------
# Cross-entropy over classes, and the softmaxes it is built from
# --------------------------------------------------------------------------------------------
CLASSES = numpy.array([0, 3, 1, 1, 2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(reduction):
    assert_matches_torch(lambda x: cross_entropy(x, minigan.tensor(CLASSES), reduction=reduction), [4 * randn(5, 4)],
                         torch_fn=lambda x: F.cross_entropy(x, torch.from_numpy(CLASSES), reduction=reduction))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("function", ["log_softmax", "softmax"])
def test_softmaxes_match_torch_even_for_logits_that_would_overflow_exp(function, dim):
    logits = randn(3, 4)
    logits[0, 0] = 800.0  # e^800 overflows float64: only the max shift keeps this finite
    ours = {"log_softmax": log_softmax, "softmax": softmax}[function]
    assert_matches_torch(lambda x: ours(x, dim), [logits], torch_fn=lambda x: getattr(F, function)(x, dim))


@pytest.mark.parametrize("target, error, message", [
    (numpy.array([0, 1, 2]), ValueError, r"cross_entropy: expected input \(N, C, d1, ...\) with class-index target "
                                         r"\(N, d1, ...\), .* got shapes \(5, 4\) and \(3,\)"),
    (numpy.array([0.0, 1, 2, 3, 0]), ValueError, r"cross_entropy: a float target holds class probabilities and needs "
                                                 r"the input's shape \(5, 4\), got \(5,\); class indices must be"),
    (numpy.array([0, 1, 2, 3, 0], dtype=bool), TypeError, "cross_entropy: target must hold integer class indices"),
    (numpy.array([0, 1, 2, 4, 0]), IndexError,
     r"cross_entropy: class indices must lie in \[0, 4\) \(or be ignore_index=-100\), got values from 0 to 4"),
], ids=["shape", "probabilities-shape", "dtype", "range"])
def test_cross_entropy_rejects_bad_targets_naming_the_cause(target, error, message):
    with pytest.raises(error, match=message):
        cross_entropy(minigan.randn(5, 4), minigan.tensor(target))


def test_pos_weight_asking_for_a_gradient_is_refused_as_in_torch():
    x, y, pos_weight = randn(3, 2), rng.uniform(0, 1, (3, 2)), minigan.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="pos_weight"):
        binary_cross_entropy_with_logits(minigan.tensor(x), minigan.tensor(y), pos_weight=pos_weight)
    with pytest.raises(RuntimeError, match="pos_weight"):
        torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y),
                                                             pos_weight=torch.tensor([1.0, 2.0], requires_grad=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_ignores_the_rows_of_ignore_index_as_torch(reduction):
    classes = numpy.array([2, -100, 0, 3, -100])
    assert_matches_torch(lambda x: cross_entropy(x, minigan.tensor(classes), reduction=reduction), [randn(5, 4)],
                         torch_fn=lambda x: F.cross_entropy(x, torch.from_numpy(classes), reduction=reduction))


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")  # torch's warning
@pytest.mark.parametrize("size_average, reduce", [(False, None), (None, False), (True, True)])
def test_the_deprecated_size_average_and_reduce_flags_choose_the_reduction_as_in_torch(size_average, reduce):
    p, y = probabilities(4, 3), rng.uniform(0, 1, (4, 3))
    assert_matches_torch(lambda p, y: binary_cross_entropy(p, y, None, size_average, reduce), [p, y],
                         torch_fn=lambda p, y: F.binary_cross_entropy(p, y, None, size_average, reduce))


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): the same code path a GPU runs
# --------------------------------------------------------------------------------------------
def _arrays(*shapes, seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def _probabilities(*shape):
    return 1 / (1 + numpy.exp(-_arrays(shape, seed=1)[0]))


LOSSES = {  # name: (loss, inputs, which inputs require grad)
    "bce": (lambda lib, p, y, w: lib.nn.functional.binary_cross_entropy(p, y, weight=w),
            [_probabilities(4, 3), _probabilities(4, 3), _probabilities(3)], [True, True, False]),
    "bce_with_logits": (lambda lib, x, y, w, pw: lib.nn.functional.binary_cross_entropy_with_logits(
        x, y, weight=w, reduction="sum", pos_weight=pw),
        _arrays((4, 3), (4, 3)) + [_probabilities(4, 1), 3 * _probabilities(3)], [True, True, False, False]),
    "mse": (lambda lib, x, y: lib.nn.functional.mse_loss(x, y), _arrays((4, 3), (4, 3)), None),
}


@pytest.mark.parametrize("loss, arrays, grad_mask", LOSSES.values(), ids=LOSSES.keys())
@pytest.mark.usefixtures("standin_cuda")
def test_loss_on_cuda_matches_torch(loss, arrays, grad_mask):
    assert_matches_torch(on_cuda(lambda *t: loss(minigan, *t)), arrays, lambda *t: loss(torch, *t), grad_mask)


# --------------------------------------------------------------------------------------------
# nll_loss and cross_entropy: class weights, ignore_index, label smoothing, K dims, probabilities
# --------------------------------------------------------------------------------------------
CLASS_TARGETS = [
    pytest.param((5, 4), numpy.array([0, 3, 1, 3, 2]), id="N-C"),
    pytest.param((3, 4, 2, 2), rng.integers(0, 4, (3, 2, 2)), id="N-C-H-W"),
    pytest.param((4,), numpy.array(2), id="unbatched"),
]


@pytest.mark.parametrize("shape, target", CLASS_TARGETS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_and_nll_loss_match_torch(shape, target, reduction, weighted, smoothing):
    classes = shape[1] if len(shape) > 1 else shape[0]
    weight = rng.uniform(0.5, 2.0, classes) if weighted else None
    arrays = [randn(*shape), target] + ([weight] if weighted else [])
    grad_mask = [True, False] + ([False] if weighted else [])

    def loss(lib):
        functional = lib.nn.functional
        return lambda x, t, *w: (functional.cross_entropy(x, t, *w, reduction=reduction, label_smoothing=smoothing)
                                 + functional.nll_loss(functional.log_softmax(x, -len(shape) + (len(shape) > 1)), t,
                                                       *w, reduction=reduction))
    assert_matches_torch(loss(minigan), arrays, torch_fn=loss(torch), grad_mask=grad_mask)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_ignore_index_and_probability_targets_match_torch(reduction, smoothing):
    target = numpy.array([1, -100, 3, 0, -100])
    weight = rng.uniform(0.5, 2.0, 4)
    assert_matches_torch(lambda x, w: cross_entropy(x, minigan.tensor(target), w, reduction=reduction,
                                                    label_smoothing=smoothing), [randn(5, 4), weight],
                         torch_fn=lambda x, w: F.cross_entropy(x, torch.tensor(target), w, reduction=reduction,
                                                               label_smoothing=smoothing), grad_mask=[True, False])
    probabilities_target = softmax(minigan.tensor(randn(5, 4)), 1).array
    assert_matches_torch(lambda x, y: cross_entropy(x, y, reduction=reduction, label_smoothing=smoothing),
                         [randn(5, 4), probabilities_target],
                         torch_fn=lambda x, y: F.cross_entropy(x, y, reduction=reduction, label_smoothing=smoothing))


def test_loss_layers_keep_torchs_state_and_arguments():
    weight = numpy.array([1.0, 2.0, 0.5])
    for build in [lambda nn, w: nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.3),
                  lambda nn, w: nn.NLLLoss(w, reduction="sum"), lambda nn, w: nn.L1Loss(reduction="none")]:
        ours, theirs = build(minigan.nn, minigan.tensor(weight)), build(torch.nn, torch.tensor(weight))
        assert list(ours.state_dict()) == list(theirs.state_dict())
        x, t = randn(4, 3), numpy.array([0, 1, 2, 2])
        target = (t, torch.tensor(t)) if not isinstance(ours, minigan.nn.L1Loss) else (randn(4, 3),) * 2
        our_value = ours(minigan.tensor(x), minigan.tensor(target[0])).array
        their_value = theirs(torch.tensor(x), torch.as_tensor(target[1])).numpy()
        numpy.testing.assert_allclose(our_value, their_value, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss_matches_torch(reduction):
    x, y = randn(4, 3), randn(4, 3)
    y[0, 0] = x[0, 0]  # |x - y| at 0: torch's gradient there is 0
    assert_matches_torch(lambda a, b: minigan.nn.functional.l1_loss(a, b, reduction=reduction), [x, y],
                         torch_fn=lambda a, b: F.l1_loss(a, b, reduction=reduction))


def test_nll_loss_refusals_name_the_cause():
    with pytest.raises(IndexError, match=r"nll_loss: class indices must lie in \[0, 3\)"):
        minigan.nn.functional.nll_loss(minigan.randn(2, 3), minigan.tensor([0, 3]))
    with pytest.raises(minigan.ShapeError, match="one value per class"):
        minigan.nn.functional.nll_loss(minigan.randn(2, 3), minigan.tensor([0, 2]), weight=minigan.ones(2))
    with pytest.raises(ValueError, match="label_smoothing must be between"):
        cross_entropy(minigan.randn(2, 3), minigan.tensor([0, 2]), label_smoothing=1.5)


def test_one_hot_matches_torch():
    for indices, classes in [(numpy.array([0, 2, 1, 2]), -1), (numpy.array([[0, 1], [3, 3]]), 5),
                             (numpy.array(1), 3), (numpy.zeros((0,), dtype=numpy.int64), 4)]:
        ours = minigan.nn.functional.one_hot(minigan.tensor(indices), classes).numpy()
        theirs = F.one_hot(torch.tensor(indices), classes).numpy()
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        numpy.testing.assert_array_equal(ours, theirs)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        minigan.nn.functional.one_hot(minigan.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        minigan.nn.functional.one_hot(minigan.tensor([-1, 0]))
    with pytest.raises(TypeError, match="integer"):
        minigan.nn.functional.one_hot(minigan.tensor([0.0]))
