"""minigan.nn against torch.nn in float64: every layer, state_dict, repr, init and the Module API.

Each layer is built twice by one constructor, `build(torch.nn)` and `build(minigan.nn)`; torch's
weights are loaded into minigan's through a converted state_dict ({key: tensor.numpy()}), which
is itself the test that torch checkpoints load 1:1. Then both run the same steps and must agree.
"""
import copy
import inspect
import math
from collections import OrderedDict

import numpy
import pytest
from parity import (assert_close, assert_matches_torch, assert_same_gradients, assert_same_state, load_from_torch, on_cuda,
                    torch, twins)

import minigan
import minigan.nn as nn
import minigan.nn.functional as F

TF = torch.nn.functional


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def assert_step_matches(ours, theirs, array, seed=0):
    """One forward and backward through both with the same random incoming gradient: the
    outputs, the input gradients and every parameter gradient agree."""
    ours.zero_grad()
    theirs.zero_grad()
    floating = array.dtype.kind == "f"
    x, their_x = minigan.tensor(array, requires_grad=floating), torch.tensor(array, requires_grad=floating)
    output, their_output = ours(x), theirs(their_x)
    assert_close(output.array, their_output.detach().numpy(), what="output")
    if not their_output.requires_grad:
        return
    # a stream of its own: an incoming gradient proportional to the input would hide errors
    incoming = numpy.random.default_rng(1000 + seed).standard_normal(tuple(their_output.shape))
    output.backward(minigan.tensor(incoming))
    their_output.backward(torch.tensor(incoming))
    if floating:
        assert_close(x.grad.array, their_x.grad.numpy(), what="input gradient")
    assert_same_gradients(ours, theirs)


# --------------------------------------------------------------------------------------------
# Every layer: forward, input and parameter gradients, running statistics, eval mode
# --------------------------------------------------------------------------------------------
LAYERS = [
    pytest.param(lambda nn: nn.Linear(5, 3), (4, 5), id="Linear"),
    pytest.param(lambda nn: nn.Linear(5, 3, bias=False), (2, 4, 5), id="Linear-3d-input-no-bias"),
    pytest.param(lambda nn: nn.Conv2d(3, 4, 3), (2, 3, 7, 6), id="Conv2d"),
    pytest.param(lambda nn: nn.Conv2d(3, 4, 4, 2, 1, bias=False), (2, 3, 8, 8), id="Conv2d-dcgan-block"),
    pytest.param(lambda nn: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)), (2, 2, 7, 5),
                 id="Conv2d-rectangular"),
    pytest.param(lambda nn: nn.Conv2d(2, 3, 3, padding=1), (2, 5, 4), id="Conv2d-unbatched"),
    pytest.param(lambda nn: nn.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 4, 5), id="ConvTranspose2d"),
    pytest.param(lambda nn: nn.ConvTranspose2d(4, 3, 4, 1, 0, bias=False), (2, 4, 1, 1),
                 id="ConvTranspose2d-from-noise"),
    pytest.param(lambda nn: nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
                 (2, 2, 3, 4), id="ConvTranspose2d-rectangular"),
    pytest.param(lambda nn: nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 5, 5), id="Conv2d-groups"),
    pytest.param(lambda nn: nn.Conv2d(4, 4, 3, groups=4, bias=False), (2, 4, 5, 5), id="Conv2d-depthwise"),
    pytest.param(lambda nn: nn.Conv2d(3, 2, (3, 2), dilation=(2, 1), stride=2), (2, 3, 9, 7), id="Conv2d-dilation"),
    pytest.param(lambda nn: nn.Conv2d(3, 2, 4, padding="same"), (2, 3, 6, 5), id="Conv2d-same-even-kernel"),
    pytest.param(lambda nn: nn.Conv2d(3, 2, 3, padding="valid", dilation=2), (2, 3, 7, 7), id="Conv2d-valid"),
    pytest.param(lambda nn: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"), (2, 3, 5, 5),
                 id="Conv2d-reflect"),
    pytest.param(lambda nn: nn.Conv2d(3, 2, 3, padding=(1, 2), padding_mode="replicate"), (2, 3, 5, 5),
                 id="Conv2d-replicate"),
    pytest.param(lambda nn: nn.Conv2d(3, 2, 4, padding="same", padding_mode="circular"), (2, 3, 5, 5),
                 id="Conv2d-same-circular"),
    pytest.param(lambda nn: nn.ConvTranspose2d(4, 6, 4, 2, 1, groups=2, dilation=2, output_padding=1),
                 (2, 4, 3, 3), id="ConvTranspose2d-groups-dilation"),
    pytest.param(lambda nn: nn.BatchNorm1d(4), (5, 4), id="BatchNorm1d"),
    pytest.param(lambda nn: nn.BatchNorm1d(3, 0.8, momentum=0.3), (4, 3, 5), id="BatchNorm1d-3d-eps0.8"),
    pytest.param(lambda nn: nn.BatchNorm2d(3), (2, 3, 4, 5), id="BatchNorm2d"),
    pytest.param(lambda nn: nn.BatchNorm2d(3, affine=False, momentum=None), (2, 3, 4, 5), id="BatchNorm2d-cumulative"),
    pytest.param(lambda nn: nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 4, 5), id="BatchNorm2d-untracked"),
    pytest.param(lambda nn: nn.BatchNorm2d(3, bias=False), (2, 3, 4, 5), id="BatchNorm2d-no-bias"),
    pytest.param(lambda nn: nn.InstanceNorm2d(3), (2, 3, 4, 5), id="InstanceNorm2d"),
    pytest.param(lambda nn: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 5), id="InstanceNorm2d-affine"),
    pytest.param(lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 5),
                 id="InstanceNorm2d-tracked"),
    pytest.param(lambda nn: nn.InstanceNorm2d(3, affine=True), (3, 4, 5), id="InstanceNorm2d-unbatched"),
    pytest.param(lambda nn: nn.LayerNorm(5), (2, 3, 5), id="LayerNorm"),
    pytest.param(lambda nn: nn.LayerNorm([3, 5], eps=1e-3, elementwise_affine=False), (2, 3, 5),
                 id="LayerNorm-no-affine"),
    pytest.param(lambda nn: nn.LayerNorm((3, 5), bias=False), (2, 3, 5), id="LayerNorm-no-bias"),
    pytest.param(lambda nn: nn.GroupNorm(2, 6), (2, 6, 3, 4), id="GroupNorm"),
    pytest.param(lambda nn: nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 2, 3, padding=1), nn.MaxPool2d(2),
                                          nn.ReflectionPad2d(1), nn.AvgPool2d(3, 1), nn.AdaptiveAvgPool2d(2)),
                 (2, 3, 4, 5), id="Upsample-Conv2d-pools-pad"),
    pytest.param(lambda nn: nn.ReLU(), (3, 4), id="ReLU"),
    pytest.param(lambda nn: nn.LeakyReLU(), (3, 4), id="LeakyReLU"),
    pytest.param(lambda nn: nn.LeakyReLU(0.2), (3, 4), id="LeakyReLU-0.2"),
    pytest.param(lambda nn: nn.Sigmoid(), (3, 4), id="Sigmoid"),
    pytest.param(lambda nn: nn.Tanh(), (3, 4), id="Tanh"),
    pytest.param(lambda nn: nn.ELU(0.7), (3, 4), id="ELU"),
    pytest.param(lambda nn: nn.SiLU(), (3, 4), id="SiLU"),
    pytest.param(lambda nn: nn.GELU(), (3, 4), id="GELU"),
    pytest.param(lambda nn: nn.GELU("tanh"), (3, 4), id="GELU-tanh"),
    pytest.param(lambda nn: nn.Softplus(2.0, 5.0), (3, 4), id="Softplus"),
    pytest.param(lambda nn: nn.Hardtanh(-0.5, 1.5), (3, 4), id="Hardtanh"),
    pytest.param(lambda nn: nn.Softmax(1), (3, 4), id="Softmax"),
    pytest.param(lambda nn: nn.LogSoftmax(dim=0), (3, 4), id="LogSoftmax"),
    pytest.param(lambda nn: nn.Dropout2d(0.5), (2, 3, 4, 4), id="Dropout2d-identity-in-eval"),
    pytest.param(lambda nn: nn.Flatten(), (2, 3, 4, 5), id="Flatten"),
    pytest.param(lambda nn: nn.Flatten(0, 2), (2, 3, 4, 5), id="Flatten-0-2"),
    pytest.param(lambda nn: nn.Unflatten(1, (2, -1, 3)), (2, 12), id="Unflatten"),
    pytest.param(lambda nn: nn.Dropout(0.5), (3, 4), id="Dropout-identity-in-eval"),  # eval step only: see below
    pytest.param(lambda nn: nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.LeakyReLU(0.2), nn.Linear(4, 2)),
                 (5, 6), id="Sequential"),
]


@pytest.mark.parametrize("build, shape", LAYERS)
def test_layer_matches_torch_while_training_and_in_eval(build, shape):
    ours, theirs = twins(build)
    rng = numpy.random.default_rng(0)
    if not isinstance(ours, nn.Dropout):  # dropout's random mask differs: tested on its own below (and Dropout2d's)
        for step in range(3):
            assert_step_matches(ours, theirs, rng.normal(1.0, 2.0, shape), seed=step)
    assert_same_state(ours, theirs)  # running statistics and num_batches_tracked after training
    ours.eval()
    theirs.eval()
    assert_step_matches(ours, theirs, rng.normal(1.0, 2.0, shape), seed=3)
    assert_same_state(ours, theirs)  # and eval leaves them alone


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_matches_torch_and_sums_gradients_of_repeated_rows(padding_idx):
    ours, theirs = twins(lambda nn: nn.Embedding(6, 3, padding_idx=padding_idx))
    assert_step_matches(ours, theirs, numpy.array([[0, 2, 5, 2], [5, 5, 1, 2]]))
    if padding_idx is not None:
        assert not numpy.any(ours.weight.grad.array[padding_idx])


def test_batchnorm_running_statistics_follow_torch_over_steps_and_eval_uses_them():
    ours, theirs = twins(lambda nn: nn.BatchNorm2d(2, momentum=0.2))
    rng = numpy.random.default_rng(1)
    for step in range(4):
        assert_step_matches(ours, theirs, rng.normal(step, 1.0 + step, (3, 2, 2, 3)), seed=step)
        assert_close(ours.running_mean.array, theirs.running_mean.numpy(), what="running_mean")
        assert_close(ours.running_var.array, theirs.running_var.numpy(), what="running_var")
    assert int(ours.num_batches_tracked.item()) == 4
    ours.eval()
    x = rng.normal(0.0, 1.0, (3, 2, 2, 3))
    per_channel = {name: getattr(ours, name).array.reshape(1, 2, 1, 1)
                   for name in ["running_mean", "running_var", "weight", "bias"]}
    normalized = (x - per_channel["running_mean"]) / numpy.sqrt(per_channel["running_var"] + 1e-5)
    assert_close(ours(minigan.tensor(x)).array, normalized * per_channel["weight"] + per_channel["bias"])


# --------------------------------------------------------------------------------------------
# Functional forms: forward, first and second order
# --------------------------------------------------------------------------------------------
def test_functional_linear_matches_torch_to_second_order():
    rng = numpy.random.default_rng(2)
    for shape in [(4, 5), (2, 3, 5), (5,)]:
        arrays = [rng.standard_normal(shape), rng.standard_normal((3, 5)), rng.standard_normal(3)]
        assert_matches_torch(lambda x, w, b: F.linear(x, w, b), arrays, torch_fn=torch.nn.functional.linear)
    assert_matches_torch(lambda x, w: F.linear(x, w), [rng.standard_normal((4, 5)), rng.standard_normal((3, 5))],
                         torch_fn=torch.nn.functional.linear)


def test_functional_embedding_matches_torch():
    indices = numpy.array([[1, 0, 1], [3, 3, 2]])
    weight = numpy.random.default_rng(3).standard_normal((4, 2))
    assert_matches_torch(lambda i, w: F.embedding(i, w), [indices, weight], torch_fn=torch.nn.functional.embedding)
    assert_matches_torch(lambda i, w: F.embedding(i, w, padding_idx=3), [indices, weight],
                         torch_fn=lambda i, w: torch.nn.functional.embedding(i, w, padding_idx=3))


def _torch_signature(function):
    """torch's signature of a function: inspect's, or for a builtin the first line of its docstring;
    for a boolean dispatch (max_pool2d: (*args, **kwargs)), that of the function it dispatches to."""
    try:
        signature = inspect.signature(function)
        kinds = [p.kind for p in signature.parameters.values()]
        if kinds == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]:
            return inspect.signature(getattr(TF, "_" + function.__name__))
        return signature
    except ValueError:
        header = function.__doc__.strip().split("\n")[0].split(" -> ")[0]
        namespace = {}
        exec(f"def {header}: pass", namespace)  # the documented parameters and defaults, as a def
        return inspect.signature(namespace[header.split("(")[0]])


@pytest.mark.parametrize("name", F.__all__)
def test_each_functional_has_torchs_signature(name):
    """Names, order, kinds and defaults of the parameters, as torch's (annotations aside)."""
    def parameters(signature):
        return [(p.name, p.kind, p.default) for p in signature.parameters.values()]
    assert parameters(inspect.signature(getattr(F, name))) == parameters(_torch_signature(getattr(TF, name)))


def test_functional_names_match_torch_signatures():
    x = minigan.tensor([[-1.0, 2.0]])
    assert F.leaky_relu(x, 0.5, inplace=False).tolist() == [[-0.5, 2.0]] and x.tolist() == [[-1.0, 2.0]]
    assert F.relu(x, inplace=True) is x and x.tolist() == [[0.0, 2.0]]  # written into x, as torch's
    for name in ["linear", "conv2d", "conv_transpose2d", "batch_norm", "instance_norm", "layer_norm", "embedding",
                 "dropout", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "pad",
                 "sigmoid", "tanh", "softplus", "logsigmoid", "cross_entropy", "log_softmax", "softmax"]:
        assert callable(getattr(F, name)), name


# --------------------------------------------------------------------------------------------
# Dropout: its mask is random, so its laws are tested rather than its values
# --------------------------------------------------------------------------------------------
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest_by_one_over_one_minus_p():
    minigan.manual_seed(0)
    x = minigan.ones(200, 500, dtype=minigan.float64, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    assert set(numpy.unique(y.array)) == {0.0, 1 / 0.7}
    assert abs((y.array == 0).mean() - 0.3) < 0.01
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.array, y.array)  # d/dx (mask · x / (1 - p)) = mask / (1 - p)


def test_dropout2d_zeroes_whole_channels_with_probability_p():
    minigan.manual_seed(0)
    x = minigan.ones(100, 60, 3, 4, dtype=minigan.float64, requires_grad=True)
    y = nn.Dropout2d(0.25)(x)
    per_channel = y.array.reshape(100, 60, -1)
    assert numpy.all(per_channel == per_channel[:, :, :1])  # one draw per (sample, channel)
    assert set(numpy.unique(per_channel)) == {0.0, 1 / 0.75}
    assert abs((per_channel[:, :, 0] == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.array, y.array)
    with pytest.raises(minigan.ShapeError, match="dropout2d"):
        F.dropout2d(minigan.ones(3, 4))


def test_activations_match_torch_to_second_order_at_their_corners():
    """Values at ELU's and hardtanh's kinks and bounds, and far out where an exponential overflows."""
    x = numpy.array([-100.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 100.0, 800.0])
    for ours, theirs in [(lambda t: F.elu(t, 0.5), lambda t: TF.elu(t, 0.5)), (F.silu, TF.silu), (F.gelu, TF.gelu),
                         (lambda t: F.gelu(t, approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh")),
                         (lambda t: F.hardtanh(t, -1.0, 1.0), lambda t: TF.hardtanh(t, -1.0, 1.0)),
                         (lambda t: F.hardtanh(t, -0.5, 0.5), lambda t: TF.hardtanh(t, -0.5, 0.5))]:
        # torch's hardtanh gradient is in the graph however constant it is (one fused node)
        assert_matches_torch(ours, [x], torch_fn=theirs, torch_fused=True)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(minigan.zeros(2), approximate="fast")


def test_normalize_matches_torch():
    rng = numpy.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    x[1] = 0.0  # a zero row: divided by eps, as in torch
    for options in [{}, dict(p=1, dim=0), dict(p=3.0, dim=-1, eps=1e-3)]:
        assert_matches_torch(lambda t: F.normalize(t, **options), [x],
                             torch_fn=lambda t: TF.normalize(t, **options), second_order=False)
    assert_matches_torch(lambda t: F.normalize(t), [rng.standard_normal((3, 4))], torch_fn=TF.normalize)


def test_dropout_is_the_identity_in_eval_and_for_p_0_and_zero_for_p_1():
    x = minigan.randn(3, 4)
    assert nn.Dropout().eval()(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert not numpy.any(F.dropout(x, 1.0).array)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_masks_repeat_with_the_seed():
    minigan.manual_seed(7)
    first = F.dropout(minigan.ones(50), 0.5)
    minigan.manual_seed(7)
    numpy.testing.assert_array_equal(F.dropout(minigan.ones(50), 0.5).array, first.array)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------
LOSSES = [
    pytest.param(lambda nn, lib: nn.BCELoss(), "probability", id="BCELoss"),
    pytest.param(lambda nn, lib: nn.BCELoss(weight=lib.tensor([0.5, 2.0, 1.0]).double(), reduction="sum"),
                 "probability", id="BCELoss-weight-sum"),
    pytest.param(lambda nn, lib: nn.BCEWithLogitsLoss(), "logit", id="BCEWithLogitsLoss"),
    pytest.param(lambda nn, lib: nn.BCEWithLogitsLoss(pos_weight=lib.tensor([3.0, 1.0, 0.5]).double(),
                                                      reduction="none"), "logit", id="BCEWithLogitsLoss-pos_weight"),
    pytest.param(lambda nn, lib: nn.MSELoss(), "logit", id="MSELoss"),
    pytest.param(lambda nn, lib: nn.MSELoss(reduction="sum"), "logit", id="MSELoss-sum"),
]


@pytest.mark.parametrize("build, kind", LOSSES)
def test_loss_module_matches_torch(build, kind):
    rng = numpy.random.default_rng(4)
    ours, theirs = build(nn, minigan), build(torch.nn, torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    logits = rng.standard_normal((4, 3))
    input = 1 / (1 + numpy.exp(-logits)) if kind == "probability" else logits
    target = rng.random((4, 3))
    x = minigan.tensor(input, requires_grad=True)
    their_x = torch.tensor(input, requires_grad=True)
    loss, their_loss = ours(x, minigan.tensor(target)), theirs(their_x, torch.tensor(target))
    assert_close(loss.array, their_loss.detach().numpy(), what="loss")
    incoming = rng.standard_normal(tuple(their_loss.shape))
    loss.backward(minigan.tensor(incoming))
    their_loss.backward(torch.tensor(incoming))
    assert_close(x.grad.array, their_x.grad.numpy(), what="input gradient")


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns that size_average and reduce are deprecated
@pytest.mark.parametrize("size_average, reduce", [(None, None), (False, None), (True, False), (None, True)])
def test_loss_legacy_flags_choose_the_reduction_as_torch(size_average, reduce):
    ours, theirs = nn.MSELoss(size_average, reduce), torch.nn.MSELoss(size_average, reduce)
    assert ours.reduction == theirs.reduction


# --------------------------------------------------------------------------------------------
# state_dict: keys, loading, errors
# --------------------------------------------------------------------------------------------
def test_state_dict_of_a_model_has_torchs_keys_and_loads_torchs_values():
    build = lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(8, 3), nn.LayerNorm(3), nn.Embedding(2, 3))
    ours, theirs = twins(build)
    assert_same_state(ours, theirs)
    assert isinstance(ours.state_dict(), OrderedDict)


def test_load_state_dict_copies_into_the_existing_arrays_so_views_stay_valid():
    layer = nn.Linear(3, 2).double()
    flat = numpy.zeros(8)  # an optimizer's flat buffer, with the parameters as views into it
    layer.weight.array, layer.bias.array = flat[:6].reshape(2, 3), flat[6:]
    weight_array = layer.weight.array
    source = nn.Linear(3, 2)  # float32 values, cast on copy as torch's copy_ does
    result = layer.load_state_dict(source.state_dict())
    assert layer.weight.array is weight_array and layer.weight.dtype == numpy.float64
    numpy.testing.assert_array_equal(flat, numpy.concatenate([source.weight.array.ravel(), source.bias.array]))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"


def test_load_state_dict_reports_every_bad_key_at_once_and_copies_nothing():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = {key: value.array.copy() for key, value in model.state_dict().items()}
    bad = {key: value.numpy() for key, value in model.state_dict().items()}
    del bad["0.bias"], bad["1.running_var"]
    bad["2.weight"], bad["extra"] = numpy.zeros(2), numpy.zeros(1)
    bad["1.weight"] = numpy.ones(5)
    bad["0.weight"] = numpy.full((2, 3), 9.0)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(bad)
    message = str(error.value)
    for expected in ['Missing key(s) in state_dict: "0.bias", "1.running_var".',
                     'Unexpected key(s) in state_dict: "2.weight", "extra".',
                     "size mismatch for 1.weight: copying a param with shape (5,) from checkpoint, "
                     "the shape in current model is (2,)."]:
        assert expected in message
    for key, value in model.state_dict().items():
        numpy.testing.assert_array_equal(value.array, before[key], err_msg=f"{key} changed by a failed load")


def test_load_state_dict_not_strict_returns_the_unmatched_keys_but_still_rejects_wrong_shapes():
    model = nn.Linear(3, 2)
    partial = {"weight": numpy.ones((2, 3)), "extra": numpy.zeros(1)}
    result = model.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    numpy.testing.assert_array_equal(model.weight.array, numpy.ones((2, 3)))
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        model.load_state_dict({"weight": numpy.ones((3, 2))}, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        model.load_state_dict([("weight", numpy.ones((2, 3)))])


def test_state_dict_skips_non_persistent_buffers_and_shares_memory():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("kept", minigan.zeros(2))
            self.register_buffer("scratch", minigan.zeros(2), persistent=False)

    module = Counter()
    assert list(module.state_dict()) == ["kept"]
    assert [name for name, _ in module.named_buffers()] == ["kept", "scratch"]
    assert numpy.shares_memory(module.state_dict()["kept"].array, module.kept.array)
    assert not module.state_dict()["kept"].requires_grad


# --------------------------------------------------------------------------------------------
# repr: the same text as torch's
# --------------------------------------------------------------------------------------------
REPRS = [
    lambda nn: nn.Linear(784, 256),
    lambda nn: nn.Linear(3, 1, bias=False),
    lambda nn: nn.Conv2d(3, 64, 4, 2, 1, bias=False),
    lambda nn: nn.Conv2d(2, 3, (3, 2), stride=(2, 1)),
    lambda nn: nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False),
    lambda nn: nn.ConvTranspose2d(8, 4, 3, 2, 1, output_padding=1),
    lambda nn: nn.BatchNorm1d(256, 0.8),
    lambda nn: nn.BatchNorm2d(64, momentum=None),
    lambda nn: nn.InstanceNorm2d(8, affine=True),
    lambda nn: nn.InstanceNorm2d(8),
    lambda nn: nn.LayerNorm([3, 4]),
    lambda nn: nn.LayerNorm(4, elementwise_affine=False),
    lambda nn: nn.Embedding(10, 3),
    lambda nn: nn.Embedding(10, 3, padding_idx=-1),
    lambda nn: nn.Dropout(0.3),
    lambda nn: nn.Flatten(),
    lambda nn: nn.Unflatten(1, (1, 28, 28)),
    lambda nn: nn.ReLU(True),
    lambda nn: nn.ReLU(),
    lambda nn: nn.LeakyReLU(0.2, inplace=True),
    lambda nn: nn.LeakyReLU(),
    lambda nn: nn.Sigmoid(),
    lambda nn: nn.Tanh(),
    lambda nn: nn.BCELoss(),
    lambda nn: nn.BCEWithLogitsLoss(),
    lambda nn: nn.MSELoss(reduction="sum"),
    lambda nn: nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Sequential(nn.Linear(256, 1), nn.Sigmoid())),
    lambda nn: nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU())),
]


@pytest.mark.parametrize("build", REPRS, ids=lambda build: repr(build(torch.nn)).split("(")[0])
def test_repr_is_torchs(build):
    assert repr(build(nn)) == repr(build(torch.nn))


def test_parameter_is_a_tensor_that_requires_grad_and_prints_as_torch():
    param = nn.Parameter(minigan.tensor([1.0, 2.0]))
    assert isinstance(param, minigan.Tensor) and param.requires_grad and param.is_leaf
    assert repr(param).startswith("Parameter containing:\ntensor([1., 2.]")
    assert not nn.Parameter(minigan.zeros(2), requires_grad=False).requires_grad


# --------------------------------------------------------------------------------------------
# init: the distributions of torch.nn.init and of the default initialisations
# --------------------------------------------------------------------------------------------
def _assert_uniform(values, bound):
    """Samples of U(-bound, bound): inside the bounds, reaching them, with std bound / sqrt(3)."""
    values = numpy.asarray(values, dtype=numpy.float64).ravel()
    assert numpy.abs(values).max() <= bound
    assert numpy.abs(values).max() > 0.99 * bound
    assert abs(values.mean()) < 0.05 * bound
    assert abs(values.std() / (bound / math.sqrt(3)) - 1) < 0.05


def _assert_normal(values, mean, std):
    values = numpy.asarray(values, dtype=numpy.float64).ravel()
    assert abs(values.mean() - mean) < 0.05 * std
    assert abs(values.std() / std - 1) < 0.05
    assert abs(((values - mean) ** 4).mean() / std ** 4 - 3) < 0.3  # a normal's kurtosis, not a uniform's 1.8


@pytest.mark.parametrize("nonlinearity, param", [("linear", None), ("conv_transpose2d", None), ("sigmoid", None),
                                                 ("tanh", None), ("relu", None), ("leaky_relu", None),
                                                 ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_is_torchs(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 2, 5), (6, 2, 3)])
def test_fans_are_torchs(shape):
    ours = nn.init._calculate_fan_in_and_fan_out(minigan.zeros(shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_init_functions_fill_in_place_without_a_graph_and_return_the_tensor():
    minigan.manual_seed(0)
    layer = nn.Linear(300, 400).double()
    weight, array = layer.weight, layer.weight.array
    for fill in [lambda w: nn.init.uniform_(w, -0.5, 0.5), lambda w: nn.init.normal_(w, 0.0, 0.02),
                 lambda w: nn.init.constant_(w, 0.3), nn.init.zeros_, nn.init.ones_, nn.init.xavier_uniform_,
                 nn.init.xavier_normal_, nn.init.kaiming_uniform_, nn.init.kaiming_normal_]:
        assert fill(weight) is weight
        assert weight.array is array and weight.grad_fn is None and weight.requires_grad
    weight = layer.weight.array  # 400 × 300 = 120,000 samples for the distributions below
    _assert_uniform(nn.init.uniform_(layer.weight, -0.5, 0.5).array, 0.5)
    _assert_normal(nn.init.normal_(layer.weight, 1.0, 0.02).array, 1.0, 0.02)
    assert numpy.all(nn.init.constant_(layer.weight, 0.3).array == 0.3)
    assert numpy.all(nn.init.zeros_(layer.weight).array == 0) and numpy.all(nn.init.ones_(layer.weight).array == 1)
    fan_in, fan_out = 300, 400
    _assert_uniform(nn.init.xavier_uniform_(layer.weight, gain=2.0).array, 2.0 * math.sqrt(6 / (fan_in + fan_out)))
    _assert_normal(nn.init.xavier_normal_(layer.weight).array, 0.0, math.sqrt(2 / (fan_in + fan_out)))
    _assert_uniform(nn.init.kaiming_uniform_(layer.weight, a=0.2).array,
                    math.sqrt(3) * math.sqrt(2 / (1 + 0.2 ** 2)) / math.sqrt(fan_in))
    _assert_normal(nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu").array,
                   0.0, math.sqrt(2) / math.sqrt(fan_out))
    assert layer.weight.array is weight


def test_init_draws_repeat_with_the_seed_or_a_given_generator():
    minigan.manual_seed(3)
    first = nn.Linear(4, 3)
    minigan.manual_seed(3)
    second = nn.Linear(4, 3)
    numpy.testing.assert_array_equal(first.weight.array, second.weight.array)
    a = nn.init.normal_(minigan.zeros(5), generator=numpy.random.default_rng(1))
    b = nn.init.normal_(minigan.zeros(5), generator=numpy.random.default_rng(1))
    numpy.testing.assert_array_equal(a.array, b.array)


@pytest.mark.parametrize("build, fan_in", [
    (lambda nn: nn.Linear(600, 200), 600),
    (lambda nn: nn.Conv2d(16, 64, (3, 2)), 16 * 6),
    (lambda nn: nn.ConvTranspose2d(512, 3, 4), 3 * 16),  # torch's fan of a transposed weight (in, out, kh, kw)
])
def test_default_initialisation_draws_from_torchs_distribution(build, fan_in):
    minigan.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = build(nn), build(torch.nn)
    bound = 1 / math.sqrt(fan_in)
    _assert_uniform(ours.weight.array, bound)
    _assert_uniform(theirs.weight.detach().numpy(), bound)
    assert numpy.abs(ours.bias.array).max() <= bound
    assert ours.weight.dtype == numpy.float32 == theirs.weight.detach().numpy().dtype


def test_default_initialisation_of_norms_and_embedding_is_torchs():
    minigan.manual_seed(0)
    batch_norm, layer_norm = nn.BatchNorm2d(5), nn.LayerNorm((2, 3))
    assert numpy.all(batch_norm.weight.array == 1) and numpy.all(batch_norm.bias.array == 0)
    assert numpy.all(batch_norm.running_mean.array == 0) and numpy.all(batch_norm.running_var.array == 1)
    assert batch_norm.num_batches_tracked.item() == 0 and batch_norm.num_batches_tracked.dtype == numpy.int64
    assert numpy.all(layer_norm.weight.array == 1) and numpy.all(layer_norm.bias.array == 0)
    _assert_normal(nn.Embedding(1000, 100).weight.array, 0.0, 1.0)
    assert not numpy.any(nn.Embedding(10, 4, padding_idx=3).weight.array[3])


# --------------------------------------------------------------------------------------------
# The Module API
# --------------------------------------------------------------------------------------------
def build_net(lib):
    """A module with parameters, a buffer, a nested Sequential and a shared child, in `lib`."""
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.BatchNorm2d(2), lib.nn.ReLU())
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.register_buffer("steps", lib.zeros(1))
            self.head = lib.nn.Linear(2, 1)
            self.shared = self.head  # one module under two names

        def forward(self, x):
            return self.head(self.features(x).mean((2, 3))) * self.scale

    return Net()


def test_module_walks_in_torchs_order():
    ours, theirs = load_from_torch(build_net(minigan), build_net(torch))
    for walk in ["named_parameters", "named_buffers", "named_modules", "named_children"]:
        assert [name for name, _ in getattr(ours, walk)()] == [name for name, _ in getattr(theirs, walk)()], walk
    assert len(list(ours.parameters())) == 7 and len(list(ours.children())) == 2
    assert_same_state(ours, theirs)
    assert repr(ours) == repr(theirs)
    assert_step_matches(ours, theirs, numpy.random.default_rng(5).standard_normal((3, 1, 4, 4)))


def test_train_and_eval_reach_every_module():
    model = build_net(minigan)
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())
    with pytest.raises(ValueError, match="bool"):
        model.train("no")


def test_apply_visits_children_before_parents_as_torch():
    ours, theirs = [], []
    build_net(minigan).apply(lambda module: ours.append(type(module).__name__))
    build_net(torch).apply(lambda module: theirs.append(type(module).__name__))
    assert ours == theirs


def test_apply_runs_dcgans_weights_init():
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    minigan.manual_seed(0)
    model = nn.Sequential(nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False), nn.BatchNorm2d(64), nn.ReLU(True))
    model[1].bias.array[...] = 5
    model.apply(weights_init)
    _assert_normal(model[0].weight.array, 0.0, 0.02)
    assert abs(model[1].weight.array.mean() - 1) < 0.02 and not numpy.any(model[1].bias.array)


def test_zero_grad_sets_none_or_zeroes_in_place():
    model = nn.Linear(3, 2)
    model(minigan.randn(4, 3)).sum().backward()
    grad_array = model.weight.grad.array
    model.zero_grad(set_to_none=False)
    assert model.weight.grad.array is grad_array and not numpy.any(grad_array)
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_requires_grad_freezes_and_unfreezes_parameters():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    assert not any(p.requires_grad for p in model.requires_grad_(False).parameters())
    assert all(p.requires_grad for p in model.requires_grad_().parameters())


def test_to_converts_floating_parameters_buffers_and_gradients_but_not_integer_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(minigan.randn(4, 3)).sum().backward()
    assert model.double() is model
    for tensor in [*model.parameters(), model[1].running_mean, model[1].running_var]:
        assert tensor.dtype == numpy.float64
    assert all(p.grad.dtype == numpy.float64 for p in model.parameters())
    assert model[1].num_batches_tracked.dtype == numpy.int64
    assert model.to(minigan.float32)[0].weight.dtype == numpy.float32
    assert model.to("cpu", minigan.float64).float()[1].running_var.dtype == numpy.float32
    assert model.to("numpy").cpu() is model
    with pytest.raises(ValueError, match="unknown device"):
        model.to("tpu")
    with pytest.raises(TypeError, match="floating-point"):
        model.to(minigan.int64)


def test_attribute_assignment_registers_and_guards():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(minigan.zeros(2))
            self.layer = nn.Linear(2, 2)
            self.note = "plain attributes stay plain"

    model = Model()
    assert [name for name, _ in model.named_parameters()] == ["weight", "layer.weight", "layer.bias"]
    assert model.note == "plain attributes stay plain" and "note" not in model.state_dict()
    with pytest.raises(TypeError, match="'weight'"):
        model.weight = minigan.zeros(2)  # a plain tensor where a Parameter is registered
    model.weight = None
    assert [name for name, _ in model.named_parameters()] == ["layer.weight", "layer.bias"]
    del model.layer
    assert list(model.state_dict()) == []
    with pytest.raises(AttributeError, match="'Model' object has no attribute 'layer'"):
        model.layer

    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgetful()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(minigan.zeros(1))


def test_sequential_indexes_slices_and_iterates_as_torch():
    build = lambda nn: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Tanh())
    ours, theirs = build(nn), build(torch.nn)
    assert len(ours) == 4 and [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert ours[-1] is list(ours)[3] and ours[0] is ours._modules["0"]
    assert repr(ours[1:3]) == repr(theirs[1:3]) and repr(ours[::-2]) == repr(theirs[::-2])
    assert ours[1:3][0] is ours[1]
    ours[1] = nn.LeakyReLU(0.2)
    assert isinstance(ours[1], nn.LeakyReLU)
    assert len(ours.append(nn.Sigmoid())) == 5
    with pytest.raises(IndexError, match="out of range"):
        ours[5]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Linear(2, 2), minigan.zeros(2))


# --------------------------------------------------------------------------------------------
# Clear errors that name the layer and the shapes
# --------------------------------------------------------------------------------------------
def test_linear_fed_images_says_so_and_suggests_flatten():
    with pytest.raises(ValueError) as error:
        nn.Linear(784, 256)(minigan.zeros(2, 1, 28, 28))
    message = str(error.value)
    for part in ["Linear(in_features=784, out_features=256, bias=True)", "(2, 1, 28, 28)", "Flatten", "784 features"]:
        assert part in message
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(3, 2)(minigan.zeros(1, 3, dtype=minigan.float64))


def test_layers_name_themselves_and_the_shapes_on_bad_input():
    cases = [
        (nn.Conv2d(3, 8, 3), minigan.zeros(2, 1, 8, 8), ["Conv2d(3, 8", "in_channels=3", "(2, 1, 8, 8)"]),
        (nn.Conv2d(1, 8, 3), minigan.zeros(2, 784), ["(2, 784)", "Unflatten"]),
        (nn.ConvTranspose2d(100, 8, 4), minigan.zeros(2, 10, 1, 1), ["ConvTranspose2d(100, 8", "(2, 10, 1, 1)"]),
        (nn.BatchNorm2d(4), minigan.zeros(2, 4), ["BatchNorm2d(4", "(N, C, H, W)", "(2, 4)"]),
        (nn.BatchNorm1d(4), minigan.zeros(2, 3), ["BatchNorm1d(4", "4 channels", "(2, 3)"]),
        (nn.InstanceNorm2d(4, affine=True), minigan.zeros(2, 3, 4, 4), ["InstanceNorm2d(4", "(2, 3, 4, 4)"]),
        (nn.LayerNorm(5), minigan.zeros(2, 4), ["LayerNorm((5,)", "(2, 4)"]),
        (nn.Unflatten(1, (1, 28, 28)), minigan.zeros(2, 700), ["Unflatten", "(2, 700)", "(1, 28, 28)"]),
    ]
    for layer, bad_input, parts in cases:
        with pytest.raises(ValueError) as error:
            layer(bad_input)
        for part in parts:
            assert part in str(error.value), (part, str(error.value))
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        nn.Embedding(10, 2)(minigan.tensor([3, 10]))
    with pytest.raises(ValueError, match="groups=3 must be a positive int dividing"):
        nn.Conv2d(4, 4, 3, groups=3)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")


def test_deepcopy_gives_an_independent_module():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    clone = copy.deepcopy(model)
    assert repr(clone) == repr(model) and clone[0].weight is not model[0].weight
    numpy.testing.assert_array_equal(clone[0].weight.array, model[0].weight.array)
    assert not numpy.shares_memory(clone[0].weight.array, model[0].weight.array)


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): training steps and eval, running statistics included
# --------------------------------------------------------------------------------------------
def host(tensor):
    return tensor.detach().numpy()


def assert_step_on_cuda_matches(ours, theirs, array, seed):
    """One forward and backward on 'cuda' against torch: output, input and parameter gradients."""
    ours.zero_grad()
    theirs.zero_grad()
    floating = array.dtype.kind == "f"
    x = minigan.tensor(array, requires_grad=floating, device="cuda")
    their_x = torch.tensor(array, requires_grad=floating)
    output, their_output = ours(x), theirs(their_x)
    assert output.device == "cuda"
    assert_close(host(output), host(their_output), what="output")
    incoming = numpy.random.default_rng(1000 + seed).standard_normal(tuple(their_output.shape))
    output.backward(minigan.tensor(incoming, device="cuda"))
    their_output.backward(torch.tensor(incoming))
    assert_close(x.grad.numpy(), their_x.grad.numpy(), what="input gradient")
    assert_same_gradients(ours.cpu(), theirs)
    ours.cuda()


@pytest.mark.parametrize("build, shape", LAYERS)
@pytest.mark.usefixtures("standin_cuda")
def test_layer_on_cuda_matches_torch_while_training_and_in_eval(build, shape):
    ours, theirs = twins(build)
    ours.cuda()
    rng = numpy.random.default_rng(0)
    if not isinstance(ours, minigan.nn.Dropout):  # its random mask differs from torch's
        for step in range(3):
            assert_step_on_cuda_matches(ours, theirs, rng.normal(1.0, 2.0, shape), seed=step)
    ours.eval()
    theirs.eval()
    assert_step_on_cuda_matches(ours, theirs, rng.normal(1.0, 2.0, shape), seed=3)
    assert_same_state(ours.cpu(), theirs)
