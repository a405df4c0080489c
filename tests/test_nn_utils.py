"""nn.utils against torch in float64: spectral_norm (state_dict keys, the power iteration while
training and none in eval, exact first and second derivatives through the normalised weight),
clip_grad_norm_ and clip_grad_value_, parameters_to_vector and vector_to_parameters."""
import math

import numpy
import pytest
from parity import assert_close, torch

import minigan
import minigan.nn as nn

rng = numpy.random.default_rng(5)


def spectral_twins(build, **options):
    """The layer `build(nn)` with spectral_norm in minigan and in torch, float64, with torch's
    weights and its random u and v in both."""
    theirs = torch.nn.utils.spectral_norm(build(torch.nn).double(), **options)
    ours = nn.utils.spectral_norm(build(nn).double(), **options)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    return ours, theirs


LAYERS = [
    pytest.param(lambda nn: nn.Linear(5, 4), (3, 5), id="Linear"),
    pytest.param(lambda nn: nn.Conv2d(3, 4, 3, 2, 1), (2, 3, 6, 6), id="Conv2d"),
    pytest.param(lambda nn: nn.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 3, 3), id="ConvTranspose2d-dim-1"),
]


@pytest.mark.parametrize("build, shape", LAYERS)
@pytest.mark.parametrize("iterations", [1, 3])
def test_spectral_norm_matches_torch_while_training_and_in_eval(build, shape, iterations):
    ours, theirs = spectral_twins(build, n_power_iterations=iterations)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    for step in range(3):
        x = rng.standard_normal(shape)
        for module in (ours, theirs):
            module.zero_grad()
        output, their_output = ours(minigan.tensor(x)), theirs(torch.tensor(x))
        assert_close(output.array, their_output.detach().numpy(), what=f"step {step} output")
        incoming = rng.standard_normal(output.shape)
        output.backward(minigan.tensor(incoming))
        their_output.backward(torch.tensor(incoming))
        assert_close(ours.weight_orig.grad.array, theirs.weight_orig.grad.numpy(), what="weight_orig's gradient")
        for buffer in ("weight_u", "weight_v"):
            assert_close(getattr(ours, buffer).array, getattr(theirs, buffer).numpy(), what=buffer)
    ours.eval(), theirs.eval()
    u_before = ours.weight_u.array.copy()
    x = rng.standard_normal(shape)
    assert_close(ours(minigan.tensor(x)).array, theirs(torch.tensor(x)).detach().numpy(), what="eval output")
    numpy.testing.assert_array_equal(ours.weight_u.array, u_before)  # no power iteration in eval


def test_spectral_norm_is_exact_to_second_order_inside_a_gradient_penalty():
    ours, theirs = spectral_twins(lambda nn: nn.Conv2d(2, 3, 3, padding=1))
    x = rng.standard_normal((2, 2, 4, 4))
    penalties = []
    for lib, module in ((minigan, ours), (torch, theirs)):
        inputs = lib.tensor(x, requires_grad=True)
        gradient, = lib.autograd.grad(module(inputs).tanh().sum(), inputs, create_graph=True) \
            if lib is torch else lib.grad(module(inputs).tanh().sum(), inputs, create_graph=True)
        penalty = ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
        penalty.backward()
        penalties.append((penalty.item(), module.weight_orig.grad))
    assert penalties[0][0] == pytest.approx(penalties[1][0], rel=1e-12)
    assert_close(penalties[0][1].array, penalties[1][1].numpy(), what="weight_orig's second-order gradient")


def test_spectral_norm_refuses_twice_and_remove_gives_back_a_parameter():
    layer = nn.utils.spectral_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(layer)
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    for _ in range(30):  # training forwards: each runs a power iteration step
        layer(minigan.randn(1, 3))
    layer.eval()
    layer(minigan.randn(1, 3))
    normalised = layer.weight.detach().array.copy()
    nn.utils.remove_spectral_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight"] and isinstance(layer.weight, nn.Parameter)
    numpy.testing.assert_array_equal(layer.weight.array, normalised)
    # the power iteration has converged: the normalised weight's largest singular value is 1
    assert numpy.linalg.svd(normalised, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [rng.standard_normal(shape) for shape in shapes]
    ours = [nn.Parameter(minigan.zeros(shape, dtype=minigan.float64)) for shape in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64)) for shape in shapes]
    for our, their, grad in zip(ours, theirs, grads):
        our.grad, their.grad = minigan.tensor(grad), torch.tensor(grad)
    extra = nn.Parameter(minigan.zeros(2))  # no gradient: skipped, as in torch
    total = nn.utils.clip_grad_norm_(ours + [extra], max_norm, norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(their_total.item(), rel=1e-14)
    for our, their in zip(ours, theirs):
        assert_close(our.grad.array, their.grad.numpy(), what="clipped gradient")


def test_clip_grad_norm_corners_and_clip_grad_value():
    assert nn.utils.clip_grad_norm_([nn.Parameter(minigan.zeros(2))], 1.0).item() == 0.0
    broken = nn.Parameter(minigan.zeros(2))
    broken.grad = minigan.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(broken, 1.0, error_if_nonfinite=True)
    grad = rng.standard_normal((4, 3))
    ours = nn.Parameter(minigan.zeros(4, 3, dtype=minigan.float64))
    theirs = torch.nn.Parameter(torch.zeros(4, 3, dtype=torch.float64))
    ours.grad, theirs.grad = minigan.tensor(grad), torch.tensor(grad)
    nn.utils.clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    numpy.testing.assert_array_equal(ours.grad.array, theirs.grad.numpy())


def test_parameters_to_vector_and_back_match_torch():
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    vector = nn.utils.parameters_to_vector(ours.parameters())
    numpy.testing.assert_array_equal(vector.detach().array,
                                     torch.nn.utils.parameters_to_vector(theirs.parameters()).detach().numpy())
    assert vector.requires_grad
    new = rng.standard_normal(8)
    nn.utils.vector_to_parameters(minigan.tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs.parameters())
    for (name, ours_p), (_, their_p) in zip(ours.named_parameters(), theirs.named_parameters()):
        numpy.testing.assert_array_equal(ours_p.array, their_p.detach().numpy(), err_msg=name)
    with pytest.raises(TypeError, match="expected Tensor"):
        nn.utils.vector_to_parameters(new, ours.parameters())


# --------------------------------------------------------------------------------------------
# The examples' --ema: an exponential moving average of G, as torch's AveragedModel keeps one
# --------------------------------------------------------------------------------------------
def test_exponential_moving_average_matches_torchs_averaged_model():
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from minigan.utils.ema import ExponentialMovingAverage
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    average = ExponentialMovingAverage(ours, decay=0.9)
    their_average = AveragedModel(theirs, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=False)
    their_average.update_parameters(theirs)  # torch's first update copies the weights; ours starts as a copy
    # SGD, not Adam: the bias before BatchNorm has a gradient of rounding noise, which Adam scales up to ±lr
    our_optimizer, their_optimizer = minigan.optim.SGD(ours.parameters(), 0.1), torch.optim.SGD(theirs.parameters(), 0.1)
    for step in range(4):
        x = rng.standard_normal((5, 3))
        for model, optimizer, lib in ((ours, our_optimizer, minigan), (theirs, their_optimizer, torch)):
            optimizer.zero_grad()
            model(lib.tensor(x)).pow(2).sum().backward()
            optimizer.step()
        average.update(ours)
        their_average.update_parameters(theirs)
    for (name, ours_p), (_, their_p) in zip(average.model.named_parameters(), their_average.module.named_parameters()):
        assert_close(ours_p.array, their_p.detach().numpy(), what=name)
        assert not ours_p.requires_grad
    numpy.testing.assert_array_equal(average.model[1].running_mean.array, ours[1].running_mean.array)
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(ours, 1.0)
