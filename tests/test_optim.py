"""Adam and SGD against torch.optim: the same gradients give the same parameters (float64, 1e-10)."""
import math

import numpy
import pytest
from parity import assert_close, torch

import minigan
import minigan.optim
from minigan.optim import SGD, Adam, AdamW, RMSprop
from minigan.serialization import load, save

SHAPES = [(4, 3), (4,), (), (2, 3, 2)]  # a 0-d parameter included
STEPS = 20


def make_params(seed=0, shapes=SHAPES):
    """The same random starting values as minigan and as torch float64 parameters."""
    rng = numpy.random.default_rng(seed)
    values = [rng.standard_normal(shape) for shape in shapes]
    return ([minigan.tensor(value, requires_grad=True) for value in values],
            [torch.tensor(value, requires_grad=True) for value in values])


def set_grads(ours, theirs, rng, skip=()):
    """Give both sets of parameters the same random gradient; parameters in `skip` get none."""
    for i, (mine, twin) in enumerate(zip(ours, theirs)):
        if i in skip:
            mine.grad = twin.grad = None
        else:
            grad = rng.standard_normal(mine.shape)
            mine.grad, twin.grad = minigan.tensor(grad), torch.tensor(grad)


def assert_params_match(ours, theirs):
    for i, (mine, twin) in enumerate(zip(ours, theirs)):
        assert_close(mine.array, twin.detach().numpy(), what=f"parameter {i}")


def run_both(make_ours, make_theirs, steps=STEPS, skipped=lambda step: ()):
    """Step a minigan and a torch optimizer side by side on the same random gradients."""
    ours, theirs = make_params()
    our_optimizer, their_optimizer = make_ours(ours), make_theirs(theirs)
    rng = numpy.random.default_rng(1)
    for step in range(steps):
        set_grads(ours, theirs, rng, skip=skipped(step))
        our_optimizer.step()
        their_optimizer.step()
        assert_params_match(ours, theirs)
    return our_optimizer, their_optimizer


def groups(params, *options):
    """Split params into consecutive parameter groups, one per options dict."""
    return [{"params": params[i::len(options)], **option} for i, option in enumerate(options)]


ADAM_CASES = {
    "defaults": {},
    "weight_decay": {"lr": 0.01, "weight_decay": 0.1},
    "amsgrad": {"lr": 0.05, "betas": (0.8, 0.99), "amsgrad": True},
    "amsgrad_weight_decay_eps": {"lr": 0.05, "eps": 1e-3, "weight_decay": 0.05, "amsgrad": True},
}
SGD_CASES = {
    "plain": {"lr": 0.1},
    "momentum": {"lr": 0.1, "momentum": 0.9},
    "nesterov": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "dampening": {"lr": 0.1, "momentum": 0.8, "dampening": 0.3},
    "weight_decay": {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01},
    "all_but_nesterov": {"lr": 0.02, "momentum": 0.7, "dampening": 0.1, "weight_decay": 0.2},
}


RMSPROP_CASES = {
    "defaults": {},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "centered": {"lr": 0.01, "alpha": 0.9, "centered": True},
    "centered_momentum_weight_decay": {"lr": 0.005, "momentum": 0.5, "centered": True, "weight_decay": 0.1,
                                       "eps": 1e-4},
    "alpha_below_half": {"lr": 0.01, "alpha": 0.3, "centered": True},  # torch's other lerp
}
ADAMW_CASES = {
    "defaults": {},
    "weight_decay_amsgrad": {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True, "betas": (0.0, 0.9)},
}


# -- parity with torch -------------------------------------------------------------------------
@pytest.mark.parametrize("options", RMSPROP_CASES.values(), ids=RMSPROP_CASES.keys())
def test_rmsprop_matches_torch_for_20_steps(options):
    run_both(lambda p: RMSprop(p, **options), lambda p: torch.optim.RMSprop(p, **options))


@pytest.mark.parametrize("options", ADAMW_CASES.values(), ids=ADAMW_CASES.keys())
def test_adamw_matches_torch_for_20_steps(options):
    run_both(lambda p: AdamW(p, **options), lambda p: torch.optim.AdamW(p, **options))


@pytest.mark.parametrize("name, options", [("RMSprop", {"momentum": 0.9, "centered": True}), ("AdamW", {})])
def test_new_optimizers_state_dicts_have_torchs_layout_and_resume_from_torchs(name, options):
    ours, theirs = make_params()
    our_optimizer, their_optimizer = getattr(minigan.optim, name)(ours, **options), getattr(torch.optim, name)(
        theirs, **options)
    rng = numpy.random.default_rng(3)
    for _ in range(3):
        set_grads(ours, theirs, rng)
        our_optimizer.step(), their_optimizer.step()
    ours_state, theirs_state = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert {k: sorted(v) for k, v in ours_state["state"].items()} == {k: sorted(v) for k, v in theirs_state["state"].items()}
    resumed = getattr(minigan.optim, name)([minigan.tensor(t.detach().numpy(), requires_grad=True) for t in theirs],
                                           **options)
    resumed.load_state_dict({"state": {i: {k: v.numpy() for k, v in state.items()}
                                       for i, state in theirs_state["state"].items()},
                             "param_groups": theirs_state["param_groups"]})
    set_grads(resumed.param_groups[0]["params"], theirs, rng)
    resumed.step(), their_optimizer.step()
    assert_params_match(resumed.param_groups[0]["params"], theirs)


SCHEDULES = {
    "StepLR": (lambda lib, o: lib.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    "MultiStepLR": (lambda lib, o: lib.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": (lambda lib, o: lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    "LambdaLR": (lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, lambda epoch: 1 / (1 + epoch))),
    "CosineAnnealingLR": (lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.001)),
    "LinearLR": (lambda lib, o: lib.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=6)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_set_torchs_learning_rates_bit_for_bit_and_resume(name):
    make = SCHEDULES[name]
    ours, theirs = make_params()
    our_optimizer = SGD(groups(ours, {"lr": 0.1}, {"lr": 0.03}), lr=0.1)
    their_optimizer = torch.optim.SGD(groups(theirs, {"lr": 0.1}, {"lr": 0.03}), lr=0.1)
    our_schedule, their_schedule = make(minigan, our_optimizer), make(torch, their_optimizer)
    for epoch in range(14):
        assert our_schedule.get_last_lr() == their_schedule.get_last_lr(), f"epoch {epoch}"
        assert [g["lr"] for g in our_optimizer.param_groups] == [g["lr"] for g in their_optimizer.param_groups]
        our_optimizer.step(), their_optimizer.step()
        our_schedule.step(), their_schedule.step()
        if epoch == 6:  # a resume from the saved state continues the same sequence
            saved = our_schedule.state_dict()
            our_schedule = make(minigan, our_optimizer)
            our_schedule.load_state_dict(saved)
            for group, lr in zip(our_optimizer.param_groups, saved["_last_lr"]):
                group["lr"] = lr

@pytest.mark.parametrize("options", ADAM_CASES.values(), ids=ADAM_CASES.keys())
def test_adam_matches_torch_for_20_steps(options):
    run_both(lambda p: Adam(p, **options), lambda p: torch.optim.Adam(p, **options))


@pytest.mark.parametrize("options", SGD_CASES.values(), ids=SGD_CASES.keys())
def test_sgd_matches_torch_for_20_steps(options):
    run_both(lambda p: SGD(p, **options), lambda p: torch.optim.SGD(p, **options))


def test_adam_with_two_parameter_groups_matches_torch():
    first = {"lr": 0.02, "betas": (0.5, 0.999)}
    second = {"weight_decay": 0.1, "amsgrad": True}
    run_both(lambda p: Adam(groups(p, first, second), lr=0.005),
             lambda p: torch.optim.Adam(groups(p, first, second), lr=0.005))


def test_sgd_with_two_parameter_groups_matches_torch():
    first = {"momentum": 0.9, "nesterov": True}
    second = {"lr": 0.3, "dampening": 0.5, "momentum": 0.5}
    run_both(lambda p: SGD(groups(p, first, second), lr=0.1),
             lambda p: torch.optim.SGD(groups(p, first, second), lr=0.1))


def every_third(step):
    """Parameters without a gradient at a step: none at first, then a changing subset."""
    return () if step < 3 else {i for i in range(len(SHAPES)) if (step + i) % 3 == 0}


@pytest.mark.parametrize("name, options", [
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2}),
], ids=["adam", "sgd"])
def test_parameters_without_grad_are_skipped_as_torch_does(name, options):
    # A parameter that has no .grad at a step is left alone: no update, its step count and
    # moments frozen, so later steps use per-parameter bias corrections.
    ours, theirs = run_both(lambda p: getattr(minigan.optim, name)(p, **options),
                            lambda p: getattr(torch.optim, name)(p, **options), skipped=every_third)
    assert_state_matches(ours.state_dict(), theirs.state_dict())


def test_a_parameter_that_never_gets_a_gradient_is_unchanged_and_has_no_state():
    ours, theirs = run_both(lambda p: Adam(p, lr=0.1), lambda p: torch.optim.Adam(p, lr=0.1),
                            steps=3, skipped=lambda step: {1})
    assert 1 not in ours.state_dict()["state"]
    assert sorted(ours.state_dict()["state"]) == sorted(theirs.state_dict()["state"])


def test_adam_on_a_quadratic_loss_through_backward_matches_torch():
    rng = numpy.random.default_rng(2)
    inputs, targets = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    ours, theirs = make_params(shapes=[(4, 3), (3,)])
    our_optimizer = Adam(ours, lr=0.05, weight_decay=0.01)
    their_optimizer = torch.optim.Adam(theirs, lr=0.05, weight_decay=0.01)
    for _ in range(STEPS):
        for (weight, bias), to_tensor, optimizer in ((ours, minigan.tensor, our_optimizer),
                                                     (theirs, torch.tensor, their_optimizer)):
            optimizer.zero_grad()
            loss = ((to_tensor(inputs) @ weight + bias - to_tensor(targets)) ** 2).mean()
            loss.backward()
            optimizer.step()
        assert_params_match(ours, theirs)


def assert_state_matches(ours, theirs):
    """Same state indices and entries, equal values; our options equal theirs where both have them."""
    assert list(ours["state"]) == list(theirs["state"])
    for index, state in ours["state"].items():
        assert list(state) == list(theirs["state"][index]), f"state entries of parameter {index}"
        for name, value in state.items():
            assert_close(value.array, theirs["state"][index][name].numpy(), what=f"state {index} {name}")
    for mine, twin in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert mine == {key: twin[key] for key in mine}


def test_state_dict_has_torchs_layout_and_values():
    first, second = {"lr": 0.01}, {"amsgrad": True}
    ours, theirs = run_both(lambda p: Adam(groups(p, first, second)),
                            lambda p: torch.optim.Adam(groups(p, first, second)), steps=5)
    state = ours.state_dict()
    assert state["param_groups"][0]["params"] == [0, 1] and state["param_groups"][1]["params"] == [2, 3]
    assert state["state"][0]["step"].dtype == numpy.float32 and state["state"][0]["step"].item() == 5
    assert_state_matches(state, theirs.state_dict())


# -- checkpoints: save, load, resume -----------------------------------------------------------
def random_grads(params, rng):
    for param in params:
        param.grad = minigan.tensor(rng.standard_normal(param.shape))


@pytest.mark.parametrize("make_optimizer", [
    lambda p: Adam(groups(p, {"lr": 0.02}, {"amsgrad": True, "weight_decay": 0.1})),
    lambda p: SGD(groups(p, {"momentum": 0.9, "nesterov": True}, {"momentum": 0.5, "dampening": 0.1}), lr=0.1),
], ids=["adam", "sgd"])
def test_resuming_from_a_saved_state_dict_equals_uninterrupted_training(tmp_path, make_optimizer):
    def train(params, optimizer, rng, steps):
        for _ in range(steps):
            random_grads(params, rng)
            optimizer.step()

    uninterrupted, _ = make_params()
    train(uninterrupted, make_optimizer(uninterrupted), numpy.random.default_rng(5), 2 * 10)

    params, _ = make_params()
    optimizer, rng = make_optimizer(params), numpy.random.default_rng(5)
    train(params, optimizer, rng, 10)
    save({"params": params, "optimizer": optimizer.state_dict()}, tmp_path / "checkpoint.npz")
    del params, optimizer

    checkpoint = load(tmp_path / "checkpoint.npz")
    resumed = [minigan.tensor(param.array, requires_grad=True) for param in checkpoint["params"]]
    optimizer = make_optimizer(resumed)
    optimizer.load_state_dict(checkpoint["optimizer"])
    train(resumed, optimizer, rng, 10)
    for mine, reference in zip(resumed, uninterrupted):
        numpy.testing.assert_array_equal(mine.array, reference.array)  # bit for bit


def test_load_state_dict_accepts_torchs_state_dict_as_arrays():
    _, their_optimizer = run_both(lambda p: Adam(p, lr=0.05, amsgrad=True),
                                  lambda p: torch.optim.Adam(p, lr=0.05, amsgrad=True), steps=4)
    torch_state = their_optimizer.state_dict()
    as_arrays = {"state": {index: {name: value.numpy() for name, value in entry.items()}
                           for index, entry in torch_state["state"].items()},
                 "param_groups": torch_state["param_groups"]}
    ours, theirs = make_params()
    with torch.no_grad():
        for twin, mine in zip(theirs, ours):
            twin.copy_(torch.tensor(mine.array))
    our_optimizer = Adam(ours)
    our_optimizer.load_state_dict(as_arrays)
    their_optimizer = torch.optim.Adam(theirs)
    their_optimizer.load_state_dict(torch_state)
    rng = numpy.random.default_rng(9)
    for _ in range(5):
        set_grads(ours, theirs, rng)
        our_optimizer.step()
        their_optimizer.step()
    assert_params_match(ours, theirs)


def test_load_state_dict_copies_instead_of_sharing():
    params, _ = make_params()
    optimizer = Adam(params)
    for param in params:
        param.grad = minigan.ones_like(param)
    optimizer.step()
    saved = optimizer.state_dict()
    before = saved["state"][0]["exp_avg"].array.copy()
    other_params, _ = make_params()
    other = Adam(other_params)
    other.load_state_dict(saved)
    optimizer.step()
    numpy.testing.assert_array_equal(other.state_dict()["state"][0]["exp_avg"].array, before)


# -- zero_grad, replaced data, the graph ---------------------------------------------------------
def test_zero_grad_sets_gradients_to_none_by_default():
    params, _ = make_params()
    optimizer = SGD(params, lr=0.1)
    for param in params:
        param.grad = minigan.ones_like(param)
    optimizer.zero_grad()
    assert all(param.grad is None for param in params)


def test_zero_grad_without_set_to_none_zeroes_in_place():
    params, _ = make_params()
    optimizer = SGD(params, lr=0.1)
    params[0].grad = minigan.ones_like(params[0])
    grad_array = params[0].grad.array
    optimizer.zero_grad(set_to_none=False)
    assert params[0].grad.array is grad_array and not grad_array.any()
    assert params[1].grad is None  # a missing gradient stays missing


def test_zero_grad_without_set_to_none_detaches_a_differentiable_gradient():
    params, _ = make_params(shapes=[(3,)])
    (params[0] ** 3).sum().backward(create_graph=True)
    graph_grad = params[0].grad
    SGD(params, lr=0.1).zero_grad(set_to_none=False)
    assert params[0].grad is not graph_grad and params[0].grad.grad_fn is None
    assert not params[0].grad.array.any() and graph_grad.array.any()


def test_step_runs_outside_the_graph():
    params, _ = make_params(shapes=[(3,)])
    (params[0] ** 2).sum().backward()
    Adam(params, lr=0.1).step()
    assert params[0].is_leaf and params[0].requires_grad and params[0].grad_fn is None


def test_replacing_a_parameters_data_is_noticed():
    # e.g. weights loaded by assigning .array: the optimizer must update the new array.
    ours, theirs = make_params()
    our_optimizer, their_optimizer = Adam(ours, lr=0.1), torch.optim.Adam(theirs, lr=0.1)
    rng = numpy.random.default_rng(3)
    for step in range(6):
        if step == 3:
            ours[1].array = ours[1].array * 2
            with torch.no_grad():
                theirs[1].mul_(2)
        set_grads(ours, theirs, rng)
        our_optimizer.step()
        their_optimizer.step()
    assert_params_match(ours, theirs)


def test_changing_every_parameters_dtype_keeps_the_optimizer_working():
    # model.float() after the optimizer was built: the views and the state follow the new dtype.
    params, _ = make_params()
    reference, _ = make_params()
    optimizer, reference_optimizer = Adam(params, lr=0.1), Adam(reference, lr=0.1)
    for step in range(3):
        if step == 1:
            for param in params:
                param.array = param.array.astype(numpy.float32)
        random_grads(params, numpy.random.default_rng(step))
        random_grads(reference, numpy.random.default_rng(step))
        optimizer.step()
        reference_optimizer.step()
    assert all(param.dtype == numpy.float32 for param in params)
    assert optimizer.state_dict()["state"][0]["exp_avg"].dtype == numpy.float32
    for mine, twin in zip(params, reference):
        assert_close(mine.array, twin.data, rtol=1e-5, what="float32 parameter")


def test_closure_is_evaluated_with_grad_and_its_loss_returned():
    params, _ = make_params(shapes=[(3,)])
    optimizer = SGD(params, lr=0.1)

    def closure():
        optimizer.zero_grad()
        loss = (params[0] ** 2).sum()
        loss.backward()
        return loss

    with minigan.no_grad():
        loss = optimizer.step(closure)
    assert loss.item() > 0 and params[0].grad is not None


def test_group_options_can_be_changed_between_steps():
    ours, theirs = make_params()
    our_optimizer, their_optimizer = SGD(ours, lr=0.1, momentum=0.9), torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    rng = numpy.random.default_rng(6)
    for step in range(6):
        if step == 3:  # as a learning-rate schedule does
            our_optimizer.param_groups[0]["lr"] = their_optimizer.param_groups[0]["lr"] = 0.01
        set_grads(ours, theirs, rng)
        our_optimizer.step()
        their_optimizer.step()
    assert_params_match(ours, theirs)


def test_repr_lists_each_group_and_its_options():
    params, _ = make_params()
    text = repr(Adam(groups(params, {"lr": 0.5}, {})))
    assert text.startswith("Adam (") and "Parameter Group 1" in text and "lr: 0.5" in text


# -- errors ---------------------------------------------------------------------------------------
def one_param():
    return [minigan.zeros(3, requires_grad=True)]


@pytest.mark.parametrize("build, error, message", [
    (lambda: Adam([]), ValueError, "optimizer got an empty parameter list"),
    (lambda: SGD(iter([])), ValueError, "optimizer got an empty parameter list"),
    (lambda: Adam([numpy.zeros(3)]), TypeError, "can only optimize Tensors"),
    (lambda: Adam(minigan.zeros(3, requires_grad=True)), TypeError, "single Tensor"),
    (lambda: Adam(set(one_param())), TypeError, "set"),
    (lambda: Adam(one_param() * 2), ValueError, "more than once"),
    (lambda: Adam([minigan.zeros(3, requires_grad=True) * 2]), ValueError, "leaf"),
    (lambda: Adam([minigan.zeros(3, dtype=numpy.int64)]), TypeError, "floating-point"),
    (lambda: Adam(one_param(), lr=-1e-3), ValueError, "learning rate"),
    (lambda: Adam(one_param(), betas=(1.0, 0.999)), ValueError, "beta parameter at index 0"),
    (lambda: Adam(one_param(), betas=(0.9, -0.1)), ValueError, "beta parameter at index 1"),
    (lambda: Adam(one_param(), eps=-1.0), ValueError, "eps"),
    (lambda: Adam(one_param(), weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda: Adam([{"params": one_param(), "lr": -1.0}]), ValueError, "learning rate"),
    (lambda: Adam([{"params": []}]), ValueError, "group 0 has an empty parameter list"),
    (lambda: Adam([{"lr": 0.1}]), TypeError, "'params'"),
    (lambda: SGD(one_param(), lr=-0.1), ValueError, "learning rate"),
    (lambda: SGD(one_param(), momentum=-0.9), ValueError, "momentum"),
    (lambda: SGD(one_param(), nesterov=True), ValueError, "Nesterov"),
    (lambda: SGD(one_param(), momentum=0.9, dampening=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda: Adam([minigan.zeros(2, requires_grad=True), minigan.zeros(2, dtype=numpy.float64, requires_grad=True)]),
     TypeError, "share a dtype"),
])
def test_misuse_raises_a_clear_error(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_a_gradient_of_the_wrong_shape_is_refused():
    params = one_param()
    optimizer = Adam(params)
    params[0].grad = minigan.zeros(4)
    with pytest.raises(ValueError, match=r"shape \(3,\).*\.grad of shape \(4,\)"):
        optimizer.step()


def test_loading_a_state_dict_for_other_groups_is_refused():
    params, _ = make_params()
    two_groups = Adam(groups(params, {}, {})).state_dict()
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        Adam(make_params()[0]).load_state_dict(two_groups)
    with pytest.raises(ValueError, match=r"\[4\] parameters, this optimizer's have \[3\]"):
        Adam(make_params()[0][:3]).load_state_dict(Adam(make_params()[0]).state_dict())


def test_loading_adam_state_into_sgd_is_refused():
    params, _ = make_params()
    adam = Adam(params)
    random_grads(params, numpy.random.default_rng(0))
    adam.step()
    state = adam.state_dict()
    state["param_groups"][0].update(momentum=0.9, dampening=0, nesterov=False)
    with pytest.raises(ValueError, match="'step', which SGD does not keep"):
        SGD(make_params()[0], momentum=0.9).load_state_dict(state)


def test_a_state_dict_that_does_not_fit_is_refused_and_changes_nothing():
    params, _ = make_params()
    optimizer = Adam(params, lr=0.1)
    random_grads(params, numpy.random.default_rng(0))
    optimizer.step()
    before = optimizer.state_dict()
    before = {"state": {index: {name: value.array.copy() for name, value in entry.items()}
                        for index, entry in before["state"].items()},
              "param_groups": before["param_groups"]}
    bad = optimizer.state_dict()
    bad["state"] = {**bad["state"], 3: {**bad["state"][3], "exp_avg": numpy.zeros(5)}}
    bad["param_groups"] = [{**bad["param_groups"][0], "lr": 0.5}]
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 3 has shape \(5,\), the parameter has shape"):
        optimizer.load_state_dict(bad)
    after = optimizer.state_dict()
    assert after["param_groups"][0]["lr"] == 0.1
    for index, entry in before["state"].items():
        for name, value in entry.items():
            numpy.testing.assert_array_equal(after["state"][index][name].array, value)


def test_a_torch_state_dict_using_options_minigan_lacks_is_refused():
    _, theirs = make_params()
    state = torch.optim.Adam(theirs, maximize=True).state_dict()
    with pytest.raises(ValueError, match=r"\['maximize'\], which minigan's Adam does not implement"):
        Adam(make_params()[0]).load_state_dict(state)


# --------------------------------------------------------------------------------------------
# On 'cuda' (the stand-in device): flat buffers on the device
# --------------------------------------------------------------------------------------------
def host(tensor):
    return tensor.detach().numpy()


DEVICE_SHAPES = [(4, 3), (4,), (), (2, 3, 2)]


def run_optimizers_on_cuda(make_ours, make_theirs, steps=6, skipped=lambda step: ()):
    """Step a minigan optimizer over parameters on 'cuda' and a torch one side by side."""
    rng = numpy.random.default_rng(0)
    values = [rng.standard_normal(shape) for shape in DEVICE_SHAPES]
    ours = [minigan.tensor(value, requires_grad=True, device="cuda") for value in values]
    theirs = [torch.tensor(value, requires_grad=True) for value in values]
    our_optimizer, their_optimizer = make_ours(ours), make_theirs(theirs)
    for step in range(steps):
        for i, (mine, twin) in enumerate(zip(ours, theirs)):
            grad = rng.standard_normal(mine.shape)
            mine.grad = None if i in skipped(step) else minigan.tensor(grad, device="cuda")
            twin.grad = None if i in skipped(step) else torch.tensor(grad)
        our_optimizer.step()
        their_optimizer.step()
        for i, (mine, twin) in enumerate(zip(ours, theirs)):
            assert mine.device == "cuda"
            assert_close(host(mine), host(twin), what=f"parameter {i} after step {step}")
    return ours, our_optimizer


@pytest.mark.parametrize("options", ADAM_CASES.values(), ids=ADAM_CASES.keys())
@pytest.mark.usefixtures("standin_cuda")
def test_adam_on_cuda_matches_torch(options):
    run_optimizers_on_cuda(lambda p: Adam(p, **options), lambda p: torch.optim.Adam(p, **options))


@pytest.mark.parametrize("options", SGD_CASES.values(), ids=SGD_CASES.keys())
@pytest.mark.usefixtures("standin_cuda")
def test_sgd_on_cuda_matches_torch(options):
    run_optimizers_on_cuda(lambda p: SGD(p, **options), lambda p: torch.optim.SGD(p, **options))


@pytest.mark.usefixtures("standin_cuda")
def test_optimizers_on_cuda_skip_parameters_without_gradients_as_torch():
    options = {"lr": 0.05, "amsgrad": True}
    run_optimizers_on_cuda(lambda p: Adam(p, **options), lambda p: torch.optim.Adam(p, **options), steps=8,
                           skipped=every_third)


@pytest.mark.usefixtures("standin_cuda")
def test_adam_on_cuda_resumes_from_a_checkpoint_exactly(tmp_path):
    """Optimizer state saved from the device, loaded from the host file back onto the device."""
    def run(steps, resume_from=None):
        params = [minigan.tensor(numpy.ones(shape), requires_grad=True, device="cuda") for shape in DEVICE_SHAPES]
        optimizer = Adam(params, lr=0.1, amsgrad=True)
        if resume_from is not None:
            state = minigan.load(resume_from)
            for param, value in zip(params, state["params"]):
                param.array[...] = minigan.tensor(value, device="cuda").array
            optimizer.load_state_dict(state["optimizer"])
        for step in range(steps):
            for i, param in enumerate(params):
                param.grad = minigan.full(param.shape, math.sin(step + i), dtype=minigan.float64, device="cuda")
            optimizer.step()
        return params, optimizer

    params, optimizer = run(3)
    minigan.save({"params": params, "optimizer": optimizer.state_dict()}, tmp_path / "state.npz")
    resumed, _ = run(0, resume_from=tmp_path / "state.npz")
    assert all(type(value.array) is numpy.ndarray
               for value in minigan.load(tmp_path / "state.npz")["optimizer"]["state"][0].values())
    for mine, reference in zip(resumed, params):
        numpy.testing.assert_array_equal(host(mine), host(reference))
