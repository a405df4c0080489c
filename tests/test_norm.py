"""batch_norm, instance_norm and layer_norm against torch (float64): values, first and second order,
running statistics, a gradient penalty through each norm, and the errors for bad input."""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_close, assert_matches_torch, on_cuda, torch

import minigan
from minigan.ops.norm import batch_norm, instance_norm, layer_norm

F = torch.nn.functional
rng = numpy.random.default_rng(1)  # not parity's seed 0: its cotangents must not equal our inputs

SHAPES = {"2-D": (5, 3), "3-D": (4, 3, 6), "4-D": (3, 2, 4, 5)}


def randn(*shape):
    return rng.standard_normal(shape)


def running_stats(channels):
    """A running mean and a positive running variance, as numpy arrays."""
    return randn(channels), rng.uniform(0.5, 2.0, channels)


def twins(*arrays):
    """The same arrays as minigan and as torch tensors (no gradient): state such as running stats."""
    return [minigan.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


def affine_arrays(affine, shape):
    return [randn(*shape), randn(*shape)] if affine else []


def check_norm(ours, theirs, x, params):
    """Parity of `norm(x, *params)` (params: weight and bias, or nothing) through second order."""
    assert_matches_torch(ours, [x] + params, torch_fn=theirs, torch_fused=True)


# --------------------------------------------------------------------------------------------
# batch_norm
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_batch_norm_training_matches_torch_and_updates_running_stats(shape, affine):
    (our_mean, our_var), (their_mean, their_var) = twins(*running_stats(shape[1]))
    check_norm(lambda x, w=None, b=None: batch_norm(x, our_mean, our_var, w, b, training=True, momentum=0.2),
               lambda x, w=None, b=None: F.batch_norm(x, their_mean, their_var, w, b, training=True, momentum=0.2),
               randn(*shape), affine_arrays(affine, shape[1:2]))
    assert_close(our_mean.array, their_mean.numpy(), what="running_mean")
    assert_close(our_var.array, their_var.numpy(), what="running_var")


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_batch_norm_eval_uses_running_stats_as_torch(shape, affine):
    (our_mean, our_var), (their_mean, their_var) = twins(*running_stats(shape[1]))
    check_norm(lambda x, w=None, b=None: batch_norm(x, our_mean, our_var, w, b, training=False),
               lambda x, w=None, b=None: F.batch_norm(x, their_mean, their_var, w, b, training=False),
               randn(*shape), affine_arrays(affine, shape[1:2]))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_without_running_stats_uses_batch_stats(training):
    # torch's functional form needs running stats in eval; a module without them uses batch stats
    x, w, b = randn(4, 3, 5), randn(3), randn(3)
    assert_matches_torch(lambda x, w, b: batch_norm(x, None, None, w, b, training=training), [x, w, b], torch_fused=True,
                         torch_fn=lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 2)], ids=["2-D", "4-D"])
def test_batch_norm_running_stats_after_several_steps_equal_torch(shape):
    (our_mean, our_var), (their_mean, their_var) = twins(numpy.zeros(shape[1]), numpy.ones(shape[1]))
    our_mean_array = our_mean.array
    for step in range(4):
        x = randn(*shape) * (step + 1) + step  # batches of different scales and offsets
        batch_norm(minigan.tensor(x, requires_grad=True), our_mean, our_var, training=True, momentum=0.1)
        F.batch_norm(torch.tensor(x), their_mean, their_var, training=True, momentum=0.1)
        assert_close(our_mean.array, their_mean.numpy(), what=f"running_mean after step {step + 1}")
        assert_close(our_var.array, their_var.numpy(), what=f"running_var after step {step + 1}")
    assert our_mean.array is our_mean_array, "running_mean must be updated in place"
    assert not our_mean.requires_grad and our_mean.grad_fn is None, "running stats must stay outside the graph"
    check_norm(lambda x: batch_norm(x, our_mean, our_var), lambda x: F.batch_norm(x, their_mean, their_var),
               randn(*shape), [])


def test_batch_norm_running_var_uses_the_unbiased_variance():
    x = numpy.array([[1.0], [2.0], [4.0]])
    running_mean, running_var = minigan.zeros(1, dtype=numpy.float64), minigan.zeros(1, dtype=numpy.float64)
    batch_norm(minigan.tensor(x), running_mean, running_var, training=True, momentum=1.0)
    assert running_var.item() == pytest.approx(numpy.var(x, ddof=1))
    assert running_mean.item() == pytest.approx(7 / 3)


def test_batch_norm_keeps_float32():
    x = minigan.tensor(randn(4, 3).astype(numpy.float32), requires_grad=True)
    mean, var = minigan.zeros(3), minigan.ones(3)
    out = batch_norm(x, mean, var, minigan.ones(3), minigan.zeros(3), training=True)
    assert out.dtype == numpy.float32 and mean.dtype == numpy.float32 and var.dtype == numpy.float32


# --------------------------------------------------------------------------------------------
# instance_norm
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", [(3, 2, 7), (2, 3, 4, 5)], ids=["3-D", "4-D"])
def test_instance_norm_matches_torch(shape, affine):
    check_norm(lambda x, w=None, b=None: instance_norm(x, weight=w, bias=b),
               lambda x, w=None, b=None: F.instance_norm(x, weight=w, bias=b),
               randn(*shape), affine_arrays(affine, shape[1:2]))


def test_instance_norm_running_stats_after_several_steps_equal_torch():
    (our_mean, our_var), (their_mean, their_var) = twins(*running_stats(3))
    for step in range(3):
        x = randn(4, 3, 3, 4) * (step + 1) - step
        check_norm(lambda x: instance_norm(x, our_mean, our_var, momentum=0.3),
                   lambda x: F.instance_norm(x, their_mean, their_var, momentum=0.3), x, [])
        assert_close(our_mean.array, their_mean.numpy(), what=f"running_mean after step {step + 1}")
        assert_close(our_var.array, their_var.numpy(), what=f"running_var after step {step + 1}")
    check_norm(lambda x, w, b: instance_norm(x, our_mean, our_var, w, b, use_input_stats=False),
               lambda x, w, b: F.instance_norm(x, their_mean, their_var, w, b, use_input_stats=False),
               randn(2, 3, 4, 4), [randn(3), randn(3)])


# --------------------------------------------------------------------------------------------
# layer_norm
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("normalized_shape", [(5,), (4, 5)], ids=["last dim", "last 2 dims"])
def test_layer_norm_matches_torch(normalized_shape, affine):
    check_norm(lambda x, w=None, b=None: layer_norm(x, normalized_shape, w, b, eps=1e-3),
               lambda x, w=None, b=None: F.layer_norm(x, normalized_shape, w, b, eps=1e-3),
               randn(3, 4, 5), affine_arrays(affine, normalized_shape))


def test_layer_norm_accepts_an_int_normalized_shape():
    check_norm(lambda x: layer_norm(x, 6), lambda x: F.layer_norm(x, (6,)), randn(4, 6), [])


# --------------------------------------------------------------------------------------------
# Second order: a gradient penalty through each norm, and finite differences
# --------------------------------------------------------------------------------------------
def gradient_penalty(grad, normalize):
    """((‖∂ Σ normalize(x)·v / ∂x‖₂ - 1)²).mean() over the samples, with `grad` minigan's or torch's."""
    def penalty(x, v, *params):
        (grad_x,) = grad((normalize(x, *params) * v).sum(), x, create_graph=True)
        return ((grad_x.reshape(len(x), -1).norm(dim=1) - 1) ** 2).mean()
    return penalty


NORMS_WITH_AFFINE = {
    "batch_norm 2-D": (lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
                       lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (6, 3), (3,)),
    "batch_norm 4-D": (lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
                       lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (3, 2, 3, 4), (2,)),
    "instance_norm": (lambda x, w, b: instance_norm(x, weight=w, bias=b),
                      lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (3, 2, 3, 4), (2,)),
    "layer_norm": (lambda x, w, b: layer_norm(x, (3, 4), w, b),
                   lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (3, 2, 3, 4), (3, 4)),
}


@pytest.mark.parametrize("ours, theirs, shape, param_shape", NORMS_WITH_AFFINE.values(), ids=NORMS_WITH_AFFINE.keys())
def test_gradient_penalty_through_norm_matches_torch(ours, theirs, shape, param_shape):
    # compares the penalty and its gradient with respect to x, weight and bias (bias has none)
    arrays = [randn(*shape), randn(*shape), randn(*param_shape), randn(*param_shape)]
    assert_matches_torch(gradient_penalty(minigan.grad, ours), arrays,
                         torch_fn=gradient_penalty(torch.autograd.grad, theirs),
                         grad_mask=[True, False, True, True], second_order=False)


def _composed_norm(axes):
    """The normalisation as torch ops: its derivatives of every order are exact, where torch's own
    batch_norm and instance_norm are not past the second (their double backward is not itself
    differentiated exactly: the third derivative of instance_norm is off by ~1 here)."""
    def norm(x, w, b):
        centered = x - x.mean(axes, keepdim=True)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        normalized = centered / ((centered * centered).mean(axes, keepdim=True) + 1e-5).sqrt()
        return normalized * w.reshape(shape) + b.reshape(shape)
    return norm


@pytest.mark.parametrize("ours, axes", [(NORMS_WITH_AFFINE["batch_norm 4-D"][0], (0, 2, 3)),
                                        (NORMS_WITH_AFFINE["instance_norm"][0], (2, 3))],
                         ids=["batch_norm", "instance_norm"])
def test_the_penalty_through_batch_statistics_differentiates_again_exactly(ours, axes):
    """NormGrad's closed-form backward, differentiated once more: the norm's third derivative."""
    arrays = [randn(3, 2, 3, 4), randn(3, 2, 3, 4), randn(2), randn(2)]
    assert_matches_torch(gradient_penalty(minigan.grad, ours), arrays,
                         torch_fn=gradient_penalty(torch.autograd.grad, _composed_norm(axes)),
                         grad_mask=[True, False, True, False], second_order=True)


def test_gradient_penalty_through_eval_batch_norm_matches_torch():
    (our_mean, our_var), (their_mean, their_var) = twins(*running_stats(3))
    arrays = [randn(4, 3, 2, 2), randn(4, 3, 2, 2), randn(3), randn(3)]
    assert_matches_torch(gradient_penalty(minigan.grad, lambda x, w, b: batch_norm(x, our_mean, our_var, w, b)),
                         arrays,
                         torch_fn=gradient_penalty(torch.autograd.grad,
                                                   lambda x, w, b: F.batch_norm(x, their_mean, their_var, w, b)),
                         grad_mask=[True, False, True, True], second_order=False)


@pytest.mark.parametrize("ours, theirs, shape, param_shape", NORMS_WITH_AFFINE.values(), ids=NORMS_WITH_AFFINE.keys())
def test_norm_gradients_pass_gradcheck_and_gradgradcheck(ours, theirs, shape, param_shape):
    x, w, b = (minigan.tensor(randn(*s), requires_grad=True) for s in (shape, param_shape, param_shape))
    assert minigan.gradcheck(ours, (x, w, b), random_directions=8)
    assert minigan.gradgradcheck(ours, (x, w, b), random_directions=8)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(2, 4), channels=st.integers(1, 3), length=st.integers(3, 5),
       offset=st.floats(-50, 50), scale=st.floats(0.01, 20), seed=st.integers(1, 2**32 - 1))
def test_batch_and_instance_norm_match_torch_for_any_shape_and_scale(batch, channels, length, offset, scale, seed):
    # length >= 3: two values per instance normalise to about ±1 whatever they are, so every
    # gradient is nearly 0 and a relative comparison with torch would measure rounding noise
    draw = numpy.random.default_rng(seed)
    x = draw.standard_normal((batch, channels, length)) * scale + offset
    w, b = draw.standard_normal(channels), draw.standard_normal(channels)
    check_norm(lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
               lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, [w, b])
    check_norm(lambda x, w, b: instance_norm(x, weight=w, bias=b),
               lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, [w, b])


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
def tensor(*shape):
    return minigan.tensor(randn(*shape))


@pytest.mark.parametrize("call, message", [
    (lambda: batch_norm(tensor(4), None, None, training=True), r"batch_norm: expected an input of shape .*\(4,\)"),
    (lambda: batch_norm(tensor(4, 3), None, None, tensor(2)), r"batch_norm: weight has shape \(2,\).*\(4, 3\).*\(3,\)"),
    (lambda: batch_norm(tensor(4, 3), tensor(3), None), "batch_norm: give both running_mean and running_var"),
    (lambda: batch_norm(tensor(1, 3), None, None, training=True),
     r"batch_norm: expected more than 1 value per channel when training, got input size \(1, 3\)"),
    (lambda: batch_norm(tensor(4, 3), tensor(3), tensor(3), training=True, momentum=None),
     "batch_norm: momentum=None"),
    (lambda: instance_norm(tensor(4, 3)), r"instance_norm: expected an input of shape .*\(4, 3\)"),
    (lambda: instance_norm(tensor(4, 3, 1, 1)), r"instance_norm: expected more than 1 spatial element"),
    (lambda: instance_norm(tensor(4, 3, 5), use_input_stats=False), "instance_norm: normalising with running statistics needs running_mean"),
    (lambda: layer_norm(tensor(2, 3), (4,)), r"layer_norm: normalized_shape=\(4,\).*\(2, 3\)"),
    (lambda: layer_norm(tensor(2, 3), (2, 2, 3)), r"layer_norm: normalized_shape=\(2, 2, 3\)"),
    (lambda: layer_norm(tensor(2, 3), (3,), tensor(2)), r"layer_norm: weight has shape \(2,\)"),
])
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): the same code path a GPU runs
# --------------------------------------------------------------------------------------------
def _arrays(*shapes, seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


NORMS = {
    "batch_norm": (lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True),
                   (4, 3, 2, 5), (3,)),
    "instance_norm": (lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b), (2, 3, 4, 5), (3,)),
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4, 5), w, b), (2, 3, 4, 5), (4, 5)),
}


@pytest.mark.parametrize("norm, shape, param_shape", NORMS.values(), ids=NORMS.keys())
@pytest.mark.usefixtures("standin_cuda")
def test_norm_on_cuda_matches_torch(norm, shape, param_shape):
    assert_matches_torch(on_cuda(lambda *t: norm(minigan, *t)), _arrays(shape, param_shape, param_shape),
                         lambda *t: norm(torch, *t), torch_fused=True)
